"""Sweeps: list, one (config + rows), start one (a job)."""

from __future__ import annotations

import inspect
from typing import Any

from fastapi import APIRouter, HTTPException

from ttt.api.deps import Jobs, Store
from ttt.api.errors import user_config
from ttt.api.models.common import ERROR_RESPONSES
from ttt.api.models.jobs import Job
from ttt.api.models.sweeps import SweepCreate, SweepDetail, SweepList, SweepSummary
from ttt.nano.base import latest_base_id
from ttt.nano.config import PlasticityConfig, apply_overrides
from ttt.nano.env import EnvConfig
from ttt.nano.sweep import mu_grid, run_sweep
from ttt.store import ArtifactStore, NotFoundError, StoreError, new_id, read_json, validate_id

router = APIRouter(prefix="/api/sweeps", tags=["sweeps"], responses=ERROR_RESPONSES)
KIND = "sweeps"


def _summary(sweep_id: str, cfg: dict[str, Any]) -> SweepSummary:
    return SweepSummary(
        sweep_id=sweep_id,
        created_at=cfg.get("created_at"),
        status=cfg.get("status"),
        n_sessions=cfg.get("n_sessions"),
        steps=cfg.get("steps"),
        env_modes=list(cfg.get("env_modes") or []),
        config=cfg,
    )


@router.get("", response_model=SweepList)
def list_sweeps(store: Store) -> SweepList:
    items, errors = [], []
    for sid in store.list_ids(KIND):
        p = store.item_dir(KIND, sid) / "sweep.json"
        try:
            items.append(_summary(sid, read_json(p)))
        except StoreError as exc:
            errors.append({"id": sid, "detail": str(exc)})
    items.sort(key=lambda s: (s.created_at or "", s.sweep_id), reverse=True)
    return SweepList(items=items, total=len(items), errors=errors)


@router.get("/{sweep_id}", response_model=SweepDetail)
def get_sweep(sweep_id: str, store: Store) -> SweepDetail:
    d = store.item_dir(KIND, validate_id(sweep_id, what="sweep id"))
    if not (d / "sweep.json").is_file():
        raise NotFoundError(f"sweep {sweep_id!r} not found")
    cfg = read_json(d / "sweep.json")
    rows: list[dict[str, Any]] = []
    if (d / "results.json").is_file():
        res = read_json(d / "results.json")
        rows = list(res.get("rows") or [])
    return SweepDetail(sweep_id=sweep_id, config=cfg, rows=rows)


def _check_sweep(store: ArtifactStore, p: dict[str, Any]) -> None:
    """What ``run_sweep`` builds before it works, built now: a bad request is 422 (404 for an
    unknown base) before a job starts, never a failed job."""
    base_id = p.get("base_id") or latest_base_id(store)
    if base_id is None:
        raise NotFoundError("no Nano base in this artifact root: pretrain one first")
    if not store.exists("base", base_id):
        raise NotFoundError(f"base {base_id!r} not found")
    if "mus" in p:
        grid = list(p["mus"])
        if not grid:
            raise ValueError("mus: give at least one mu (or leave it out for a grid)")
    else:
        defaults = inspect.signature(run_sweep).parameters
        n = p.get("n_sessions", defaults["n_sessions"].default)
        grid = mu_grid(n, tuple(p.get("mu_range", defaults["mu_range"].default)))
    for mode in p.get("env_modes") or ["linear"]:
        for mu in grid:
            EnvConfig(mode=mode, mu=float(mu), obs_noise_std=float(p.get("noise_std", 0.0)))
    with user_config("plasticity_overrides"):
        PlasticityConfig.from_dict(
            apply_overrides(PlasticityConfig().to_dict(), p.get("plasticity_overrides"))
        )


@router.post("", response_model=Job, status_code=202)
def start_sweep(body: SweepCreate, store: Store, jobs: Jobs) -> Job:
    """Run a sweep as a job (result: {sweep_id})."""
    sweep_id = validate_id(body.sweep_id, what="sweep id") if body.sweep_id else new_id("sweep")
    if store.exists(KIND, sweep_id):
        raise HTTPException(409, f"sweep {sweep_id!r} already exists")
    params = {**body.model_dump(exclude_none=True), "sweep_id": sweep_id}
    _check_sweep(store, params)
    return Job.model_validate(jobs.submit("run_sweep", params, claim=(KIND, sweep_id)))
