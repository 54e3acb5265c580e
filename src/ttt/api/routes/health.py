"""GET /api/health."""

from __future__ import annotations

from fastapi import APIRouter

from ttt import __version__
from ttt.api.deps import Store
from ttt.api.models.common import Health

router = APIRouter(prefix="/api", tags=["health"])


@router.get("/health", response_model=Health)
def health(store: Store) -> Health:
    root = store.root
    return Health(status="ok", version=__version__, artifacts_root=str(root))
