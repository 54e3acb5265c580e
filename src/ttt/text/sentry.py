"""Sentry: stream a text through a text model chunk by chunk, one guarded write per chunk.

    ttt sentry run --text "..." [--model ID] [--chunk-tokens 128] [--objective ar|mlm]
                   [--safety off|gate|rollback|spfw|all] [--json] [--keep-text]

For every chunk the monitor measures the write before it happens (loss, gradient norm = write
pressure, its robust z, compression ratio, alignment of the chunk's gradient with the canary
gradient, per-token influence), asks the gate, and hands the write to the engine transaction
(``ttt.engine``): Muon step on the context net, SPFW projection of the weight change, canary
post-checks, commit or bit-exact rollback. One event per chunk is stored under
``text_runs/<run_id>/`` (request, events.jsonl, summary.json); the raw text only with
``keep_text``.

The per-chunk machinery is ``ttt.text.monitor.SentryMonitor``, which speaks only the model
protocol: a TinyLm (context-net fast weights; backbone features computed once per chunk) or
an HF causal LM (LoRA fast weights; each chunk re-reads the tail of the previous one).

Robust statistics are never poisoned by their own inputs: only committed chunks enter the
histories that judge later chunks, and a zero MAD is floored, never divided by.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ttt.engine import BLOCKED_GATE
from ttt.models import registry
from ttt.store import (
    ArtifactStore,
    append_jsonl,
    new_id,
    read_json,
    read_jsonl,
    write_json,
)
from ttt.store.errors import LockTimeoutError, StoreError
from ttt.text.monitor import (
    OBJECTIVES,
    SAFETY_MODES,
    THROTTLED_COMMIT,
    SentryConfig,
    SentryMonitor,
    mlm_mask,
)
from ttt.text.sentry_config import STREAM_DEFAULTS, stream_config, with_stream_defaults

RUNNING, COMPLETED, FAILED, CANCELLED = "running", "completed", "failed", "cancelled"
KIND = "text_runs"
INTERRUPTED = "interrupted"  # reported (never written): running, but its process is gone
__all__ = [
    "OBJECTIVES",
    "SAFETY_MODES",
    "STREAM_DEFAULTS",
    "THROTTLED_COMMIT",
    "SentryConfig",
    "SentryMonitor",
    "list_runs",
    "mlm_mask",
    "read_events",
    "read_run",
    "run_sentry",
    "stream_config",
    "with_stream_defaults",
]

# What the Sentry domain supports, per safety mechanism (rendered into the README's coverage
# matrix by ``ttt.safety.coverage``).
SAFETY_SUPPORT: dict[str, str] = {
    "update_transaction": "yes: one engine transaction per chunk on the fast weights "
    "(context net or LoRA)",
    "gate": "yes: every rule, across chunk boundaries; OOD uses the model's own reference",
    "canary_rollback": "yes: canary set, absolute delta and robust z",
    "grad_alignment": "yes: canary cos/dot, grad norm/z, update z, per-token influence",
    "spfw": "yes: half-space or null-space projection of the weight change",
}


@dataclass
class SentryRunResult:
    run_id: str
    summary: dict[str, Any]
    events: list[dict[str, Any]] = field(default_factory=list)  # in memory, with top tokens


def _without_text(rec: dict[str, Any]) -> dict[str, Any]:
    """The stored form of an event when the text is not kept: top tokens keep their
    position and score but not their text (token strings are pieces of the input)."""
    return {
        **rec,
        "top_tokens": [{"pos": t["pos"], "score": t["score"]} for t in rec["top_tokens"]],
    }


SUMMARY_EVERY_S = 0.5  # how often a running Sentry rewrites summary.json


def _summary(
    run_id: str, status: str, events: list[dict[str, Any]], n_chunks: int, t0: float
) -> dict[str, Any]:
    counts: dict[str, int] = {}
    for e in events:
        counts[e["status"]] = counts.get(e["status"], 0) + 1
    losses = [e["loss"] for e in events]
    canary = [e["canary"]["before"] for e in events if e["canary"]["before"] is not None]
    last_after = next(
        (
            e["canary"]["after"]
            for e in reversed(events)
            if e["committed"] and e["canary"]["after"] is not None
        ),
        None,
    )
    canary_end = last_after if last_after is not None else (canary[-1] if canary else None)
    committed = sum(1 for e in events if e["committed"])
    blocked = counts.get(BLOCKED_GATE, 0)
    return {
        "run_id": run_id,
        "status": status,
        "n_chunks_done": len(events),
        "n_chunks": n_chunks,
        "counts": counts,
        "committed": committed,
        "blocked": blocked,
        "rolled_back": len(events) - committed - blocked,
        "loss_first": losses[0] if losses else None,
        "loss_last": losses[-1] if losses else None,
        "loss_mean": sum(losses) / len(losses) if losses else None,
        "canary_start": canary[0] if canary else None,
        "canary_end": canary_end,
        "canary_delta_total": (canary_end - canary[0])
        if canary and canary_end is not None
        else None,
        "max_grad_norm": max((e["grad_norm"] or 0.0 for e in events), default=None),
        "duration_s": round(time.perf_counter() - t0, 4),
        "updated_at": registry.now_iso(),
    }


def run_sentry(
    store: ArtifactStore,
    *,
    text: str,
    cfg: SentryConfig | None = None,
    model_id: str | None = None,
    run_id: str | None = None,
    keep_text: bool = False,
    source: str = "text",
    progress: Callable[[int, int], None] | None = None,
    cancel: Callable[[], bool] | None = None,
) -> SentryRunResult:
    """Stream ``text`` through the model under ``cfg`` (default: the model's backend's
    ``stream_config``) and store the run (see module doc)."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError("text is empty: nothing to monitor")
    lm = registry.load_model(store, model_id)
    cfg = cfg or stream_config(lm.backend)
    monitor = SentryMonitor(lm, cfg, store=store)
    chunks = monitor.chunks(text)
    rid = run_id or new_id("sentry")
    # The writer holds the run's lock until the run ends: a reader that finds a run
    # "running" with the lock free knows its process died (``writer_alive``).
    with store.lock(KIND, rid, timeout=0):
        return _run_locked(
            store, rid, text, cfg, lm, monitor, chunks, keep_text, source, progress, cancel
        )


def _run_locked(
    store: ArtifactStore,
    rid: str,
    text: str,
    cfg: SentryConfig,
    lm: Any,
    monitor: SentryMonitor,
    chunks: list[Any],
    keep_text: bool,
    source: str,
    progress: Callable[[int, int], None] | None,
    cancel: Callable[[], bool] | None,
) -> SentryRunResult:
    request = {
        "run_id": rid,
        **registry.created_now(),
        "model_id": lm.model_id,
        "model_weights_sha256": lm.meta.get("weights_sha256"),
        "backend": lm.backend,
        "backbone": lm.describe()["backbone"],
        "objective": cfg.objective,
        "safety": cfg.safety,
        "chunk_tokens": cfg.chunk_tokens,
        "config": cfg.to_dict(),
        "canaries": monitor.canary_texts,
        "reference": monitor.reference,
        "text_sha256": hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest(),
        "n_chars": len(text),
        "n_tokens": sum(len(c.ids) for c in chunks),
        "n_chunks": len(chunks),
        "keep_text": keep_text,
        "source": source,
    }
    if keep_text:
        request["text"] = text
    t0 = time.perf_counter()
    events: list[dict[str, Any]] = []
    status = RUNNING

    def build(tmp: Path) -> None:  # request and first summary appear together, or nothing
        write_json(tmp / "request.json", request)
        write_json(tmp / "summary.json", _summary(rid, status, events, len(chunks), t0))

    store.build_item(KIND, rid, build)
    d = store.item_dir(KIND, rid, must_exist=True)
    last_summary = time.perf_counter()
    try:
        for ch in chunks:
            if cancel is not None and cancel():
                status = CANCELLED
                break
            rec = monitor.process_chunk(ch, keep_text=keep_text)
            append_jsonl(d / "events.jsonl", rec if keep_text else _without_text(rec))
            events.append(rec)
            # The live summary, at most every SUMMARY_EVERY_S (the final one is always written).
            if time.perf_counter() - last_summary >= SUMMARY_EVERY_S:
                write_json(d / "summary.json", _summary(rid, status, events, len(chunks), t0))
                last_summary = time.perf_counter()
            if progress is not None:
                progress(len(events), len(chunks))
        else:
            status = COMPLETED
    except BaseException as e:
        summary = _summary(rid, FAILED, events, len(chunks), t0)
        summary["error"] = f"{type(e).__name__}: {e}"
        write_json(d / "summary.json", summary)
        raise
    summary = _summary(rid, status, events, len(chunks), t0)
    write_json(d / "summary.json", summary)
    return SentryRunResult(rid, summary, events)


def writer_alive(store: ArtifactStore, run_id: str) -> bool:
    """Is a process running ``run_id`` now? (It holds the run's lock until the run ends;
    the OS releases the lock when the process dies.)"""
    try:
        with store.lock(KIND, run_id, timeout=0):
            return False
    except LockTimeoutError:
        return True


def reported_summary(
    store: ArtifactStore, run_id: str, summary: dict[str, Any], events: list[dict[str, Any]]
) -> dict[str, Any]:
    """``summary`` as it should be shown: a run that says running but whose process is gone
    (SIGKILL, power loss) is ``interrupted``, with its counts from the events it logged."""
    if summary.get("status") != RUNNING or writer_alive(store, run_id):
        return summary
    fresh = read_json(store.item_dir(KIND, run_id, must_exist=True) / "summary.json")
    if fresh.get("status") != RUNNING:  # it finished between the two reads
        return fresh
    out = {**_summary(run_id, INTERRUPTED, events, int(summary.get("n_chunks", 0)), 0.0)}
    out["duration_s"] = summary.get("duration_s")
    out["updated_at"] = summary.get("updated_at")
    out["error"] = (
        f"the process running it ended without finishing (killed?) after "
        f"{len(events)} of {summary.get('n_chunks')} chunks; what it logged is kept"
    )
    return out


def read_run(store: ArtifactStore, run_id: str) -> dict[str, Any]:
    d = store.item_dir(KIND, run_id, must_exist=True)
    summary = read_json(d / "summary.json")
    if summary.get("status") == RUNNING:
        summary = reported_summary(store, run_id, summary, read_events(store, run_id))
    return {"request": read_json(d / "request.json"), "summary": summary}


def read_events(store: ArtifactStore, run_id: str) -> list[dict[str, Any]]:
    d = store.item_dir(KIND, run_id, must_exist=True)
    p = d / "events.jsonl"
    return read_jsonl(p) if p.exists() else []


def list_runs(store: ArtifactStore) -> list[dict[str, Any]]:
    """Request head + summary of every readable run, newest first."""
    out = []
    for rid in store.list_ids("text_runs"):
        try:
            r = read_run(store, rid)
        except (StoreError, OSError, ValueError):  # a half-written run is listed by id only
            out.append({"run_id": rid, "status": "unreadable"})
            continue
        req = {
            k: v
            for k, v in r["request"].items()
            if k not in ("text", "config", "canaries", "reference")
        }
        out.append({**req, **r["summary"]})
    out.sort(key=lambda r: str(r.get("created_at", "")), reverse=True)
    return out
