"""Allocation results and their exact OpenCost JSON (reference §2).

Rows are kept in columns (one float array per JSON field) so that a set of ten thousand rows
renders without per-field Python work: rounding (12 significant digits) is vectorised and
each row becomes a dict whose key order is the wire order of OpenCost's `AllocationJSON`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
from numpy.typing import NDArray

from costreport.model.window import Window

FloatArray = NDArray[np.float64]

# Wire order of the numeric fields between `minutes` and `totalEfficiency` (§2.2), with the
# nested maps inserted where they belong.
NUMERIC_FIELDS_BEFORE_PVS: tuple[str, ...] = (
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
)
NUMERIC_FIELDS_AFTER_PVS: tuple[str, ...] = (
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
)
NUMERIC_FIELDS: tuple[str, ...] = NUMERIC_FIELDS_BEFORE_PVS + NUMERIC_FIELDS_AFTER_PVS

JSONDict = dict[str, Any]


SIGNIFICANT_DIGITS = 12
"""Significant digits kept in responses: no cost is ever rounded away (OpenCost keeps 5
decimals, so a 30-second pod's $0.0000108 prints as 0.00001 or 0), and float noise such as
2.4000000000000004 still prints as 2.4."""


NOISE_FLOOR = 1e-12
"""Magnitudes below this are float noise (an idle of −4e-16), shown as 0: a one-second pod on
a thousandth of a core still costs about 2e-9."""


def round_for_response(values: FloatArray) -> list[float | None]:
    """Round to `SIGNIFICANT_DIGITS` significant digits; NaN/±Inf become null.

    A deliberate difference from OpenCost's 5 decimals: every non-zero value keeps its
    magnitude and at least 6 significant digits, whatever its size.
    """
    finite = np.isfinite(values)
    clean = np.where(finite & (np.abs(values) >= NOISE_FLOOR), values, 0.0)
    magnitude = np.floor(np.log10(np.where(clean != 0, np.abs(clean), 1.0)))
    exponent = (SIGNIFICANT_DIGITS - 1 - magnitude).astype(np.int64)
    up = np.power(10.0, np.maximum(exponent, 0))
    down = np.power(10.0, np.maximum(-exponent, 0))
    rounded = np.round(clean * up / down) * down / up
    rounded = rounded + 0.0  # normalise -0.0
    out: list[float | None] = rounded.tolist()
    if not finite.all():
        for i in np.flatnonzero(~finite).tolist():
            out[i] = None
    return out


def format_time(ts: float) -> str:
    """Render a unix timestamp as UTC RFC3339 with second precision (allocation start/end)."""
    return datetime.fromtimestamp(round(ts), tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(slots=True)
class AllocationSet:
    """One step set: a window and its rows, columnar.

    `columns` holds every field of `NUMERIC_FIELDS`; `start`/`end` are unix seconds. The
    optional per-row maps are `None` (or absent) where OpenCost omits or nulls them.
    """

    window: Window
    names: list[str]
    columns: dict[str, FloatArray]
    start: FloatArray
    end: FloatArray
    properties: list[JSONDict]
    pvs: list[JSONDict | None]
    lb_allocations: list[JSONDict | None]
    raw: list[JSONDict | None]
    shared_breakdown: list[JSONDict | None]

    def __len__(self) -> int:
        return len(self.names)

    def index_of(self, name: str) -> int:
        """Row position of the row called `name` (KeyError when absent)."""
        try:
            return self.names.index(name)
        except ValueError:
            raise KeyError(name) from None

    def to_json(self) -> dict[str, JSONDict]:
        """The set as OpenCost renders it: row name → allocation object, keys sorted."""
        rounded = {name: round_for_response(self.columns[name]) for name in NUMERIC_FIELDS}
        window = self.window.to_json()
        starts = [format_time(t) for t in self.start.tolist()]
        ends = [format_time(t) for t in self.end.tolist()]
        out: dict[str, JSONDict] = {}
        for i in sorted(range(len(self.names)), key=self.names.__getitem__):
            row: JSONDict = {
                "name": self.names[i],
                "properties": self.properties[i],
                "window": window,
                "start": starts[i],
                "end": ends[i],
            }
            for name in NUMERIC_FIELDS_BEFORE_PVS:
                row[name] = rounded[name][i]
            row["pvs"] = self.pvs[i]
            for name in NUMERIC_FIELDS_AFTER_PVS:
                row[name] = rounded[name][i]
            if self.raw[i] is not None:
                row["rawAllocationOnly"] = self.raw[i]
            row["lbAllocations"] = self.lb_allocations[i]
            if self.shared_breakdown[i]:
                row["sharedCostBreakdown"] = self.shared_breakdown[i]
            out[self.names[i]] = row
        return out

    def total(self, name: str) -> float:
        """Sum of one numeric field over all rows."""
        return float(self.columns[name].sum())


@dataclass(slots=True, repr=False)
class AllocationSetRange:
    """The answer to an allocation query: sets in chronological order plus declarations.

    `meta` states how idle and shared costs were handled, the number of source queries and any
    warnings; it travels beside `data` in API responses (clients ignore unknown keys).
    """

    sets: list[AllocationSet]
    meta: JSONDict = field(default_factory=dict)

    def __repr__(self) -> str:
        rows = sum(len(s) for s in self.sets)
        return f"AllocationSetRange({len(self.sets)} sets, {rows} rows)"

    def to_json(self) -> list[dict[str, JSONDict]]:
        """The `data` array of an OpenCost allocation response."""
        return [s.to_json() for s in self.sets]
