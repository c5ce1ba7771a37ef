"""Shorthands for running engine queries over the tiny cluster."""

from __future__ import annotations

from typing import Any

import pytest

from costreport.engine.allocation import compute_allocations
from costreport.model.allocation import AllocationSetRange
from costreport.model.query import AllocationQuery
from tests.engine.tiny_cluster import WINDOW, tiny_cluster


def run(**options: Any) -> AllocationSetRange:
    """Query the tiny cluster over its day (the day is in the past: `now` is after it)."""
    query = AllocationQuery(window=options.pop("window", WINDOW), **options)
    return compute_allocations(tiny_cluster(), query, now=WINDOW.end_ts + 3600)


def rows(result: AllocationSetRange, index: int = 0) -> dict[str, dict[str, Any]]:
    """The JSON rows of one set."""
    return result.sets[index].to_json()


def approx(expected: float) -> Any:
    """Equality up to the API's 5-decimal rounding."""
    return pytest.approx(expected, abs=1e-5)
