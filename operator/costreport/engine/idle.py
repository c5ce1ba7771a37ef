"""Idle cost: per node (asset minus allocated cost), shared by cost weight, scaled by filters."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from costreport.engine.rows import (
    FloatArray,
    IntArray,
    RowTable,
)
from costreport.model.cluster import GIB, ClusterData

if TYPE_CHECKING:
    from costreport.engine.builder import AllocationBuilder
from costreport.engine.members import IDLE_MEMBER, RESOURCES, Interner
from costreport.engine.rows import ratio as _ratio


def idle_rows(builder: AllocationBuilder, allocations: RowTable) -> RowTable:
    """One idle row per (set, node): node asset CPU/RAM/GPU cost minus allocated cost."""
    nodes = builder.data.nodes
    n_nodes = len(nodes)
    if n_nodes == 0:
        return RowTable.empty()
    node_of_member = builder.members.node_row
    row_node = np.where(allocations.member_lo >= 0, node_of_member[allocations.member_lo], -1)
    counted = row_node >= 0
    bins = allocations.set_index[counted] * n_nodes + row_node[counted]
    size = len(builder.sets) * n_nodes
    allocated = {
        r: np.bincount(bins, allocations.columns[r][counted], minlength=size) for r in RESOURCES
    }
    node_start = np.array([n.start for n in nodes])
    node_end = np.array([n.end for n in nodes])
    s_idx = np.repeat(np.arange(len(builder.sets)), n_nodes)
    n_idx = np.tile(np.arange(n_nodes), len(builder.sets))
    start = np.maximum(node_start[n_idx], builder.set_start[s_idx])
    end = np.minimum(node_end[n_idx], builder.set_end[s_idx])
    hours = np.maximum(end - start, 0.0) / 3600.0
    assets = node_asset_costs(builder.data, hours, n_idx)
    if builder.factors is not None:  # reconciled: the node's billed cost, not its list price
        factor = builder.factors.node[s_idx, n_idx]
        assets = {r: v * factor for r, v in assets.items()}
    keep = (hours > 0) | (allocated["cpuCost"] != 0) | (allocated["ramCost"] != 0)
    table = RowTable.zeros(int(keep.sum()))
    table.set_index = s_idx[keep]
    table.columns["start"] = np.where(hours > 0, start, builder.set_start[s_idx])[keep]
    table.columns["end"] = np.where(hours > 0, end, builder.set_start[s_idx])[keep]
    for r in RESOURCES:
        table.columns[r] = (assets[r] - allocated[r])[keep]
    table.member_lo[:] = IDLE_MEMBER
    table.member_hi[:] = IDLE_MEMBER
    code = builder.interner.code
    kept_nodes = n_idx[keep]
    table.props["cluster"] = np.array([code(nodes[i].cluster) for i in kept_nodes], np.int64)
    table.props["node"] = np.array([code(nodes[i].name) for i in kept_nodes], np.int64)
    table.props["providerID"] = np.array([code(nodes[i].provider_id) for i in kept_nodes], np.int64)
    return table


def node_asset_costs(
    data: ClusterData, hours: FloatArray, node_index: IntArray
) -> dict[str, FloatArray]:
    """Discounted CPU and RAM and undiscounted GPU cost of node rows over `hours` (§5.2)."""
    nodes = data.nodes
    cores = np.array([n.cpu_cores for n in nodes])[node_index]
    ram_gib = np.array([n.ram_bytes / GIB for n in nodes])[node_index]
    gpus = np.array([n.gpu_count for n in nodes])[node_index]
    keep = 1.0 - np.array([n.discount for n in nodes])[node_index]
    return {
        "cpuCost": cores * hours * np.array([n.cpu_price for n in nodes])[node_index] * keep,
        "ramCost": ram_gib * hours * np.array([n.ram_price for n in nodes])[node_index] * keep,
        "gpuCost": gpus * hours * np.array([n.gpu_price for n in nodes])[node_index],
    }


def idle_ids_of(table: RowTable, by_node: bool, interner: Interner) -> IntArray:
    """Idle id per row: the cluster code, or a (cluster, node) code when idle is by node."""
    if not by_node:
        return table.props["cluster"]
    pairs = zip(table.props["cluster"].tolist(), table.props["node"].tolist(), strict=True)
    return np.fromiter((interner.code(f"{c}\x00{n}") for c, n in pairs), np.int64, len(table))


def share_idle(
    allocations: RowTable, idle: RowTable, allocation_ids: IntArray, idle_ids: IntArray, width: int
) -> None:
    """Distribute idle onto allocations by cost weight per resource and idle id (§4.3).

    Resources with nothing allocated under an idle id stay in the idle rows.
    """
    a_pos, i_pos, size = _idle_groups(allocations, idle, allocation_ids, idle_ids, width)
    for r in RESOURCES:
        allocated = np.bincount(a_pos, allocations.columns[r], minlength=size)
        idle_total = np.bincount(i_pos, idle.columns[r], minlength=size)
        distributable = allocated != 0
        factor = _ratio(idle_total, allocated)
        allocations.columns[r] = allocations.columns[r] * (1.0 + factor[a_pos])
        idle.columns[r] = np.where(distributable[i_pos], 0.0, idle.columns[r])


def filter_idle(
    idle: RowTable,
    allocations: RowTable,
    passing: np.ndarray,
    allocation_ids: IntArray,
    idle_ids: IntArray,
    width: int,
) -> None:
    """Scale idle to the filtered allocations' share of cost per idle id and resource (§4.4)."""
    a_pos, i_pos, size = _idle_groups(allocations, idle, allocation_ids, idle_ids, width)
    for r in RESOURCES:
        total = np.bincount(a_pos, allocations.columns[r], minlength=size)
        kept = np.bincount(a_pos, np.where(passing, allocations.columns[r], 0.0), size)
        idle.columns[r] = idle.columns[r] * _ratio(kept, total)[i_pos]


def _idle_groups(
    allocations: RowTable, idle: RowTable, allocation_ids: IntArray, idle_ids: IntArray, width: int
) -> tuple[IntArray, IntArray, int]:
    """Group positions of allocation and idle rows by (set, idle id), and the group count."""
    a_key = allocations.set_index * width + allocation_ids
    i_key = idle.set_index * width + idle_ids
    keys = np.unique(np.concatenate([a_key, i_key]))
    return np.searchsorted(keys, a_key), np.searchsorted(keys, i_key), int(keys.size)
