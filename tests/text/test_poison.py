"""Poisoning benchmark: stream construction and the measured figures on a tiny model."""

from __future__ import annotations

import base64
import itertools
import shutil
from pathlib import Path

import pytest

from ttt.models.registry import load_model
from ttt.store import ArtifactStore
from ttt.text.limits import LIMITS
from ttt.text.poison import (
    ATTACK_KINDS,
    IMPLANT_POOLS,
    TUNE_SEEDS,
    PoisonStream,
    _defence_config,
    _segments,
    attack_text,
    bench_poison,
    calibrate_limits,
    check_split_seeds,
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
    facts = [t + c for t, c in IMPLANT_POOLS["tune"]]
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
    assert set(report["meets_targets"].values()) <= {"met", "not met", "not measured"}
    assert report["split"] == "report" and report["seeds"] == [0]


def test_tune_and_report_streams_are_disjoint_by_seed_and_implant_pool() -> None:
    tune_facts = {t + c for t, c in IMPLANT_POOLS["tune"]}
    report_facts = {t + c for t, c in IMPLANT_POOLS["report"]}
    assert not tune_facts & report_facts
    # No trigger or target word of one pool appears in the other.
    words = lambda facts: {w.strip(".,-").lower() for f in facts for w in f.split() if len(w) > 4}  # noqa: E731
    assert not (words(tune_facts) & words(report_facts)) - {"means", "secret"}

    def stream_facts(seed: int) -> set[str]:
        text = " ".join(t for k, t in PoisonStream.build(seed).items if k != "benign")
        return {f for f in tune_facts | report_facts if f in text}

    assert stream_facts(TUNE_SEEDS.start) and stream_facts(TUNE_SEEDS.start) <= tune_facts
    assert stream_facts(0) and stream_facts(0) <= report_facts
    assert PoisonStream.build(0).implants == IMPLANT_POOLS["report"]
    check_split_seeds("report", range(0, 3))
    check_split_seeds("tune", range(100, 103))
    with pytest.raises(ValueError, match="belong to the 'tune' split"):
        check_split_seeds("report", range(98, 101))
    with pytest.raises(ValueError, match="belong to the 'report' split"):
        check_split_seeds("tune", range(0, 1))
    with pytest.raises(ValueError, match="split must be one of"):
        check_split_seeds("test", range(0, 1))


def test_calibrated_limits_refuse_no_benign_tuning_write(tiny_lm_copy: Path) -> None:
    store = ArtifactStore(tiny_lm_copy)
    lm = load_model(store, "tiny-lm")
    kw = {"benign_chars": 2500, "held_out_chars": 600}
    base = SentryConfig(chunk_tokens=64)
    cal = calibrate_limits(lm, seeds=range(100, 102), base=base, store=store, stream_kwargs=kw)
    assert cal["benign_writes"] > 8 and set(cal["limits"]) == set(LIMITS)
    for name, (sig, floor) in LIMITS.items():
        top = cal["max_benign"][sig]
        assert cal["limits"][name] >= floor
        assert top is None or cal["limits"][name] >= top
    with pytest.raises(ValueError, match="'report' split"):
        calibrate_limits(lm, seeds=range(0, 1), base=base, store=store, stream_kwargs=kw)
    # Under the chosen limits, the benign tuning streams run exactly as with the checks open:
    # no limit fires on a write it was chosen from.
    cfg = SentryConfig.from_dict({**base.to_dict(), **cal["overrides"]})
    limit = cal["limits"]["gate:ood_heavy_write.loss_z_max"]
    assert cfg.gate["ood_heavy_write.loss_z_max"] == limit
    opened = SentryConfig.from_dict(
        {
            **base.to_dict(),
            "canary_max_delta": 100.0,
            "canary_z": 1e6,
            "grad_z": 1e6,
            "gate": {"ood_heavy_write.loss_z_max": 1e6, "ood_heavy_write.grad_norm_z_max": 1e6},
        }
    )
    for seed in (100, 101):
        clean = PoisonStream.build(seed, **kw, with_attacks=False)
        a = measure(lm, clean, _defence_config("all", cfg), store=store)
        b = measure(lm, clean, _defence_config("all", opened), store=store)
        for key in ("false_block_rate", "benign_adaptation", "canary_damage", "held_out_loss"):
            assert a[key] == b[key], key
    # With tighter limits than chosen, some benign tuning write is refused (the test can fail).
    tight = SentryConfig.from_dict({**cfg.to_dict(), "grad_z": 1e-6})
    clean = PoisonStream.build(100, **kw, with_attacks=False)
    assert measure(lm, clean, _defence_config("all", tight), store=store)["false_block_rate"] > 0


def test_bench_with_calibration_reports_the_limits_it_used(tiny_lm_copy: Path) -> None:
    store = ArtifactStore(tiny_lm_copy)
    lm = load_model(store, "tiny-lm")
    report = bench_poison(
        lm,
        seeds=1,
        calibrate=True,
        calibration_seeds=1,
        base=SentryConfig(chunk_tokens=64),
        defences=("none", "all"),
        store=store,
        stream_kwargs={"benign_chars": 2000, "held_out_chars": 600, "attacks_per_kind": 1},
    )
    cal = report["calibration"]
    assert cal["seeds"] == [100] and report["seeds"] == [0]
    assert report["config"]["canary_max_delta"] == cal["limits"]["canary_max_delta"]
    assert (
        report["config"]["gate"]["ood_heavy_write.grad_norm_z_max"]
        == (cal["limits"]["gate:ood_heavy_write.grad_norm_z_max"])
    )
    assert report["implants"] == [list(p) for p in IMPLANT_POOLS["report"]]
