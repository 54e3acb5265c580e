"""Nano bases: list, one, pretrain a new one (a job)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException

from ttt.api.deps import Jobs, Store
from ttt.api.models.bases import BaseCreate, BaseDetail, BaseInfo, BaseList
from ttt.api.models.common import ERROR_RESPONSES
from ttt.api.models.jobs import Job
from ttt.nano import base as nano_base
from ttt.store import NotFoundError, new_id, read_json, read_jsonl, validate_id

router = APIRouter(prefix="/api/bases", tags=["bases"], responses=ERROR_RESPONSES)


@router.get("", response_model=BaseList)
def list_bases(store: Store) -> BaseList:
    items = [BaseInfo.model_validate(m) for m in nano_base.list_bases(store)]
    return BaseList(items=items, total=len(items))


@router.get("/{base_id}", response_model=BaseDetail)
def get_base(base_id: str, store: Store) -> BaseDetail:
    d = store.item_dir("base", validate_id(base_id, what="base id"))
    if not (d / "meta.json").is_file():
        raise NotFoundError(f"base {base_id!r} not found")
    meta = read_json(d / "meta.json")
    log_path = d / "pretrain_log.jsonl"
    log = read_jsonl(log_path) if log_path.is_file() else []
    return BaseDetail.model_validate({**meta, "pretrain_log": log})


@router.post("", response_model=Job, status_code=202)
def pretrain(body: BaseCreate, store: Store, jobs: Jobs) -> Job:
    """Pretrain a new base as a job (result: {base_id})."""
    base_id = validate_id(body.base_id, what="base id") if body.base_id else new_id("base")
    if store.exists("base", base_id):
        raise HTTPException(409, f"base {base_id!r} already exists; bases are never overwritten")
    params = {"preset": body.preset, "seed": body.seed, "base_id": base_id}
    return Job.model_validate(jobs.submit("pretrain_base", params, claim=("base", base_id)))
