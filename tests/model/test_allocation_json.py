"""The allocation JSON: exact field order, rounding and nulls (reference §2.2)."""

from __future__ import annotations

import math

import numpy as np
import orjson
import pytest

from costreport.model.allocation import format_time, round_for_response
from tests.engine.helpers import rows, run

WIRE_ORDER = [
    "name",
    "properties",
    "window",
    "start",
    "end",
    "minutes",
    "cpuCores",
    "cpuCoreRequestAverage",
    "cpuCoreUsageAverage",
    "cpuCoreHours",
    "cpuCost",
    "cpuCostAdjustment",
    "cpuCostIdle",
    "cpuEfficiency",
    "gpuCount",
    "gpuRequestAverage",
    "gpuUsageAverage",
    "gpuHours",
    "gpuCost",
    "gpuCostAdjustment",
    "gpuCostIdle",
    "gpuEfficiency",
    "networkTransferBytes",
    "networkReceiveBytes",
    "networkCost",
    "networkCrossZoneCost",
    "networkCrossRegionCost",
    "networkInternetCost",
    "networkCostAdjustment",
    "loadBalancerCost",
    "loadBalancerCostAdjustment",
    "pvBytes",
    "pvByteHours",
    "pvCost",
    "pvs",
    "pvCostAdjustment",
    "ramBytes",
    "ramByteRequestAverage",
    "ramByteUsageAverage",
    "ramByteHours",
    "ramCost",
    "ramCostAdjustment",
    "ramCostIdle",
    "ramEfficiency",
    "externalCost",
    "sharedCost",
    "totalCost",
    "totalEfficiency",
]


def test_raw_row_field_order_includes_raw_allocation_only_before_lb_allocations() -> None:
    row = rows(run())["c1/n1/a/web-1/app"]
    assert list(row) == [*WIRE_ORDER, "rawAllocationOnly", "lbAllocations"]


def test_merged_row_omits_raw_and_empty_breakdown_and_nulls_empty_maps() -> None:
    row = rows(run(aggregate=("label:app",)))["__unallocated__"]  # train + cron-1
    assert list(row) == [*WIRE_ORDER, "lbAllocations"]
    assert row["pvs"] is None
    assert row["lbAllocations"] is None


def test_shared_breakdown_comes_last() -> None:
    row = rows(
        run(
            aggregate=("namespace",),
            share_namespaces=("b",),
            include_shared_cost_breakdown=True,
        )
    )["a"]
    assert list(row)[-2:] == ["lbAllocations", "sharedCostBreakdown"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        # 12 significant digits, never 5 decimals: no cost is rounded away or doubled.
        (0.0000108, 0.0000108),  # OpenCost prints 0.00001
        (2.5e-6, 2.5e-6),  # OpenCost prints 0
        (-0.000001, -0.000001),
        (1.23456789012345e-7, 1.23456789012e-7),
        (1234567.891234567, 1234567.89123),
        (2.4000000000000004, 2.4),  # float noise is not shown
        (0.48000000000000004, 0.48),
        (4e-16, 0.0),  # below the noise floor
        (0.0, 0.0),
        (math.nan, None),
        (math.inf, None),
        (-math.inf, None),
    ],
)
def test_round_for_response(value: float, expected: float | None) -> None:
    assert round_for_response(np.array([value])) == [expected]


def test_negative_zero_is_rendered_as_zero() -> None:
    assert orjson.dumps(round_for_response(np.array([-1e-15, -0.0]))) == b"[0.0,0.0]"


def test_times_render_in_utc_with_seconds() -> None:
    assert format_time(1_762_000_000.4) == "2025-11-01T12:26:40Z"
