"""Sleep: start one (a ``sleep`` job), list the candidates it wrote, and read a candidate's
manifest (every memory's audit decision and reasons, before/after metrics, the replay
baseline). A candidate is a text model with status ``sleep_candidate``: it is never used
until someone promotes it (``POST /api/text_models/{id}/promote``; ``/reject`` withdraws it).

The request is checked before the job is queued: the model must be usable (404 / 409), the
named sessions must exist and have been recorded against this model's exact weights, there
must be chat turns to consolidate, a core_path must lie inside the artifact root, and every
SleepConfig value must be valid (422 naming the field).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query

from ttt.api.deps import Ctx, Jobs
from ttt.api.errors import user_config
from ttt.api.models.common import ERROR_RESPONSES, ItemError
from ttt.api.models.jobs import Job
from ttt.api.models.sleep import (
    SleepCandidateDetail,
    SleepCandidateList,
    SleepCandidateSummary,
    SleepDefaults,
    SleepManifest,
    SleepStarted,
    SleepStartRequest,
)
from ttt.api.routes.chat import finite
from ttt.api.routes.text_models import resolve_corpus
from ttt.api.routes.text_runs import read_doc, usable_model
from ttt.models import registry
from ttt.store import (
    ArtifactStore,
    NotFoundError,
    StoreError,
    new_id,
    validate_id,
)

router = APIRouter(prefix="/api/sleep", tags=["sleep"], responses=ERROR_RESPONSES)

JOB_KIND = "sleep"
MANIFEST_FILE = "sleep_manifest.json"


def _cid(candidate_id: str) -> str:
    return validate_id(candidate_id, what="sleep candidate id")


def _num(v: Any) -> float | None:
    ok = isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
    return float(v) if ok else None


def is_sleep_model(store: ArtifactStore, meta: Mapping[str, Any]) -> bool:
    """A model written by sleep: a candidate, or one that was promoted or rejected since."""
    if meta.get("status") == registry.SLEEP_CANDIDATE or meta.get("origin") == "sleep":
        return True
    return (registry.model_dir(store, str(meta["model_id"])) / MANIFEST_FILE).is_file()


def summarize(
    meta: Mapping[str, Any], manifest: Mapping[str, Any], default_id: str | None
) -> SleepCandidateSummary:
    counts = manifest.get("counts") or {}
    metrics = manifest.get("metrics") or {}
    replay = metrics.get("baseline_replay") or {}
    return SleepCandidateSummary(
        candidate_id=str(meta["model_id"]),
        status=meta["status"],
        promoted=bool(meta.get("promoted")),
        rejected=bool(meta.get("rejected")),
        is_default=meta["model_id"] == default_id,
        parent_model_id=manifest.get("parent_model_id") or meta.get("parent_model_id"),
        created_at=manifest.get("created_at") or meta.get("created_at"),
        method=(manifest.get("config") or {}).get("method"),
        sessions=list(manifest.get("sessions") or []),
        memories=int(counts.get("memories") or 0),
        approved=int(counts.get("approved") or 0),
        rejected_memories=int(counts.get("rejected") or 0),
        flagged_written=int(manifest.get("flagged_written") or 0),
        retention_change_pct=_num(metrics.get("retention_change_pct")),
        acquisition_drop_pct=_num(metrics.get("acquisition_drop_pct")),
        replay_retention_change_pct=_num(replay.get("retention_change_pct")),
        replay_acquisition_drop_pct=_num(replay.get("acquisition_drop_pct")),
        seconds=_num(manifest.get("seconds")),
    )


def read_candidate(ctx: Ctx, cid: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(meta.json, sleep_manifest.json) of a model written by sleep; 404 for any other."""
    meta = registry.read_meta(ctx.store, cid)
    path = registry.model_dir(ctx.store, cid) / MANIFEST_FILE
    if not path.is_file():
        raise NotFoundError(
            f"text model {cid!r} is not a sleep candidate (it has no {MANIFEST_FILE})"
        )
    return meta, read_doc(ctx.files, path, f"sleep candidate {cid!r}")


# ---------------------------------------------------------------------------- reads


@router.get("", response_model=SleepCandidateList)
def list_sleep_candidates(
    ctx: Ctx,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> SleepCandidateList:
    """Models written by sleep (candidates, and those promoted or rejected since), newest
    first, with their manifest's figures."""
    store = ctx.store
    default_id = registry.default_model_id(store)
    items: list[SleepCandidateSummary] = []
    errors: list[ItemError] = []
    for mid in store.list_ids(registry.KIND):
        try:
            meta = registry.read_meta(store, mid)
            if not is_sleep_model(store, meta):
                continue
            meta, manifest = read_candidate(ctx, mid)
            items.append(summarize(meta, finite(manifest), default_id))
        except StoreError as exc:
            errors.append(ItemError(id=mid, detail=str(exc)))
    items.sort(key=lambda s: (s.created_at or "", s.candidate_id), reverse=True)
    return SleepCandidateList(items=items[offset : offset + limit], total=len(items), errors=errors)


@router.get("/_defaults", response_model=SleepDefaults)
def sleep_defaults() -> SleepDefaults:
    """SleepConfig and AuditorConfig defaults (what a form starts from). Candidate ids cannot
    start with '_', so this path never shadows one."""
    from ttt.safety.auditor import AuditorConfig
    from ttt.text.sleep import METHODS, SleepConfig

    return SleepDefaults(
        config=SleepConfig().to_dict(), auditor=AuditorConfig().to_dict(), methods=list(METHODS)
    )


@router.get("/{candidate_id}", response_model=SleepCandidateDetail)
def get_sleep_candidate(candidate_id: str, ctx: Ctx) -> SleepCandidateDetail:
    """The candidate's summary and its whole manifest."""
    cid = _cid(candidate_id)
    meta, manifest = read_candidate(ctx, cid)
    manifest = finite(manifest)
    return SleepCandidateDetail(
        summary=summarize(meta, manifest, registry.default_model_id(ctx.store)),
        manifest=SleepManifest.model_validate(manifest),
    )


# ---------------------------------------------------------------------------- start


def _core_path(store: ArtifactStore, raw: str) -> str:
    """A core_path inside the artifact root (relative paths are relative to it), every file
    of a folder included (a symlink out of the root is refused)."""
    p = store.user_path(raw, "SleepConfig.core_path")
    if not p.exists():
        raise NotFoundError(f"SleepConfig.core_path {raw!r}: no such file or folder")
    return resolve_corpus([str(p)], store.root, [])[0]


@router.post("", response_model=SleepStarted, status_code=202)
def start_sleep(body: SleepStartRequest, ctx: Ctx, jobs: Jobs) -> SleepStarted:
    """Start a sleep as a job; its candidate id is assigned up front (the job's result and
    /api/sleep/{candidate_id} once it completes)."""
    from ttt.text.sleep import SleepConfig, harvest

    store = ctx.store
    fields = body.model_dump(exclude_none=True, exclude={"model_id", "threads"})
    mid = usable_model(store, body.model_id)
    cid = _cid(body.candidate_id) if body.candidate_id else new_id("sleep")
    if store.exists(registry.KIND, cid):
        raise HTTPException(409, f"text model {cid!r} already exists")
    fields["candidate_id"] = cid
    if body.core_path is not None:
        fields["core_path"] = _core_path(store, body.core_path)
    for sid in body.sessions or []:
        validate_id(sid, what="chat session id")
    with user_config("SleepConfig"):
        cfg = SleepConfig.from_dict(fields)  # ValueError (422) naming a bad field
    meta = registry.read_meta(store, mid)
    used, skipped, memories = harvest(
        store, mid, str(meta.get("weights_sha256")), cfg.sessions
    )  # an unknown named session: 404; one of another model: 422
    if not memories:
        raise ValueError(
            f"sessions: no chat turns to consolidate for text model {mid!r} "
            f"({len(used)} matching session(s) with no turns, {len(skipped)} of other models)"
        )
    params = {**cfg.to_dict(), "model_id": mid, "threads": body.threads}
    job = Job.model_validate(jobs.submit(JOB_KIND, params, claim=(registry.KIND, cid)))
    return SleepStarted(candidate_id=cid, job_id=job.job_id, job=job)
