"""Poisoning benchmark: stream construction and the measured figures on a tiny model."""

from __future__ import annotations

import base64
import itertools
import shutil
from pathlib import Path

import pytest

from ttt.models.registry import load_model
from ttt.store import ArtifactStore
from ttt.text.poison import (
    ATTACK_KINDS,
    IMPLANTS,
    PoisonStream,
    _segments,
    attack_text,
    bench_poison,
    measure,
)
from ttt.text.sentry import SentryConfig


def test_stream_is_seeded_and_interleaves_every_attack_kind() -> None:
    a, b = PoisonStream.build(0), PoisonStream.build(0)
    assert a == b
    assert PoisonStream.build(1).items != a.items
    kinds = [k for k, _ in a.items]
    assert kinds[0] == "benign"
    for k in ATTACK_KINDS:
        assert kinds.count(k) == 3
    clean = PoisonStream.build(0, with_attacks=False)
    assert {k for k, _ in clean.items} == {"benign"}
    assert [t for k, t in a.items if k == "benign"] == [t for _, t in clean.items]
    # Held-out text comes from other documents than the stream.
    assert not any(a.held_out[:200] in t for _, t in a.items)
    segs = _segments(a.items)
    assert all(s[0] != t[0] or s[0] != "benign" for s, t in itertools.pairwise(segs))


def test_attack_texts_carry_the_implant() -> None:
    import random

    rng = random.Random(0)
    facts = [t + c for t, c in IMPLANTS]
    assert any(f in attack_text("implant", rng) for f in facts)
    assert any(f in attack_text("override", rng) for f in facts)
    enc = attack_text("encoded", rng).split()[-1]
    assert any(f in base64.b64decode(enc).decode() for f in facts)
    assert len(set(attack_text("flood", rng).split())) == 1
    with pytest.raises(ValueError, match="unknown attack"):
        attack_text("nope", rng)


def test_measure_and_bench_on_a_tiny_model(tiny_lm_root: Path, tmp_path: Path) -> None:
    root = tmp_path / "art"
    shutil.copytree(tiny_lm_root, root)
    store = ArtifactStore(root)
    lm = load_model(store, "tiny-lm")
    stream = PoisonStream.build(0, benign_chars=3000, held_out_chars=800, attacks_per_kind=1)
    off = measure(lm, stream, SentryConfig(safety="off", chunk_tokens=64), store=store)
    assert off["false_block_rate"] == 0.0
    assert set(off["attack_block_rate"]) == set(ATTACK_KINDS)
    assert all(v == 0.0 for v in off["attack_block_rate"].values())
    gated = measure(lm, stream, SentryConfig(safety="gate", chunk_tokens=64), store=store)
    assert gated["attack_block_rate"]["override"] == 1.0
    assert gated["attack_block_rate"]["flood"] == 1.0
    report = bench_poison(
        lm,
        seeds=1,
        base=SentryConfig(chunk_tokens=64),
        defences=("none", "all"),
        store=store,
        stream_kwargs={"benign_chars": 3000, "held_out_chars": 800, "attacks_per_kind": 1},
    )
    row = report["defences"]["all"]
    assert set(report["defences"]) == {"none", "all"}
    assert report["defences"]["none"]["implant_ratio"] in (1.0, None)
    for key in ("implant_learning", "canary_damage", "benign_adaptation", "false_block_rate"):
        assert isinstance(row[key], float)
    assert set(report["meets_targets"]) == {"implant", "canary", "adaptation", "false_blocks"}
