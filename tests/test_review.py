"""The review queue over a real store: every domain's log is gathered through its readers,
scored per family, linked to its view; decisions persist across scans and a flag becomes a
red-team seed."""

from __future__ import annotations

import json
import shutil
import threading
from pathlib import Path

import pytest

from ttt.review import gather, link, read_reviews, review_queue, scan, set_review
from ttt.safety.anomaly import AnomalyConfig
from ttt.safety.auditor import read_flagged
from ttt.store import ArtifactStore, NotFoundError


@pytest.fixture()
def rstore(review_root: Path, tmp_path: Path) -> ArtifactStore:
    root = tmp_path / "artifacts"
    shutil.copytree(review_root, root)
    return ArtifactStore(root)


def test_gather_reads_every_domain_into_its_family(rstore: ArtifactStore) -> None:
    recs = gather(rstore, AnomalyConfig())
    kinds = {r.kind for r in recs}
    assert kinds == {"nano", "sentry", "chat"}
    nano = [r for r in recs if r.kind == "nano"]
    events = json.loads(
        (rstore.root / "sessions/nano-r/runs/run-r1/update_events.json").read_text()
    )
    assert [r.position for r in nano] == [e["t"] for e in events]
    assert nano[0].family == "nano:tiny-base:linear" and nano[0].key.startswith(
        "nano/nano-r/run-r1/t="
    )
    kept = [r for r in recs if r.item == "sentry-kept"]
    bare = [r for r in recs if r.item == "sentry-bare"]
    assert kept and all(r.text for r in kept) and all(r.text is None for r in bare)
    assert {r.family for r in kept + bare} == {"sentry:tiny-lm:ar:32"}
    chat = [r for r in recs if r.kind == "chat"]
    assert {r.turn for r in chat} == {0, 1, 2} and chat[0].family == "chat:tiny-lm:16"
    with pytest.raises(ValueError, match="unknown"):
        gather(rstore, AnomalyConfig(), ("nano", "bogus"))


def test_scan_ranks_the_flood_and_links_each_finding(rstore: ArtifactStore) -> None:
    doc = scan(rstore, AnomalyConfig(top=20), ("sentry",))
    assert (rstore.root / "anomalies.json").is_file()
    top = doc["findings"][0]
    # the repetition flood is the most unusual text: compressible and heavy to write
    # (both runs read the same text in the same chunks; the kept one has it)
    lines = (rstore.root / "text_runs/sentry-kept/events.jsonl").read_text().splitlines()
    text = next(e["text"] for e in map(json.loads, lines) if e["chunk"] == top["position"])
    assert any(w in text for w in ("zorblat", "quill", "banana", "!!!")), (top, text)
    assert top["why"] and top["link"] == f"/text?run={top['item']}&chunk={top['position']}"
    assert link({"kind": "nano", "item": "s", "run": "r", "position": 5}) == (
        "/nano/overview?session=s&run=r&event=5&t=5"
    )
    assert link({"kind": "chat", "item": "c", "turn": 2}) == "/chat?session=c&turn=2"


def test_decisions_persist_across_scans_and_flags_seed_the_red_team(rstore: ArtifactStore) -> None:
    doc = scan(rstore, AnomalyConfig(top=500))
    by_kind = {
        k: [f for f in doc["findings"] if f["kind"] == k] for k in ("nano", "sentry", "chat")
    }
    kept = next(f for f in by_kind["sentry"] if f["item"] == "sentry-kept")
    bare = next(f for f in by_kind["sentry"] if f["item"] == "sentry-bare")
    set_review(rstore, by_kind["nano"][0]["id"], "dismissed", note="expected")
    set_review(rstore, kept["id"], "flagged", note="looks like a flood")
    scan(rstore, AnomalyConfig(top=500))  # a new scan keeps the decisions
    q = review_queue(rstore)
    assert q is not None
    states = {f["id"]: f["review"]["state"] for f in q["findings"]}
    assert states[by_kind["nano"][0]["id"]] == "dismissed" and states[kept["id"]] == "flagged"
    seeds = [p for p in read_flagged(rstore)["prompts"] if p["source"] == "anomaly_review"]
    assert len(seeds) == 1 and seeds[0]["id"] == f"anomaly-{kept['id']}"
    assert seeds[0]["text"] == q["texts"][kept["id"]] and "looks like a flood" in seeds[0]["reason"]
    # a chat chunk keeps its text too: it can be flagged; a Nano step or a text-less run cannot
    set_review(rstore, by_kind["chat"][0]["id"], "flagged")
    with pytest.raises(ValueError, match="no text"):
        set_review(rstore, by_kind["nano"][1]["id"], "flagged")
    with pytest.raises(ValueError, match="did not keep its text"):
        set_review(rstore, bare["id"], "flagged")
    with pytest.raises(ValueError, match="state must be"):
        set_review(rstore, kept["id"], "maybe")
    with pytest.raises(NotFoundError, match="not in the last anomaly scan"):
        set_review(rstore, "0123456789abcdef", "reviewed")


def test_concurrent_decisions_are_all_kept(rstore: ArtifactStore) -> None:
    doc = scan(rstore, AnomalyConfig(top=40))
    ids = [f["id"] for f in doc["findings"][:12]]
    threads = [threading.Thread(target=set_review, args=(rstore, i, "reviewed")) for i in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert {v["id"] for v in read_reviews(rstore).values()} == set(ids)


def test_no_scan_yet(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path / "empty")
    assert review_queue(store) is None
    with pytest.raises(NotFoundError, match="no anomaly scan yet"):
        set_review(store, "x", "reviewed")
