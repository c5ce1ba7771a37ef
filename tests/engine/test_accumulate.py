"""Step sets and accumulation agree with each other (tiny cluster)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from costreport.model.allocation import NUMERIC_FIELDS
from tests.engine.helpers import approx, rows, run

SUMMED = (
    "cpuCost",
    "ramCost",
    "gpuCost",
    "pvCost",
    "loadBalancerCost",
    "totalCost",
    "cpuCoreHours",
    "ramByteHours",
    "gpuHours",
)


def test_six_hour_steps_cut_pods_at_set_bounds() -> None:
    result = run(aggregate=("pod",), step=timedelta(hours=6))
    assert len(result.sets) == 4
    db_by_set = [s.to_json().get("db-0", {}).get("cpuCost", 0.0) for s in result.sets]
    # db-0 runs 06:00–18:00: 6 h in set 1 and 6 h in set 2, 2 cores at $0.05.
    assert db_by_set == [0.0, approx(0.6), approx(0.6), 0.0]
    windows = [s.window.to_json() for s in result.sets]
    assert windows[1] == {"start": "2026-11-01T06:00:00Z", "end": "2026-11-01T12:00:00Z"}


@pytest.mark.parametrize("include_idle", [False, True])
def test_sum_of_sets_equals_the_accumulated_set(include_idle: bool) -> None:
    options = {"aggregate": ("namespace",), "include_idle": include_idle}
    stepped = run(step=timedelta(hours=6), **options)
    accumulated = run(step=timedelta(hours=6), accumulate="all", **options)
    single = run(**options)
    assert len(accumulated.sets) == 1
    acc = rows(accumulated)
    whole = rows(single)
    assert set(acc) == set(whole)
    for name, row in acc.items():
        for field in SUMMED:
            per_set = sum(s.to_json().get(name, {}).get(field, 0.0) for s in stepped.sets)
            assert row[field] == approx(per_set), (name, field)
            assert row[field] == approx(whole[name][field]), (name, field)
    assert acc["a"]["window"] == {"start": "2026-11-01T00:00:00Z", "end": "2026-11-02T00:00:00Z"}


def test_accumulated_averages_are_minute_weighted() -> None:
    acc = rows(run(aggregate=("pod",), step=timedelta(hours=6), accumulate="all"))
    db = acc["db-0"]
    assert db["minutes"] == 720.0
    assert db["cpuCoreRequestAverage"] == 2.0
    assert "rawAllocationOnly" not in db  # merged across sets


def test_accumulate_day_without_step_yields_daily_sets() -> None:
    from datetime import UTC, datetime

    from costreport.model.window import Window

    two_days = Window(datetime(2026, 10, 31, tzinfo=UTC), datetime(2026, 11, 2, tzinfo=UTC))
    result = run(window=two_days, aggregate=("namespace",), accumulate="day")
    assert [s.window.to_json()["start"] for s in result.sets] == [
        "2026-10-31T00:00:00Z",
        "2026-11-01T00:00:00Z",
    ]
    assert result.sets[0].to_json() == {}
    assert rows(result, 1)["a"]["totalCost"] == approx(2.40)


def test_every_numeric_field_is_rendered() -> None:
    row = rows(run(aggregate=("namespace",)))["a"]
    assert all(field in row for field in NUMERIC_FIELDS)
