"""Columnar allocation rows and the one operation the engine is built on: merging rows by key.

Container segments cut by step sets, unmounted volumes, idle, aggregation and accumulation are
all `RowTable`s; aggregating and accumulating are both `merge`: sum the additive columns, take
min/max of the time bounds, and keep a property only where all merged rows agree (OpenCost's
property intersection). Sparse per-row maps (`pvs`, `lbAllocations`, shared-cost breakdowns)
are merged key by key.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

SUM_COLUMNS: tuple[str, ...] = (
    "cpuCoreHours",
    "cpuRequestMinutes",
    "cpuUsageMinutes",
    "cpuCost",
    "gpuHours",
    "gpuRequestMinutes",
    "gpuUsageMinutes",
    "gpuCost",
    "networkTransferBytes",
    "networkReceiveBytes",
    "networkCrossZoneCost",
    "networkCrossRegionCost",
    "networkInternetCost",
    "loadBalancerCost",
    "pvByteHours",
    "pvCost",
    "ramByteHours",
    "ramRequestMinutes",
    "ramUsageMinutes",
    "ramCost",
    "sharedCost",
    "externalCost",
    "unmountedPvCost",
)
MIN_COLUMNS: tuple[str, ...] = ("start",)
MAX_COLUMNS: tuple[str, ...] = ("end", "cpuCoreUsageMax", "ramByteUsageMax")
ALL_COLUMNS: tuple[str, ...] = SUM_COLUMNS + MIN_COLUMNS + MAX_COLUMNS

# Scalar properties kept on merged rows only when every member agrees (§2.3).
PROPERTY_NAMES: tuple[str, ...] = (
    "cluster",
    "node",
    "container",
    "controller",
    "controllerKind",
    "namespace",
    "pod",
    "providerID",
)
MIXED = -1

SparseMap = dict[str, dict[str, float | str | bool]]


@dataclass(slots=True)
class RowTable:
    """Allocation rows in columns.

    `member` identifies the raw allocation a row comes from (a container or an unmounted
    pseudo-allocation); after a merge `member_lo`/`member_hi` bound the merged members so a row
    made of one member can keep its labels. `pairs` counts the raw (segment, set) rows merged.
    `props` holds interned codes (`MIXED` where members disagree). Sparse maps are keyed by row.
    """

    set_index: IntArray
    columns: dict[str, FloatArray]
    props: dict[str, IntArray]
    member_lo: IntArray
    member_hi: IntArray
    pairs: IntArray
    pvs: dict[int, SparseMap] = field(default_factory=dict)
    lbs: dict[int, SparseMap] = field(default_factory=dict)
    services: dict[int, tuple[str, ...]] = field(default_factory=dict)
    breakdown: dict[int, SparseMap] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.set_index.shape[0])

    @classmethod
    def empty(cls) -> RowTable:
        """A table with no rows."""
        return cls.zeros(0)

    @classmethod
    def zeros(cls, n: int) -> RowTable:
        """A table of `n` rows with zero costs, open bounds and mixed properties."""
        columns = {name: np.zeros(n) for name in ALL_COLUMNS}
        columns["start"] = np.full(n, np.inf)
        columns["end"] = np.full(n, -np.inf)
        return cls(
            set_index=np.zeros(n, dtype=np.int64),
            columns=columns,
            props={name: np.full(n, MIXED, dtype=np.int64) for name in PROPERTY_NAMES},
            member_lo=np.full(n, -1, dtype=np.int64),
            member_hi=np.full(n, -1, dtype=np.int64),
            pairs=np.ones(n, dtype=np.int64),
        )

    def take(self, index: IntArray | NDArray[np.bool_]) -> RowTable:
        """The rows selected by a boolean mask or an index array, in that order."""
        positions = np.flatnonzero(index) if index.dtype == np.bool_ else index
        remap: dict[int, int] = {}
        if self.pvs or self.lbs or self.services or self.breakdown:
            sparse = {*self.pvs, *self.lbs, *self.services, *self.breakdown}
            kept = np.flatnonzero(np.isin(positions, np.fromiter(sparse, np.int64, len(sparse))))
            remap = dict(zip(positions[kept].tolist(), kept.tolist(), strict=True))
        return RowTable(
            set_index=self.set_index[positions],
            columns={k: v[positions] for k, v in self.columns.items()},
            props={k: v[positions] for k, v in self.props.items()},
            member_lo=self.member_lo[positions],
            member_hi=self.member_hi[positions],
            pairs=self.pairs[positions],
            pvs={remap[i]: m for i, m in self.pvs.items() if i in remap},
            lbs={remap[i]: m for i, m in self.lbs.items() if i in remap},
            services={remap[i]: s for i, s in self.services.items() if i in remap},
            breakdown={remap[i]: m for i, m in self.breakdown.items() if i in remap},
        )

    def total_cost(self) -> FloatArray:
        """Per-row total cost: every resource cost plus shared and external costs (§2.2)."""
        c = self.columns
        return (
            c["cpuCost"]
            + c["gpuCost"]
            + c["ramCost"]
            + c["pvCost"]
            + c["loadBalancerCost"]
            + network_cost(c)
            + c["sharedCost"]
            + c["externalCost"]
        )


def network_cost(columns: Mapping[str, FloatArray]) -> FloatArray:
    """Sum of the three egress cost classes."""
    return (
        columns["networkCrossZoneCost"]
        + columns["networkCrossRegionCost"]
        + columns["networkInternetCost"]
    )


def concat(tables: Sequence[RowTable], *, consume: bool = False) -> RowTable:
    """Stack tables row-wise (sparse maps re-indexed). With `consume`, each input column is
    released as soon as it is copied, so stacking a large table costs one column more than the
    result, not a second copy of the table (the inputs are unusable afterwards)."""
    tables = [t for t in tables if len(t)] or [RowTable.empty()]
    if len(tables) == 1:
        return tables[0]
    offsets = np.cumsum([0] + [len(t) for t in tables[:-1]]).tolist()
    pvs: dict[int, SparseMap] = {}
    lbs: dict[int, SparseMap] = {}
    services: dict[int, tuple[str, ...]] = {}
    breakdown: dict[int, SparseMap] = {}
    for offset, t in zip(offsets, tables, strict=True):
        breakdown.update({offset + i: m for i, m in t.breakdown.items()})
        pvs.update({offset + i: m for i, m in t.pvs.items()})
        lbs.update({offset + i: m for i, m in t.lbs.items()})
        services.update({offset + i: s for i, s in t.services.items()})

    def stacked(parts: list[dict[str, Any]], name: str) -> NDArray[Any]:
        if consume:
            return np.concatenate([part.pop(name) for part in parts])
        return np.concatenate([part[name] for part in parts])

    columns = [t.columns for t in tables]
    props = [t.props for t in tables]
    return RowTable(
        set_index=np.concatenate([t.set_index for t in tables]),
        columns={k: stacked(columns, k) for k in ALL_COLUMNS},
        props={k: stacked(props, k) for k in PROPERTY_NAMES},
        member_lo=np.concatenate([t.member_lo for t in tables]),
        member_hi=np.concatenate([t.member_hi for t in tables]),
        pairs=np.concatenate([t.pairs for t in tables]),
        pvs=pvs,
        lbs=lbs,
        services=services,
        breakdown=breakdown,
    )


@dataclass(frozen=True, slots=True)
class Merged:
    """The result of `merge`: the merged rows and, per merged row, its group key."""

    rows: RowTable
    keys: IntArray
    inverse: IntArray


def merge(table: RowTable, keys: IntArray) -> Merged:
    """Merge rows that share a key (an integer per row), OpenCost's `Allocation.add` in bulk.

    Returns the merged table in ascending key order, the key of each merged row, and for each
    input row the index of the merged row it went to.
    """
    if len(table) == 0:
        return Merged(RowTable.empty(), np.zeros(0, np.int64), np.zeros(0, np.int64))
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    boundary = np.flatnonzero(np.diff(sorted_keys)) + 1
    starts = np.concatenate(([0], boundary))
    unique_keys = sorted_keys[starts]
    inverse = np.empty_like(keys)
    inverse[order] = np.repeat(np.arange(len(starts)), np.diff(np.append(starts, len(keys))))

    def reduce(ufunc: np.ufunc, values: NDArray[np.generic]) -> NDArray[np.generic]:
        return ufunc.reduceat(values[order], starts)

    columns: dict[str, FloatArray] = {}
    for name in SUM_COLUMNS:
        columns[name] = reduce(np.add, table.columns[name])  # type: ignore[assignment]
    for name in MIN_COLUMNS:
        columns[name] = reduce(np.minimum, table.columns[name])  # type: ignore[assignment]
    for name in MAX_COLUMNS:
        columns[name] = reduce(np.maximum, table.columns[name])  # type: ignore[assignment]
    props: dict[str, IntArray] = {}
    for name in PROPERTY_NAMES:
        lo = reduce(np.minimum, table.props[name])
        hi = reduce(np.maximum, table.props[name])
        props[name] = np.where(lo == hi, lo, MIXED)
    set_lo = reduce(np.minimum, table.set_index)
    merged = RowTable(
        set_index=set_lo,  # type: ignore[arg-type]
        columns=columns,
        props=props,
        member_lo=reduce(np.minimum, table.member_lo),  # type: ignore[arg-type]
        member_hi=reduce(np.maximum, table.member_hi),  # type: ignore[arg-type]
        pairs=reduce(np.add, table.pairs),  # type: ignore[arg-type]
    )
    _merge_sparse(table.pvs, merged.pvs, inverse, PV_AMOUNTS)
    _merge_sparse(table.lbs, merged.lbs, inverse, LB_AMOUNTS)
    _merge_sparse(table.breakdown, merged.breakdown, inverse)
    for i, services in table.services.items():
        target = int(inverse[i])
        merged.services[target] = tuple(sorted({*merged.services.get(target, ()), *services}))
    return Merged(merged, unique_keys, inverse)


def _merge_sparse(
    source: dict[int, SparseMap],
    target: dict[int, SparseMap],
    inverse: IntArray,
    amounts: tuple[str, ...] | None = None,
) -> None:
    """Sum the entries of merged rows per key: the `amounts` fields where the entries' kind
    has them fixed (`PV_AMOUNTS`, `LB_AMOUNTS`), else every float field."""
    if not source:
        return
    inverse_of = inverse.tolist()
    for i, entries in source.items():
        into = target.setdefault(inverse_of[i], {})
        for key, entry in entries.items():
            existing = into.get(key)
            if existing is None:
                into[key] = dict(entry)
            elif amounts is not None:
                for name in amounts:
                    existing[name] = float(existing[name]) + float(entry[name])
            else:
                for field_name, value in entry.items():
                    if isinstance(value, float):  # amounts; text and flags (bool is no float)
                        existing[field_name] = float(existing[field_name]) + value


PV_AMOUNTS = ("byteHours", "cost", "adjustment")
"""The summed fields of a `pvs` entry (`volumes._pv_entry`; `providerID` is text)."""
LB_AMOUNTS = ("cost", "hours", "adjustment")
"""The summed fields of a load balancer's entry (`volumes._lb_entry`; the rest is text or a
flag)."""


def overlap(a0: float, a1: float, b0: float, b1: float) -> float:
    return max(0.0, min(a1, b1) - max(a0, b0))


def ratio(numerator: NDArray[Any], denominator: NDArray[Any]) -> FloatArray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denominator > 0, numerator / np.where(denominator > 0, denominator, 1), 0.0)
