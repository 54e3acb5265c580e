"""Saved benchmark results: list and one (``ttt.text.bench_results``). Results are made by
``ttt bench memory --save NAME`` and ``ttt bench jailbreak --save NAME``; the API only reads
them. A result whose file cannot be read is listed in ``errors`` (naming the file) and its
own URL answers 500 with the same message; the other results are unaffected."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from ttt.api.deps import Store
from ttt.api.models.benchmarks import BenchmarkList, BenchmarkResult, BenchmarkSummary
from ttt.api.models.common import ERROR_RESPONSES, ItemError
from ttt.store import validate_id
from ttt.text.bench_results import list_results, read_result

router = APIRouter(prefix="/api/benchmarks", tags=["benchmarks"], responses=ERROR_RESPONSES)


@router.get("", response_model=BenchmarkList)
def list_benchmarks(
    store: Store,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> BenchmarkList:
    """Summaries, newest first (unreadable results are reported in ``errors``)."""
    items, errors = list_results(store)
    return BenchmarkList(
        items=[BenchmarkSummary.model_validate(s) for s in items[offset : offset + limit]],
        total=len(items),
        errors=[ItemError.model_validate(e) for e in errors],
    )


@router.get("/{result_id}", response_model=BenchmarkResult)
def get_benchmark(result_id: str, store: Store) -> BenchmarkResult:
    """One result: its command, settings, versions and every row."""
    rid = validate_id(result_id, what="benchmark result id")
    doc = dict(read_result(store, rid))
    doc.pop("schema_version", None)
    return BenchmarkResult.model_validate(doc)
