"""Per-step columns, min/max bucket downsampling and the debiased EMA (pure numpy)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from ttt.api.series import (
    SeriesCache,
    debiased_ema,
    downsample,
    parse_per_step,
)

HEADER = "t,baseline_mse,adaptive_mse,frozen_mse,oracle_mse,did_update,update_ok,status,mu\n"


def write_csv(path: Path, n: int, *, t0: int = 0, spike_at: int | None = None) -> np.ndarray:
    rng = np.random.default_rng(0)
    base = rng.random(n)
    if spike_at is not None:
        base[spike_at] = 1000.0
    lines = [HEADER]
    vals = base.tolist()
    for i in range(n):
        did = int(i % 16 == 15)
        ok = int(did and i % 64 != 63)
        status = ("commit" if ok else "rollback_loss_regression") if did else ""
        lines.append(
            f"{t0 + i},{vals[i]!r},{vals[i] / 2!r},{vals[i] * 2!r},0.0,{did},{ok},{status},0.1\n"
        )
    path.write_text("".join(lines))
    return base


def test_parse_columns(tmp_path: Path) -> None:
    p = tmp_path / "per_step.csv"
    base = write_csv(p, 100, t0=50)
    tab = parse_per_step(p)
    assert len(tab) == 100
    assert tab.t[0] == 50 and tab.t[-1] == 149
    np.testing.assert_array_equal(tab.cols["baseline_mse"], base)
    assert tab.did_update.sum() == 6
    assert {tab.status_names[c] for c in tab.status[tab.did_update]} == {
        "commit",
        "rollback_loss_regression",
    }


def test_parse_bool_and_empty_values(tmp_path: Path) -> None:
    p = tmp_path / "per_step.csv"
    p.write_text(
        HEADER + "0,0.5,0.25,,0.0,False,False,,0.1\n1,0.4,0.2,0.3,0.0,True,True,commit,0.1\n"
    )
    tab = parse_per_step(p)
    assert tab.did_update.tolist() == [False, True]
    assert math.isnan(tab.cols["frozen_mse"][0])


def test_exact_window_equals_raw_rows(tmp_path: Path) -> None:
    p = tmp_path / "per_step.csv"
    base = write_csv(p, 5000)
    tab = parse_per_step(p)
    w = downsample(tab, start=1000, end=1500, points=2000, ema_alpha=0.1)
    assert w.bucket == 1
    np.testing.assert_array_equal(w.t, np.arange(1000, 1500))
    mn, mx, mean = w.series["baseline_mse"]
    np.testing.assert_array_equal(mn, base[1000:1500])
    np.testing.assert_array_equal(mx, base[1000:1500])
    np.testing.assert_array_equal(mean, base[1000:1500])
    # every update in the window, in order
    assert w.update_t.tolist() == [t for t in range(1000, 1500) if t % 16 == 15]
    assert w.updates_total == len(w.update_t)


def test_min_max_keep_spikes(tmp_path: Path) -> None:
    p = tmp_path / "per_step.csv"
    base = write_csv(p, 100_000, spike_at=54_321)
    tab = parse_per_step(p)
    w = downsample(tab, start=None, end=None, points=1000, ema_alpha=0.05)
    assert w.bucket == 100 and len(w.t) == 1000
    mn, mx, mean = w.series["baseline_mse"]
    assert mx.max() == 1000.0 and int(np.argmax(mx)) == 543
    assert mn.min() == base.min()
    np.testing.assert_allclose(mean, base.reshape(1000, 100).mean(1))
    # each bucket's min <= mean <= max
    assert np.all(mn <= mean) and np.all(mean <= mx)


def test_uneven_last_bucket(tmp_path: Path) -> None:
    p = tmp_path / "per_step.csv"
    base = write_csv(p, 1001)
    w = downsample(parse_per_step(p), start=None, end=None, points=10, ema_alpha=0.05)
    assert w.bucket == 101 and len(w.t) == 10
    assert w.series["baseline_mse"][2][-1] == pytest.approx(base[909:].mean())


def test_updates_thinned_but_rollbacks_kept(tmp_path: Path) -> None:
    p = tmp_path / "per_step.csv"
    write_csv(p, 64_000)
    w = downsample(parse_per_step(p), start=None, end=None, points=100, ema_alpha=0.05)
    assert w.updates_total == 4000
    assert len(w.update_t) <= 2 * 100
    assert "rollback_loss_regression" in w.update_status
    assert w.update_t.tolist() == sorted(w.update_t.tolist())


def test_empty_window(tmp_path: Path) -> None:
    p = tmp_path / "per_step.csv"
    write_csv(p, 100)
    w = downsample(parse_per_step(p), start=500, end=600, points=10, ema_alpha=0.05)
    assert len(w.t) == 0 and w.updates_total == 0


@pytest.mark.parametrize("alpha", [1e-4, 0.01, 0.3, 0.9, 1.0])
def test_debiased_ema_matches_the_recurrence(alpha: float) -> None:
    x = np.random.default_rng(1).random(3000) * 10
    m, ref = 0.0, []
    for i, v in enumerate(x):
        m = (1 - alpha) * m + alpha * v
        ref.append(m / (1 - (1 - alpha) ** (i + 1)))
    np.testing.assert_allclose(debiased_ema(x, alpha), ref, rtol=1e-9)


def test_ema_is_computed_before_downsampling(tmp_path: Path) -> None:
    p = tmp_path / "per_step.csv"
    base = write_csv(p, 2000)
    tab = parse_per_step(p)
    full = debiased_ema(base, 0.05)
    w = downsample(tab, start=1500, end=1600, points=1000, ema_alpha=0.05)
    # the EMA at t=1500 carries the history before the window
    np.testing.assert_allclose(w.series["baseline_ema"][0], full[1500:1600])


def test_cache_sidecar_roundtrip_and_invalidation(tmp_path: Path) -> None:
    root = tmp_path / "root"
    p = tmp_path / "per_step.csv"
    write_csv(p, 500)
    first = SeriesCache(root).per_step(p)
    sidecars = list((root / ".cache" / "api" / "per_step").glob("*.npz"))
    assert len(sidecars) == 1
    again = SeriesCache(root).per_step(p)  # a new process would load the sidecar
    np.testing.assert_array_equal(first.cols["adaptive_mse"], again.cols["adaptive_mse"])
    assert again.status_names == first.status_names
    write_csv(p, 600)  # the file changed: new key, fresh parse
    assert len(SeriesCache(root).per_step(p)) == 600


def test_damaged_sidecar_is_rebuilt(tmp_path: Path) -> None:
    root = tmp_path / "root"
    p = tmp_path / "per_step.csv"
    write_csv(p, 100)
    SeriesCache(root).per_step(p)
    (side,) = (root / ".cache" / "api" / "per_step").glob("*.npz")
    side.write_bytes(b"garbage")
    assert len(SeriesCache(root).per_step(p)) == 100
