"""The anomaly review queue: every domain's update log, scored, and what a person decided.

``scan(store)`` reads the update events of every Nano run, Sentry run and chat session
through each domain's own readers (``ttt.nano.session``, ``ttt.text.sentry``,
``ttt.text.chat``), turns them into ``UpdateRecord``\\ s, scores them with
``ttt.safety.anomaly`` and writes the ranked findings to ``<root>/anomalies.json``. A person's
decisions live apart, in ``<root>/anomaly_review.json`` (``{key: {state, note, at, ...}}``,
rewritten atomically under a file lock), so a new scan never loses them. ``flag`` also
appends the attempt's text to ``flagged_prompts.json`` through the auditor's ``add_flagged``,
where the red team takes it as a seed.

A module beside ``jobs.py``: it reads every domain, so it sits above them (cli and api call
it); the scoring itself is domain-free (``ttt.safety.anomaly``).

    doc = scan(store, AnomalyConfig(top=100))
    queue = review_queue(store)             # findings + review state
    set_review(store, key, "dismissed", note="expected: μ jump")
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, Literal

from filelock import FileLock

from ttt.safety.anomaly import (
    AnomalyConfig,
    UpdateRecord,
    log10_pos,
    num,
    rollback_bursts,
    score,
)
from ttt.store import (
    ArtifactStore,
    NotFoundError,
    StoreError,
    read_json,
    read_json_list,
    write_json,
)

SCAN_FILE = "anomalies.json"
REVIEW_FILE = "anomaly_review.json"
ReviewState = Literal["open", "reviewed", "dismissed", "flagged"]
REVIEW_STATES: tuple[str, ...] = ("open", "reviewed", "dismissed", "flagged")


# -- records from each domain --------------------------------------------------------------------


def _nano_records(store: ArtifactStore, cfg: AnomalyConfig) -> Iterator[UpdateRecord]:
    from ttt.nano import session as nano

    for sid in store.list_ids("sessions"):
        try:
            meta = nano.read_meta(store, sid)
            runs = nano.list_runs(store, sid)
        except (StoreError, OSError, ValueError, KeyError):
            continue
        family = f"nano:{meta.get('base_id')}:{meta.get('env_mode')}"
        for run in runs:
            rid = str(run.get("run_id"))
            path = nano.run_dir(store, sid, rid) / "update_events.json"
            if not path.exists():
                continue  # a running run has no update_events.json yet
            try:
                events = read_json_list(path)
            except (StoreError, OSError, ValueError):
                continue
            bursts = rollback_bursts([str(e.get("status")) for e in events], cfg.burst_window)
            for e, burst in zip(events, bursts, strict=True):
                pre, post = num(e.get("pre_loss")), num(e.get("post_loss"))
                change = math.log(post / pre) if pre > 0 and post > 0 else math.nan
                yield UpdateRecord(
                    key=f"nano/{sid}/{rid}/t={int(e['t'])}",
                    family=family,
                    kind="nano",
                    item=sid,
                    run=rid,
                    position=int(e["t"]),
                    status=str(e.get("status")),
                    features={
                        "write_pressure": log10_pos(e.get("grad_norm")),
                        "weight_change": log10_pos(e.get("update_norm")),
                        "loss_change": change,
                        "canary_delta": num(e.get("canary_delta")),
                        "rollback_burst": burst,
                    },
                    raw={
                        "write_pressure": num(e.get("grad_norm")),
                        "weight_change": num(e.get("update_norm")),
                        "loss_change": post / pre if pre > 0 and post > 0 else math.nan,
                        "canary_delta": num(e.get("canary_delta")),
                        "rollback_burst": burst,
                    },
                )


def _obj(v: Any) -> dict[str, Any]:
    return v if isinstance(v, dict) else {}


def _text_features(e: dict[str, Any], burst: float) -> tuple[dict[str, float], dict[str, float]]:
    canary = _obj(e.get("canary"))
    scores = _obj(_obj(e.get("gate")).get("scores"))
    ratio = num(e.get("compression_ratio"))
    feats = {
        "write_pressure": log10_pos(e.get("grad_norm")),
        "weight_change": log10_pos(e.get("update_norm")),
        "chunk_loss_z": num(e.get("loss_z")),
        "canary_delta": num(canary.get("delta")),
        "rollback_burst": burst,
        "gate_score": num(scores.get("injection_scorer")),
        "compressibility": -math.log(ratio) if ratio > 0 else math.nan,
    }
    raw = {
        **feats,
        "write_pressure": num(e.get("grad_norm")),
        "weight_change": num(e.get("update_norm")),
    }
    return feats, raw


def _sentry_records(store: ArtifactStore, cfg: AnomalyConfig) -> Iterator[UpdateRecord]:
    from ttt.text import sentry

    for rid in store.list_ids("text_runs"):
        try:
            req = sentry.read_run(store, rid)["request"]
            events = sentry.read_events(store, rid)
        except (StoreError, OSError, ValueError, KeyError):
            continue
        family = f"sentry:{req.get('model_id')}:{req.get('objective')}:{req.get('chunk_tokens')}"
        bursts = rollback_bursts([str(e.get("status")) for e in events], cfg.burst_window)
        for e, burst in zip(events, bursts, strict=True):
            feats, raw = _text_features(e, burst)
            text = e.get("text")
            yield UpdateRecord(
                key=f"sentry/{rid}/chunk={int(e['chunk'])}",
                family=family,
                kind="sentry",
                item=rid,
                run=None,
                position=int(e["chunk"]),
                status=str(e.get("status")),
                features=feats,
                raw=raw,
                text=text if isinstance(text, str) else None,
            )


def _chat_records(store: ArtifactStore, cfg: AnomalyConfig) -> Iterator[UpdateRecord]:
    from ttt.text import chat

    for sid in store.list_ids("text_sessions"):
        try:
            meta = chat.read_session(store, sid)
            events = chat.read_events(store, sid)
        except (StoreError, OSError, ValueError, KeyError):
            continue
        config = _obj(meta.get("config"))
        family = f"chat:{meta.get('model_id')}:{config.get('chunk_tokens')}"
        bursts = rollback_bursts([str(e.get("status")) for e in events], cfg.burst_window)
        for e, burst in zip(events, bursts, strict=True):
            feats, raw = _text_features(e, burst)
            text = e.get("text")
            turn = e.get("turn")
            yield UpdateRecord(
                key=f"chat/{sid}/turn={turn}/chunk={int(e['chunk'])}",
                family=family,
                kind="chat",
                item=sid,
                run=None,
                position=int(e["chunk"]),
                turn=int(turn) if isinstance(turn, int) else None,
                status=str(e.get("status")),
                features=feats,
                raw=raw,
                text=text if isinstance(text, str) else None,
            )


SOURCES = {"nano": _nano_records, "sentry": _sentry_records, "chat": _chat_records}


def gather(
    store: ArtifactStore, cfg: AnomalyConfig, kinds: tuple[str, ...] = tuple(SOURCES)
) -> list[UpdateRecord]:
    """Every update attempt of the chosen domains in the store."""
    unknown = set(kinds) - set(SOURCES)
    if unknown:
        raise ValueError(f"kinds: unknown {sorted(unknown)} (known: {', '.join(SOURCES)})")
    return [r for k in kinds for r in SOURCES[k](store, cfg)]


# -- scan ---------------------------------------------------------------------------------------


def finding_id(key: str) -> str:
    """A short, URL-safe id of a finding's key (sha256 prefix)."""
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def link(f: dict[str, Any]) -> str:
    """Where the attempt is in the dashboard (the exact event in its view)."""
    if f["kind"] == "nano":
        t = f["position"]
        return f"/nano/overview?session={f['item']}&run={f['run']}&event={t}&t={t}"
    if f["kind"] == "sentry":
        return f"/text?run={f['item']}&chunk={f['position']}"
    turn = "" if f.get("turn") is None else f"&turn={f['turn']}"
    return f"/chat?session={f['item']}{turn}"


def scan(
    store: ArtifactStore,
    cfg: AnomalyConfig | None = None,
    kinds: tuple[str, ...] = tuple(SOURCES),
) -> dict[str, Any]:
    """Score everything and write ``anomalies.json``; returns the document written."""
    cfg = cfg or AnomalyConfig()
    t0 = time.perf_counter()
    records = gather(store, cfg, kinds)
    findings = [f.to_dict() for f in score(records, cfg)]
    for f in findings:
        f["id"] = finding_id(f["key"])
        f["link"] = link(f)
    texts = {r.key: r.text for r in records if r.text}
    families: dict[str, int] = {}
    for r in records:
        families[r.family] = families.get(r.family, 0) + 1
    doc = {
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "config": {
            "method": cfg.method,
            "explain_z": cfg.explain_z,
            "burst_window": cfg.burst_window,
            "min_family": cfg.min_family,
            "top": cfg.top,
            "seed": cfg.seed,
            "kinds": list(kinds),
        },
        "records": len(records),
        "families": families,
        "seconds": round(time.perf_counter() - t0, 3),
        "findings": findings,
        "texts": {f["id"]: texts[f["key"]] for f in findings if texts.get(f["key"])},
    }
    write_json(store.resolve(SCAN_FILE), doc)
    return doc


def read_scan(store: ArtifactStore) -> dict[str, Any] | None:
    p = store.resolve(SCAN_FILE)
    return read_json(p) if p.exists() else None


# -- review state -------------------------------------------------------------------------------


def _lock(store: ArtifactStore) -> FileLock:
    return FileLock(str(store.resolve(f".{REVIEW_FILE}.lock")), timeout=30.0)


def read_reviews(store: ArtifactStore) -> dict[str, dict[str, Any]]:
    p = store.resolve(REVIEW_FILE)
    if not p.exists():
        return {}
    doc = read_json(p)
    items = doc.get("items")
    if not isinstance(items, dict):
        raise StoreError(f"{p}: field 'items' must be an object")
    return items


def review_queue(store: ArtifactStore) -> dict[str, Any] | None:
    """The last scan's findings, each with its review state (``open`` when none)."""
    doc = read_scan(store)
    if doc is None:
        return None
    reviews = read_reviews(store)
    for f in doc["findings"]:
        f.setdefault("merged", [])  # scans written before neighbours were merged
        rv = reviews.get(f["key"], {})
        f["review"] = {"state": rv.get("state", "open"), "note": rv.get("note"), "at": rv.get("at")}
    return doc


class FindingStateError(ValueError):
    """A decision that this finding cannot take (flagging an attempt whose text was not kept)."""


def set_review(
    store: ArtifactStore, finding: str, state: str, note: str | None = None
) -> dict[str, Any]:
    """Record a decision on a finding (by id or key) of the last scan; ``flagged`` also puts
    the attempt's text into flagged_prompts.json (a red-team seed). Returns the finding."""
    if state not in REVIEW_STATES:
        raise ValueError(f"state must be one of {', '.join(REVIEW_STATES)}, got {state!r}")
    if note is not None and len(note) > 2000:
        raise ValueError("note: at most 2,000 characters")
    doc = read_scan(store)
    if doc is None:
        raise NotFoundError("no anomaly scan yet: run `ttt anomalies scan` first")
    match = [f for f in doc["findings"] if finding in (f["id"], f["key"])]
    if not match:
        raise NotFoundError(f"finding {finding!r} is not in the last anomaly scan")
    f = match[0]
    now = datetime.now(UTC).isoformat(timespec="seconds")
    seed_id = None
    if state == "flagged":
        seed_id = _flag_as_seed(store, f, doc.get("texts", {}).get(f["id"]), note, now)
    with _lock(store):
        p = store.resolve(REVIEW_FILE)
        cur: dict[str, Any] = read_json(p) if p.exists() else {"items": {}}
        items: dict[str, Any] = cur.setdefault("items", {})
        items[f["key"]] = {
            "state": state,
            "note": note,
            "at": now,
            "id": f["id"],
            "seed_id": seed_id,
        }
        write_json(p, cur)
    f["review"] = {"state": state, "note": note, "at": now}
    return f


def _flag_as_seed(
    store: ArtifactStore, f: dict[str, Any], text: str | None, note: str | None, now: str
) -> str:
    """The attempt's text into flagged_prompts.json (the red team's seeds)."""
    from ttt.safety.auditor import add_flagged

    if f["kind"] == "nano":
        raise FindingStateError("a Nano attempt has no text: it cannot become a red-team seed")
    if text is None and f["kind"] == "chat" and f.get("turn") is not None:
        from ttt.text import chat

        trace = chat.read_trace(store, f["item"])
        text = next((str(t["prompt"]) for t in trace if t.get("turn") == f["turn"]), None)
    if not text:
        raise FindingStateError(
            f"finding {f['id']}: the {f['kind']} run did not keep its text (run it with "
            "--keep-text), so there is nothing to seed the red team with"
        )
    entry = {
        "id": f"anomaly-{f['id']}",
        "text": text,
        "source": "anomaly_review",
        "session_id": f["item"] if f["kind"] == "chat" else None,
        "turn": f.get("turn"),
        "model_id": f["family"].split(":")[1] if ":" in f["family"] else None,
        "reason": (note or "flagged in the anomaly review")
        + f" (anomaly score {f['score']:.2f}: {'; '.join(f['why'][:2])})",
        "created_at": now,
    }
    return str(add_flagged(store, [entry])[0]["id"])
