"""Stored red-team runs: ``artifacts/redteam/<run_id>/``.

    request.json      model id and weights hash, method, goal, implant, the exact SentryConfig
                      attacked, budget, population, seed, seeds file, full config
    iterations.jsonl  one record per iteration (cumulative queries, best objective, successes)
    attempts.jsonl    one record per query (payload, parent, mutation, verdict)
    summary.json      status (running → completed | failed | cancelled), attack success rate
                      over every query with its Wilson 95% interval, queries to first success,
                      best payloads, which defence stopped the failures; rewritten after every
                      iteration so that a dashboard can watch the run live

    result = run_redteam(store, RedTeamConfig(method="evolution", budget=200), model_id="m1")
    result.summary["attack_success_rate"], result.summary["asr_ci95"]
    list_runs(store); read_run(store, result.run_id); read_attempts(store, result.run_id)

``redteam_job`` runs the same thing as a job kind (``ttt.jobs``).
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ttt.models.registry import now_iso
from ttt.redteam.config import RedTeamConfig
from ttt.redteam.gradient import GradientSearch
from ttt.redteam.mutations import MutationContext, seed_payloads
from ttt.redteam.search import Attempt, EvolutionSearch, QueryLog
from ttt.redteam.stats import attack_stats, rate_block
from ttt.redteam.target import Target
from ttt.store import (
    SCHEMA_VERSION,
    ArtifactStore,
    NotFoundError,
    StoreError,
    append_jsonl,
    new_id,
    read_json,
    read_jsonl,
    write_json,
)

KIND = "redteam"
RUNNING, COMPLETED, FAILED, CANCELLED = "running", "completed", "failed", "cancelled"
MAX_SEEDS = 256  # seeds taken from a seeds file at most
MAX_SEED_CHARS = 4000


@dataclass
class RedTeamResult:
    run_id: str
    summary: dict[str, Any]


# ---------------------------------------------------------------------------- seeds


def resolve_seeds_path(store: ArtifactStore, seeds_file: str) -> Path:
    """Absolute paths as given; relative ones inside the artifact root (so
    ``"flagged_prompts.json"`` names the store's flagged prompts)."""
    p = Path(seeds_file).expanduser()
    return p if p.is_absolute() else store.root / p


def load_seeds(path: Path) -> list[str]:
    """Seed payloads from a file: ``flagged_prompts.json`` ({prompts: [{text}]}), a JSON list
    of strings or of ``{text}`` objects, JSONL of ``{text}``, or plain text (one a line)."""
    if not path.is_file():
        raise NotFoundError(f"seeds file {path} not found")
    try:
        raw = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ValueError(f"seeds file {path}: cannot read as UTF-8 text ({e})") from e
    items: list[Any]
    try:
        doc = json.loads(raw)
    except json.JSONDecodeError:
        doc = None
        lines = [ln for ln in raw.splitlines() if ln.strip()]
        try:
            items = [json.loads(ln) for ln in lines]
            if not all(isinstance(x, dict) for x in items):
                items = lines
        except json.JSONDecodeError:
            items = lines
    else:
        if isinstance(doc, dict) and isinstance(doc.get("prompts"), list):
            items = doc["prompts"]
        elif isinstance(doc, list):
            items = doc
        else:
            raise ValueError(
                f"seeds file {path}: expected {{'prompts': [...]}} or a list, "
                f"got {type(doc).__name__}"
            )
    texts: list[str] = []
    for x in items:
        text = x.get("text") if isinstance(x, dict) else x
        if isinstance(text, str) and text.strip():
            texts.append(text[:MAX_SEED_CHARS])
    if not texts:
        raise ValueError(f"seeds file {path}: no non-empty text found")
    return texts[:MAX_SEEDS]


# ---------------------------------------------------------------------------- the run


def build_target(store: ArtifactStore, cfg: RedTeamConfig, model_id: str | None) -> Target:
    """The defended model exactly as validated: the stored weights and ``cfg.sentry``."""
    return Target.from_store(
        store,
        model_id,
        cfg.sentry_config,
        goal=cfg.goal,
        implant=cfg.implant,
        threshold=cfg.threshold,
        warmup_text=cfg.warmup_text,
    )


def _summary(
    run_id: str,
    status: str,
    log: QueryLog,
    records: list[dict[str, Any]],
    population: list[Attempt] | None,
    t0: float,
) -> dict[str, Any]:
    stats = attack_stats(records)
    summary: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "run_id": run_id,
        "status": status,
        **stats,
        "asr_basis": "queries",  # attack_success_rate counts every evaluated query
        "budget": log.budget,
        "duration_s": round(time.perf_counter() - t0, 4),
        "updated_at": now_iso(),
    }
    if population is not None:
        block = rate_block(sum(1 for a in population if a.verdict.success), len(population))
        summary["final_population"] = {
            "size": block["n"],
            "successes": block["successes"],
            "attack_success_rate": block["attack_success_rate"],
            "asr_ci95": block["asr_ci95"],
        }
    return summary


def run_redteam(
    store: ArtifactStore,
    cfg: RedTeamConfig,
    model_id: str | None = None,
    run_id: str | None = None,
    progress: Callable[[int, int], None] | None = None,
    cancel: Callable[[], bool] | None = None,
) -> RedTeamResult:
    """Search for payloads against the stored model under ``cfg.sentry``; store the run."""
    extra = load_seeds(resolve_seeds_path(store, cfg.seeds_file)) if cfg.seeds_file else []
    target = build_target(store, cfg, model_id)
    rid = run_id or new_id("redteam")
    d = store.create_item(KIND, rid)
    request: dict[str, Any] = {
        "run_id": rid,
        "created_at": now_iso(),
        "model_id": target.lm.model_id,
        "model_weights_sha256": target.weights_sha256,
        "method": cfg.method,
        "goal": cfg.goal,
    }
    if cfg.implant is not None:
        request["implant"] = dict(cfg.implant)
    request.update(
        {
            "sentry_config": target.sentry.to_dict(),
            "budget": cfg.budget,
            "population": cfg.population,
            "seed": cfg.seed,
        }
    )
    if cfg.seeds_file:
        request["seeds_file"] = cfg.seeds_file
    request.update(
        {
            "canaries": target.canaries,
            "success_threshold": cfg.threshold,
            "config": cfg.to_dict(),
        }
    )
    t0 = time.perf_counter()
    records: list[dict[str, Any]] = []
    population: list[Attempt] | None = None

    with store.lock(KIND, rid):
        write_json(d / "request.json", request)

        def on_attempt(a: Attempt) -> None:
            rec = {"schema_version": SCHEMA_VERSION, **a.to_record()}
            append_jsonl(d / "attempts.jsonl", rec)
            records.append(rec)
            if progress is not None:
                progress(len(records), cfg.budget)

        def on_iteration(rec: dict[str, Any]) -> None:
            append_jsonl(d / "iterations.jsonl", {"schema_version": SCHEMA_VERSION, **rec})
            write_json(d / "summary.json", _summary(rid, RUNNING, log, records, None, t0))

        log = QueryLog(
            target.evaluate,
            cfg.budget,
            gate_penalty=cfg.gate_penalty,
            defence_penalty=cfg.defence_penalty,
            on_attempt=on_attempt,
            on_iteration=on_iteration,
            cancel=cancel,
        )
        write_json(d / "summary.json", _summary(rid, RUNNING, log, records, None, t0))
        try:
            if cfg.method == "evolution":
                ctx = MutationContext(
                    chunk_tokens=target.sentry.chunk_tokens,
                    count_tokens=target.count_tokens,
                    max_chars=cfg.max_payload_chars,
                )
                seeds = seed_payloads(
                    cfg.goal,
                    trigger=(cfg.implant or {}).get("trigger"),
                    target=(cfg.implant or {}).get("target"),
                    canaries=target.canaries,
                    extra=extra,
                    rng=random.Random(cfg.seed),
                )
                search = EvolutionSearch(
                    seeds,
                    ctx,
                    population=cfg.population,
                    seed=cfg.seed,
                    crossover_rate=cfg.crossover_rate,
                )
                population = search.run(log)
            else:
                grad = GradientSearch(
                    target,
                    payload_tokens=cfg.payload_tokens,
                    top_k=cfg.top_k,
                    batch=cfg.population,
                    seed=cfg.seed,
                    init_payload=cfg.init_payload or (extra[0] if extra else None),
                )
                population = grad.run(log)[-1:]
        except BaseException as e:
            summary = _summary(rid, FAILED, log, records, population, t0)
            summary["error"] = f"{type(e).__name__}: {e}"
            write_json(d / "summary.json", summary)
            raise
        status = CANCELLED if log.cancelled else COMPLETED
        summary = _summary(rid, status, log, records, population, t0)
        write_json(d / "summary.json", summary)
    return RedTeamResult(rid, summary)


# ---------------------------------------------------------------------------- reading


def read_run(store: ArtifactStore, run_id: str) -> dict[str, Any]:
    """``{"request": ..., "summary": ...}`` of one run."""
    d = store.item_dir(KIND, run_id, must_exist=True)
    return {"request": read_json(d / "request.json"), "summary": read_json(d / "summary.json")}


def read_attempts(store: ArtifactStore, run_id: str) -> list[dict[str, Any]]:
    d = store.item_dir(KIND, run_id, must_exist=True)
    p = d / "attempts.jsonl"
    return read_jsonl(p) if p.exists() else []


def read_iterations(store: ArtifactStore, run_id: str) -> list[dict[str, Any]]:
    d = store.item_dir(KIND, run_id, must_exist=True)
    p = d / "iterations.jsonl"
    return read_jsonl(p) if p.exists() else []


def list_runs(store: ArtifactStore) -> list[dict[str, Any]]:
    """Request head + summary of every run, newest first (unreadable runs by id only)."""
    out = []
    for rid in store.list_ids(KIND):
        try:
            r = read_run(store, rid)
        except (StoreError, OSError, ValueError):
            out.append({"run_id": rid, "status": "unreadable"})
            continue
        head = {
            k: v
            for k, v in r["request"].items()
            if k not in ("sentry_config", "config", "canaries")
        }
        head["safety"] = r["request"].get("sentry_config", {}).get("safety")
        out.append({**head, **r["summary"]})
    out.sort(key=lambda r: str(r.get("created_at", "")), reverse=True)
    return out


# ---------------------------------------------------------------------------- job kind


def redteam_job(
    store: ArtifactStore,
    params: dict[str, Any],
    progress: Callable[[int, int], None],
    cancel: Callable[[], bool],
) -> dict[str, Any]:
    """Job kind ``redteam``: ``params`` = a RedTeamConfig dict plus optional ``model_id``,
    ``run_id`` and ``threads``. A seeds file must lie inside the artifact root. A cancel
    stops after the current query (summary status ``cancelled``)."""
    import torch

    p = dict(params)
    model_id = p.pop("model_id", None)
    run_id = p.pop("run_id", None)
    torch.set_num_threads(max(1, int(p.pop("threads", None) or 1)))
    cfg = RedTeamConfig.from_dict(p)
    if cfg.seeds_file:
        store.user_path(cfg.seeds_file, "RedTeamConfig.seeds_file")
    result = run_redteam(
        store, cfg, model_id=model_id, run_id=run_id, progress=progress, cancel=cancel
    )
    s = result.summary
    return {
        "run_id": result.run_id,
        "status": s["status"],
        "queries": s["queries"],
        "successes": s["successes"],
        "attack_success_rate": s["attack_success_rate"],
    }
