"""API latency on a long run: the per-step endpoint on a synthetic 1,000,000-step run.

Writes a session with one run (per_step.csv with the real columns, update_events.json with
~30,000 events) into a temporary artifact root (or ``--root``), then times requests through
the whole app in-process (TestClient: routing, validation, JSON), and prints JSON:

* ``cold_ms``: first request after the server starts with no cache (parses the CSV) —
  the reference a cache-less server would pay on every request;
* ``restart_ms``: first request of a new app when the on-disk sidecar exists;
* ``warm``: p50/p95/max over repeated 2,000-point windows (full range, random zooms, exact
  2,000-row windows) and events pages; the issue's target is < 100 ms for 2,000 points.

    python benchmarks/bench_api.py [--steps 1000000] [--events 30000] [--repeats 30]
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from ttt.api.app import create_app
from ttt.api.settings import ApiSettings
from ttt.store import write_json, write_json_list

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

COLUMNS = "t,baseline_mse,adaptive_mse,frozen_mse,oracle_mse,did_update,update_ok,status,mu"
STATUSES = ("commit", "rollback_loss_regression", "rollback_grad_norm", "rollback_state_norm")


def write_synthetic_run(root: Path, steps: int, events: int, seed: int = 0) -> tuple[str, str]:
    rng = np.random.default_rng(seed)
    sid, rid = "bench-session", "bench-run"
    sd = root / "sessions" / sid
    rd = sd / "runs" / rid
    rd.mkdir(parents=True, exist_ok=True)
    t = np.arange(steps)
    base = np.exp(rng.normal(-7, 1, steps))
    adapt = base * np.exp(-np.minimum(t / (steps / 5), 1.0) * 0.7)
    spikes = rng.random(steps) < 1e-4
    base[spikes] *= 100
    every = max(1, steps // events)
    did = (t % every) == every - 1
    codes = np.where(did, rng.choice(len(STATUSES), steps, p=[0.85, 0.1, 0.03, 0.02]), -1)
    ok = codes == 0
    status = np.array(["", *STATUSES])[codes + 1]
    cols = [
        t,
        base,
        adapt,
        base * 1.1,
        base * 0.05,
        did.astype(int),
        ok.astype(int),
        status,
        np.full(steps, 0.12),
    ]
    lines = [COLUMNS] + [
        ",".join(map(str, row)) for row in zip(*(c.tolist() for c in cols), strict=True)
    ]
    (rd / "per_step.csv").write_text("\n".join(lines) + "\n")
    evs = []
    for i, ti in enumerate(np.flatnonzero(did).tolist()):
        pre = float(base[ti])
        evs.append(
            {
                "t": ti,
                "index": i,
                "status": str(status[ti]),
                "reasons": [],
                "pre_loss": pre,
                "post_loss": pre * 0.9,
                "train_loss": pre,
                "grad_norm": 0.01,
                "grad_norm_z": 0.5,
                "pre_max_h": 5.0,
                "post_max_h": 5.1,
                "lr": 0.02,
                "update_norm": 0.1,
                "checks": [],
                "probes_pre": {},
                "probes_post": {},
                "projection": None,
                "gate": None,
                "duration_ms": 1.0,
                "run_id": rid,
                "commit_index": None,
            }
        )
    write_json_list(rd / "update_events.json", evs)
    write_json(sd / "meta.json", {"session_id": sid, "parent": None, "mu": 0.12})
    write_json(
        rd / "run.json",
        {"run_id": rid, "status": "completed", "steps": steps, "t_start": 0, "t_end": steps},
    )
    return sid, rid


def _stats(ms: list[float]) -> dict[str, float]:
    ms = sorted(ms)
    return {
        "p50_ms": round(statistics.median(ms), 2),
        "p95_ms": round(ms[min(len(ms) - 1, int(0.95 * len(ms)))], 2),
        "max_ms": round(ms[-1], 2),
        "n": len(ms),
    }


def _timed(client: Any, url: str, params: dict[str, Any]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    r = client.get(url, params=params)
    dt = (time.perf_counter() - t0) * 1000
    if r.status_code != 200:
        raise RuntimeError(f"{url} {params}: {r.status_code} {r.text[:200]}")
    return dt, r


def run(root: Path, steps: int, events: int, repeats: int) -> dict[str, Any]:
    t0 = time.perf_counter()
    sid, rid = write_synthetic_run(root, steps, events)
    gen_s = time.perf_counter() - t0
    url = f"/api/sessions/{sid}/runs/{rid}/per_step"
    settings = ApiSettings.model_validate({"artifacts_root": root, "dashboard_dist": root / "x"})
    rng = np.random.default_rng(1)
    out: dict[str, Any] = {"steps": steps, "events": events, "generate_s": round(gen_s, 1)}
    app = create_app(settings)
    gc.collect()
    gc.freeze()  # as `ttt serve` does after startup
    with TestClient(app, base_url="http://127.0.0.1:13579") as c:
        out["cold_ms"], first = _timed(c, url, {"points": 2000})
        out["response_bytes"] = len(first.content)
        warm: dict[str, list[float]] = {"full_2000": [], "zoom_2000": [], "exact_2000": []}
        for _ in range(repeats):
            warm["full_2000"].append(_timed(c, url, {"points": 2000})[0])
            a = int(rng.integers(0, steps - 20_000))
            b = a + int(rng.integers(20_000, min(steps - a, 400_000) + 1))
            warm["zoom_2000"].append(_timed(c, url, {"start": a, "end": b, "points": 2000})[0])
            e = int(rng.integers(0, steps - 2000))
            dt, r = _timed(c, url, {"start": e, "end": e + 2000, "points": 2000})
            assert r.json()["bucket"] == 1
            warm["exact_2000"].append(dt)
        ev_url = f"/api/sessions/{sid}/runs/{rid}/events"
        _timed(c, ev_url, {"limit": 100})  # parse once
        warm["events_page_100"] = [
            _timed(c, ev_url, {"limit": 100, "offset": int(rng.integers(0, events - 100))})[0]
            for _ in range(repeats)
        ]
        warm["events_rollbacks_sorted"] = [
            _timed(
                c,
                ev_url,
                {
                    "status": "rollback_grad_norm,rollback_loss_regression",
                    "sort": "-grad_norm",
                    "limit": 100,
                },
            )[0]
            for _ in range(max(3, repeats // 5))
        ]
        out["ema_new_alpha_ms"] = _timed(c, url, {"points": 2000, "ema_alpha": 0.01})[0]
    with TestClient(
        create_app(settings), base_url="http://127.0.0.1:13579"
    ) as c:  # a restarted server: sidecar on disk
        out["restart_ms"] = _timed(c, url, {"points": 2000})[0]
    out["warm"] = {k: _stats(v) for k, v in warm.items()}
    out["target_ms"] = 100
    out["meets_target"] = all(
        out["warm"][k]["p95_ms"] < 100 for k in ("full_2000", "zoom_2000", "exact_2000")
    )
    for k in ("cold_ms", "restart_ms", "ema_new_alpha_ms"):
        out[k] = round(out[k], 1)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=1_000_000)
    ap.add_argument("--events", type=int, default=30_000)
    ap.add_argument("--repeats", type=int, default=30)
    ap.add_argument("--root", type=Path, default=None, help="Artifact root (default: temp).")
    args = ap.parse_args()
    if args.root is not None:
        print(json.dumps(run(args.root, args.steps, args.events, args.repeats), indent=2))
        return
    with tempfile.TemporaryDirectory() as tmp:
        print(json.dumps(run(Path(tmp), args.steps, args.events, args.repeats), indent=2))


if __name__ == "__main__":
    main()
