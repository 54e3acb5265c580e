"""Weight history of a session: matrices at update k, statistics, spectra, deltas."""

from __future__ import annotations

from pydantic import BaseModel, Field


class WeightRecord(BaseModel):
    k: int
    t: int
    attempt_index: int | None = None
    run_id: str | None = None
    inherited_from: str | None = None


class WeightHistory(BaseModel):
    items: list[WeightRecord]


class Matrix(BaseModel):
    shape: list[int]
    data: list[float] = Field(description="Row-major, flattened (len = product of shape).")


class WeightsAt(BaseModel):
    k: int
    t: int
    matrices: dict[str, Matrix]


class StatsSeries(BaseModel):
    fro: list[float]
    max_abs: list[float]
    mean: list[float]
    std: list[float]


class WeightStats(BaseModel):
    """Statistics of each matrix at every committed update (std: population, ddof=0)."""

    k: list[int]
    t: list[int]
    stats: dict[str, StatsSeries]


class Spectrum(BaseModel):
    singular_values: list[float]
    condition_number: float | None = Field(description="s_max / s_min; null when s_min == 0.")


class SpectrumOut(BaseModel):
    k: int
    t: int
    matrices: dict[str, Spectrum]


class MatrixStats(BaseModel):
    fro: float
    max_abs: float
    mean: float
    std: float


class WeightDelta(BaseModel):
    """W(to_k) - W(from_k) per matrix."""

    from_k: int
    to_k: int
    matrices: dict[str, Matrix]
    stats: dict[str, MatrixStats]
