"""A run's per-step series as numpy columns, cached, with min/max bucket downsampling.

``per_step.csv`` of a 1,000,000-step run is ~100 MB of text and takes about a second to
parse, so a parsed copy is kept twice: in this process (a small LRU keyed by path, mtime and
size) and on disk as an ``.npz`` sidecar under ``<artifacts root>/.cache/api/per_step/`` (no
pickles), so a restarted server answers at once too. Debiased EMA columns are computed
lazily per smoothing factor on the full-resolution series, before any downsampling.

    table = SeriesCache(root).per_step(path)
    window = downsample(table, start=0, end=None, points=2000, ema_alpha=0.05)
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import math
import os
import sys
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ttt.store import CorruptFileError

FLOAT_COLUMNS = ("baseline_mse", "adaptive_mse", "frozen_mse", "oracle_mse", "mu")
FLAG_COLUMNS = ("did_update", "update_ok")
REQUIRED = ("t", "baseline_mse", "adaptive_mse", "did_update", "update_ok")
SERIES = ("baseline_mse", "adaptive_mse", "frozen_mse", "oracle_mse")
EMA_OF = {"baseline_ema": "baseline_mse", "adaptive_ema": "adaptive_mse"}
SIDECAR_FORMAT = 1
_TRUE = frozenset({"1", "true", "True", "TRUE", "1.0"})


@dataclass
class PerStepTable:
    """Columns of one per_step.csv; ``status`` holds codes into ``status_names``."""

    t: np.ndarray  # (N,) int64, increasing
    cols: dict[str, np.ndarray]  # name -> (N,) float64 (NaN where empty)
    did_update: np.ndarray  # (N,) bool
    update_ok: np.ndarray  # (N,) bool
    status: np.ndarray  # (N,) int32 codes
    status_names: list[str]
    _ema: dict[tuple[str, float], np.ndarray] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __len__(self) -> int:
        return int(self.t.shape[0])

    def ema(self, column: str, alpha: float) -> np.ndarray:
        key = (column, float(alpha))
        with self._lock:
            if key not in self._ema:
                if len(self._ema) >= 8:  # a handful of alphas per table is plenty
                    self._ema.pop(next(iter(self._ema)))
                self._ema[key] = debiased_ema(self.cols[column], alpha)
            return self._ema[key]


# -- parsing -------------------------------------------------------------------------------


def _flags(values: np.ndarray) -> np.ndarray:
    names, codes = np.unique(values, return_inverse=True)
    truth = np.array([str(n).strip() in _TRUE for n in names], dtype=bool)
    return truth[codes] if len(names) else np.zeros(0, dtype=bool)


def _floats(values: np.ndarray, path: Path, name: str) -> np.ndarray:
    names, codes = np.unique(values, return_inverse=True)
    out = np.empty(len(names), dtype=np.float64)
    for i, n in enumerate(names):
        s = str(n).strip()
        try:
            out[i] = float(s) if s not in ("", "None", "null", "nan") else math.nan
        except ValueError as exc:
            raise CorruptFileError(f"{path}: column {name!r} has a non-number {s!r}") from exc
    return out[codes] if len(names) else np.zeros(0, dtype=np.float64)


def parse_per_step(path: Path) -> PerStepTable:
    """Parse a per_step.csv (fast path: numpy's C reader; fallback: string columns)."""
    with open(path, encoding="utf-8", newline="") as f:
        header = next(csv.reader(f), [])
        n_lines = sum(1 for line in f if line.strip())
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise CorruptFileError(f"{path}: missing column(s) {', '.join(missing)} in {header}")
    idx = {c: i for i, c in enumerate(header)}
    numeric = [c for c in ("t", *FLOAT_COLUMNS, *FLAG_COLUMNS) if c in idx]
    cols: dict[str, np.ndarray] = {}
    if n_lines <= 0:
        parsed: dict[str, np.ndarray] = {c: np.zeros(0) for c in numeric}
        status_raw = np.zeros(0, dtype="S64")
    else:
        try:
            mat = np.loadtxt(
                path,
                delimiter=",",
                skiprows=1,
                ndmin=2,
                usecols=[idx[c] for c in numeric],
                dtype=np.float64,
            )
            parsed = {c: mat[:, i] for i, c in enumerate(numeric)}
        except ValueError:
            raw = np.loadtxt(
                path,
                delimiter=",",
                skiprows=1,
                ndmin=2,
                usecols=[idx[c] for c in numeric],
                dtype=str,
            )
            parsed = {
                c: (
                    _flags(raw[:, i]).astype(np.float64)
                    if c in FLAG_COLUMNS
                    else _floats(raw[:, i], path, c)
                )
                for i, c in enumerate(numeric)
            }
        if "status" in idx:
            status_raw = np.loadtxt(
                path,
                delimiter=",",
                skiprows=1,
                ndmin=1,
                usecols=[idx["status"]],
                dtype="S64",
            )
        else:
            status_raw = np.zeros(0, dtype="S64")
    t = parsed["t"]
    if not np.all(np.isfinite(t)):
        raise CorruptFileError(f"{path}: column 't' has missing values")
    for c in FLOAT_COLUMNS:
        if c in parsed:
            cols[c] = np.ascontiguousarray(parsed[c], dtype=np.float64)
    did = parsed["did_update"] != 0
    ok = parsed["update_ok"] != 0
    codes = np.zeros(t.shape[0], dtype=np.int64)
    if status_raw.size == t.size and t.size:
        # Only update rows carry a status that matters; unique() on them alone is cheap.
        names, sub = np.unique(status_raw[did], return_inverse=True)
        status_names = ["", *(n.decode("utf-8", "replace").strip() for n in names)]
        codes[did] = sub + 1
    else:  # no status column: commit / rollback from the flags
        status_names = ["", "commit", "rollback"]
        codes = np.where(did, np.where(ok, 1, 2), 0)
    return PerStepTable(
        t=t.astype(np.int64),
        cols=cols,
        did_update=did,
        update_ok=ok,
        status=codes.astype(np.int32),
        status_names=status_names,
    )


# -- sidecar + LRU -------------------------------------------------------------------------


def _save_sidecar(path: Path, table: PerStepTable) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    arrays: dict[str, Any] = {
        "format": np.array([SIDECAR_FORMAT]),
        "t": table.t,
        "did_update": table.did_update,
        "update_ok": table.update_ok,
        "status": table.status,
        "status_names": np.array(table.status_names, dtype=str),
        **{f"col_{k}": v for k, v in table.cols.items()},
    }
    with open(tmp, "wb") as f:
        np.savez(f, **arrays)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _load_sidecar(path: Path) -> PerStepTable | None:
    try:
        with np.load(path, allow_pickle=False) as z:
            if int(z["format"][0]) != SIDECAR_FORMAT:
                return None
            cols = {k[4:]: z[k] for k in z.files if k.startswith("col_")}
            return PerStepTable(
                t=z["t"],
                cols=cols,
                did_update=z["did_update"],
                update_ok=z["update_ok"],
                status=z["status"],
                status_names=[str(s) for s in z["status_names"]],
            )
    except (OSError, ValueError, KeyError):
        return None  # a damaged cache is rebuilt from the CSV


class SeriesCache:
    """Parsed per_step tables by (path, mtime, size): in memory and as disk sidecars."""

    def __init__(self, root: Path, *, capacity: int = 6, disk: bool = True) -> None:
        self.root = root.resolve()
        self.cache_dir = self.root / ".cache" / "api" / "per_step"
        self.capacity = capacity
        self.disk = disk
        self._mem: OrderedDict[tuple[str, int, int], PerStepTable] = OrderedDict()
        self._lock = threading.Lock()

    def per_step(self, path: Path) -> PerStepTable:
        st = path.stat()
        key = (str(path.resolve()), st.st_mtime_ns, st.st_size)
        with self._lock:
            if key in self._mem:
                self._mem.move_to_end(key)
                return self._mem[key]
        table = self._from_disk(key) if self.disk else None
        if table is None:
            table = parse_per_step(path)
            if self.disk:
                with contextlib.suppress(OSError):  # read-only root: memory cache only
                    _save_sidecar(self._sidecar(key), table)
        with self._lock:
            self._mem[key] = table
            while len(self._mem) > self.capacity:
                self._mem.popitem(last=False)
        return table

    def _sidecar(self, key: tuple[str, int, int]) -> Path:
        digest = hashlib.sha256(repr(key).encode()).hexdigest()[:32]
        return self.cache_dir / f"{digest}.npz"

    def _from_disk(self, key: tuple[str, int, int]) -> PerStepTable | None:
        p = self._sidecar(key)
        return _load_sidecar(p) if p.is_file() else None


# -- math ----------------------------------------------------------------------------------


def debiased_ema(x: np.ndarray, alpha: float) -> np.ndarray:
    """``m_t = (1-a) m_{t-1} + a x_t`` (m_{-1} = 0) divided by ``1 - (1-a)^(t+1)``.

    Vectorised in blocks: within a block m = beta^j (beta m_prev + a cumsum(x_i beta^-i)),
    with blocks short enough that beta^-i stays far from overflow.
    """
    if not 0 < alpha <= 1:
        raise ValueError(f"ema_alpha must be in (0, 1], got {alpha}")
    x = np.asarray(x, dtype=np.float64)
    n = x.shape[0]
    if alpha == 1.0 or n == 0:
        return x.copy()
    # log(beta) from log1p: exact for any alpha, where 1 - alpha would round (alpha < 1e-8)
    # or be 1.0 (alpha < 1.1e-16).
    steps = np.arange(1, n + 1, dtype=np.float64)
    if alpha < sys.float_info.min:  # subnormal: the running mean (the alpha -> 0 limit)
        return np.cumsum(x) / steps
    log_beta = math.log1p(-alpha)
    beta = math.exp(log_beta)
    block = max(1, int(min(n, 200.0 / -log_beta)))
    j = np.arange(block, dtype=np.float64)
    grow, shrink = np.exp(-j * log_beta), np.exp(j * log_beta)
    out = np.empty(n, dtype=np.float64)
    m = 0.0
    for s in range(0, n, block):
        xs = x[s : s + block]
        k = xs.shape[0]
        ms = shrink[:k] * (beta * m + alpha * np.cumsum(xs * grow[:k]))
        out[s : s + k] = ms
        m = float(ms[-1])
    out /= -np.expm1(steps * log_beta)  # 1 - beta^(t+1)
    return out


@dataclass
class Window:
    """A downsampled window [lo, hi) of a table (row indices)."""

    lo: int
    hi: int
    bucket: int
    t: np.ndarray  # (B,) first t of each bucket
    series: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray] | None]  # min, max, mean
    update_t: np.ndarray
    update_status: list[str]
    updates_total: int


def window_rows(table: PerStepTable, start: int | None, end: int | None) -> tuple[int, int]:
    """Row range for t in [start, end) (t is increasing)."""
    lo = 0 if start is None else int(np.searchsorted(table.t, start, side="left"))
    hi = len(table) if end is None else int(np.searchsorted(table.t, end, side="left"))
    return lo, max(lo, hi)


def bucket_reduce(
    x: np.ndarray, offsets: np.ndarray, counts: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(min, max, mean) of each bucket; NaN-ignoring for min/max."""
    if x.shape[0] == offsets.shape[0]:  # one row per bucket: exact values
        return x, x, x
    mn = np.fmin.reduceat(x, offsets)
    mx = np.fmax.reduceat(x, offsets)
    mean = np.add.reduceat(x, offsets) / counts
    return mn, mx, mean


def downsample(
    table: PerStepTable,
    *,
    start: int | None,
    end: int | None,
    points: int,
    ema_alpha: float,
) -> Window:
    """Split rows with t in [start, end) into <= ``points`` equal buckets (the last may be
    shorter) and reduce each column to min/max/mean; bucket == 1 returns the rows as they
    are. Update markers: all of them when bucket == 1, else the first marker of each status
    in each bucket (a rare rollback never hides behind a commit)."""
    if points < 1:
        raise ValueError(f"points must be >= 1, got {points}")
    lo, hi = window_rows(table, start, end)
    n = hi - lo
    bucket = max(1, -(-n // points))
    offsets = np.arange(0, n, bucket, dtype=np.int64)
    counts = np.diff(np.append(offsets, n)).astype(np.float64)
    series: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray] | None] = {}
    for name in SERIES:
        col = table.cols.get(name)
        series[name] = None if col is None else bucket_reduce(col[lo:hi], offsets, counts)
    for name, src in EMA_OF.items():
        series[name] = bucket_reduce(table.ema(src, ema_alpha)[lo:hi], offsets, counts)
    rows = np.flatnonzero(table.did_update[lo:hi])
    codes = table.status[lo:hi][rows]
    total = int(rows.shape[0])
    if bucket > 1 and total:
        key = (rows // bucket) * (len(table.status_names) + 1) + codes
        _, first = np.unique(key, return_index=True)
        first = np.sort(first)  # back to time order
        rows, codes = rows[first], codes[first]
    names = table.status_names
    return Window(
        lo=lo,
        hi=hi,
        bucket=bucket,
        t=table.t[lo:hi][offsets] if n else np.zeros(0, dtype=np.int64),
        series=series,
        update_t=table.t[lo:hi][rows],
        update_status=[names[c] or "update" for c in codes.tolist()],
        updates_total=total,
    )
