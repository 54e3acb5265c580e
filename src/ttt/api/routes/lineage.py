"""GET /api/lineage: the fork tree of all sessions."""

from __future__ import annotations

from fastapi import APIRouter

from ttt.api.deps import Store
from ttt.api.models.sessions import Lineage
from ttt.api.readers import lineage
from ttt.nano import session as nano_session

router = APIRouter(prefix="/api", tags=["sessions"])


@router.get("/lineage", response_model=Lineage)
def get_lineage(store: Store) -> Lineage:
    items, _ = nano_session.list_sessions(store)
    nodes, roots = lineage(items)
    return Lineage.model_validate({"nodes": nodes, "roots": roots})
