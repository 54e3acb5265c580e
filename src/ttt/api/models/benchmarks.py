"""Saved benchmark results (``benchmarks/<id>/result.json``, written by ``ttt bench memory
--save`` and ``ttt bench jailbreak --save``; the format is documented in
``ttt.text.bench_results``)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ttt.api.models.common import ItemError

BenchKind = Literal["memory", "jailbreak"]


class BenchmarkSummary(BaseModel):
    """One saved result in the listing."""

    id: str
    kind: BenchKind
    created_at: str | None = None
    argv: list[str] = Field(default_factory=list, description="The command that made it.")
    n_rows: int
    models: list[str] = Field(default_factory=list, description="Models its rows measured.")


class BenchmarkList(BaseModel):
    items: list[BenchmarkSummary] = Field(description="Newest first.")
    total: int
    errors: list[ItemError] = Field(
        default_factory=list, description="Results whose file cannot be read (named)."
    )


class BenchmarkResult(BaseModel):
    """result.json as stored."""

    model_config = ConfigDict(extra="allow")

    id: str
    kind: BenchKind
    created_at: str | None = None
    argv: list[str] = Field(default_factory=list)
    config: dict[str, Any] = Field(default_factory=dict, description="The run's settings.")
    versions: dict[str, Any] = Field(default_factory=dict, description="ttt, torch, python.")
    non_finite: list[str] = Field(
        default_factory=list, description="Places of NaN/infinite numbers stored as null."
    )
    rows: list[dict[str, Any]] = Field(
        description="The benchmark's rows as `--json` prints them. memory: one per model, "
        "n_facts and condition (fast_weights, no_update, in_context) with recall, binding, "
        "wrong_fact, control_leak, control_guess, ppl_before, ppl_after, commit_rate, "
        "seconds. jailbreak: one per defence with trials, asr_at_10, asr_ci_low, "
        "asr_ci_high, refusal_by_update (at curve_updates), over_refusal, "
        "benign_gain_kept, commit_rate, detection_latency."
    )
