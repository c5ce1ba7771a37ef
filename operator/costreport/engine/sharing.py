"""Shared-cost distribution: shared namespaces and labels, and the fixed monthly shared cost."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from costreport.engine.aggregate import UNMOUNTED, MemberView
from costreport.engine.members import Interner, Members
from costreport.engine.rows import (
    FloatArray,
    IntArray,
    RowTable,
    SparseMap,
    network_cost,
)
from costreport.model.pricing import HOURS_PER_MONTH
from costreport.model.query import AllocationQuery
from costreport.model.window import Window


def shared_sources(members: Members, query: AllocationQuery, table: RowTable) -> IntArray:
    """Per row: index of the sharing rule that claims it (-1 for none).

    A namespace's unmounted-PVC bucket is shared with its namespace, like OpenCost's share
    filter would match it; the cluster-wide `__unmounted__` bucket never is.
    """
    if not (query.share_namespaces or query.share_labels):
        return np.full(len(table), -1, dtype=np.int64)
    namespaces = set(query.share_namespaces)

    def source_of(m: MemberView) -> int:
        if m.namespace in namespaces:
            return query.share_namespaces.index(m.namespace)
        for j, (k, v) in enumerate(query.share_labels):
            if m.labels.get(k) == v:
                return len(query.share_namespaces) + j
        return -1

    source_of_member = members.array(source_of, np.int64, by_pod=True)  # namespace, labels
    return np.where(table.member_lo >= 0, source_of_member[np.maximum(table.member_lo, 0)], -1)


def names_of_sources(query: AllocationQuery) -> list[str]:
    return list(query.share_namespaces) + [v for _, v in query.share_labels] + ["overheadCost"]


BREAKDOWN_FIELDS = (
    "cpuCost",
    "gpuCost",
    "ramCost",
    "pvCost",
    "networkCost",
    "loadBalancerCost",
    "externalCost",
)


def resource_costs(table: RowTable) -> dict[str, FloatArray]:
    c = table.columns
    return {
        "cpuCost": c["cpuCost"],
        "gpuCost": c["gpuCost"],
        "ramCost": c["ramCost"],
        "pvCost": c["pvCost"],
        "networkCost": network_cost(c),
        "loadBalancerCost": c["loadBalancerCost"],
        "externalCost": c["externalCost"],
    }


def distribute_shared(
    query: AllocationQuery,
    sets: Sequence[Window],
    now: float,
    rows: RowTable,
    row_names: IntArray,
    names: Interner,
    allocations: RowTable,
    shared_source: IntArray,
    hidden: np.ndarray,
    alloc_names: IntArray,
    n_names: int,
) -> None:
    """Spread shared allocations and the fixed monthly cost over the visible rows (§4.6).

    Rows removed by the filter keep their share (it is dropped), so visible rows never
    inflate; idle and `__unmounted__` rows receive nothing.
    """
    n_sets = len(sets)
    source_names = names_of_sources(query)
    n_sources = len(source_names)
    per_source = {f: np.zeros((n_sets, n_sources)) for f in BREAKDOWN_FIELDS}
    is_shared = shared_source >= 0
    resource = resource_costs(allocations)
    for f in BREAKDOWN_FIELDS:
        np.add.at(
            per_source[f],
            (allocations.set_index[is_shared], shared_source[is_shared]),
            resource[f][is_shared],
        )
    overhead_hourly = query.share_cost / HOURS_PER_MONTH
    fixed = np.array(
        [max(0.0, min(s.end_ts, now) - s.start_ts) / 3600.0 * overhead_hourly for s in sets]
    )
    total_by_source = np.sum([per_source[f] for f in BREAKDOWN_FIELDS], axis=0)
    total_by_source[:, n_sources - 1] += fixed
    shared_total = total_by_source.sum(axis=1)

    receives = row_names != names.codes.get(UNMOUNTED, -1)
    weight = np.where(
        receives,
        rows.total_cost() - rows.columns["sharedCost"] - rows.columns["unmountedPvCost"],
        0.0,
    )
    hidden_weight = np.zeros(n_sets)
    hidden_count = np.zeros(n_sets)
    if hidden.any():
        np.add.at(
            hidden_weight,
            allocations.set_index[hidden],
            (allocations.total_cost() - allocations.columns["unmountedPvCost"])[hidden],
        )
        visible_keys = set((rows.set_index * n_names + row_names).tolist())
        hidden_keys = (
            set((allocations.set_index[hidden] * n_names + alloc_names[hidden]).tolist())
            - visible_keys
        )
        for key in hidden_keys:
            hidden_count[key // n_names] += 1
    if query.share_split == "even":
        count = np.bincount(rows.set_index[receives], minlength=n_sets) + hidden_count
        with np.errstate(divide="ignore", invalid="ignore"):
            coef = np.where(receives, 1.0 / count[rows.set_index], 0.0)
    else:
        denominator = np.bincount(rows.set_index, weight, minlength=n_sets) + hidden_weight
        with np.errstate(divide="ignore", invalid="ignore"):
            coef = np.where(
                denominator[rows.set_index] != 0, weight / denominator[rows.set_index], 0.0
            )
    coef = np.nan_to_num(coef)
    rows.columns["sharedCost"] = rows.columns["sharedCost"] + coef * shared_total[rows.set_index]
    if query.include_shared_cost_breakdown:
        for i in np.flatnonzero(coef > 0).tolist():
            s = int(rows.set_index[i])
            entries: SparseMap = {}
            for j, source in enumerate(source_names):
                if total_by_source[s, j] == 0:
                    continue
                entry: dict[str, float | str | bool] = {
                    "name": source,
                    "totalCost": float(coef[i] * total_by_source[s, j]),
                }
                for f in BREAKDOWN_FIELDS:
                    value = per_source[f][s, j]
                    if value:
                        entry[f] = float(coef[i] * value)
                entries[source] = entry
            if entries:
                rows.breakdown[i] = entries


# -- rendering ------------------------------------------------------------------------
