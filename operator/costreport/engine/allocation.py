"""Allocation queries: from cluster data to OpenCost allocation sets.

Pipeline per query (reference §1.6, §3, §4): cut usage segments by the step sets into raw
container allocations and price them on their node; attach volume and load-balancer costs
(with the unmounted buckets); compute idle per node from the node assets; share idle; set
aside shared allocations; apply the filter; aggregate by name; distribute shared costs;
accumulate. Every stage works on whole columns.
"""

from __future__ import annotations

import itertools
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from costreport.engine.aggregate import IDLE, UNMOUNTED, MemberView, row_name
from costreport.engine.filters import parse_filter
from costreport.engine.rows import (
    MIXED,
    PROPERTY_NAMES,
    FloatArray,
    IntArray,
    RowTable,
    SparseMap,
    concat,
    merge,
    network_cost,
)
from costreport.model.allocation import AllocationSet, AllocationSetRange, JSONDict
from costreport.model.cluster import GIB, ClusterData
from costreport.model.pricing import HOURS_PER_MONTH
from costreport.model.query import AllocationQuery
from costreport.model.window import Window, accumulation_groups, default_step_for, split_window

RESOURCES = ("cpuCost", "gpuCost", "ramCost")
IDLE_MEMBER = -2


class Interner:
    """Maps strings to small integers so properties and names can be compared in arrays."""

    def __init__(self) -> None:
        self.codes: dict[str, int] = {}
        self.strings: list[str] = []

    def code(self, value: str) -> int:
        """The code of `value`, allocated on first sight."""
        found = self.codes.get(value)
        if found is None:
            found = self.codes[value] = len(self.strings)
            self.strings.append(value)
        return found


@dataclass(slots=True)
class Members:
    """Every raw allocation a row can come from: containers first, then pseudo-allocations."""

    views: list[MemberView]
    node_row: list[int]
    pod: list[int]

    def add_pseudo(self, view: MemberView) -> int:
        """Register an unmounted pseudo-allocation and return its member index."""
        self.views.append(view)
        self.node_row.append(-1)
        self.pod.append(-1)
        return len(self.views) - 1


def build_members(data: ClusterData) -> Members:
    """One `MemberView` per container, with its pod's metadata and its node's row."""
    node_rows = {(n.cluster, n.name): i for i, n in enumerate(data.nodes)}
    pod_node = [node_rows.get((p.cluster, p.node), -1) for p in data.pods]
    views: list[MemberView] = []
    node_row: list[int] = []
    pods: list[int] = []
    for c in data.containers:
        p = data.pods[c.pod]
        views.append(
            MemberView(
                cluster=p.cluster,
                node=p.node,
                namespace=p.namespace,
                pod=p.name,
                container=c.name,
                controller_kind=p.controller_kind,
                controller_name=p.controller_name,
                provider_id=p.provider_id,
                labels=p.labels,
                annotations=p.annotations,
                services=p.services,
            )
        )
        node_row.append(pod_node[c.pod])
        pods.append(c.pod)
    return Members(views, node_row, pods)


def _overlap(a0: float, a1: float, b0: float, b1: float) -> float:
    return max(0.0, min(a1, b1) - max(a0, b0))


class AllocationBuilder:
    """Builds the raw allocation rows of one query: containers × sets, volumes, LBs, idle."""

    def __init__(self, data: ClusterData, sets: Sequence[Window], interner: Interner) -> None:
        self.data = data
        self.sets = list(sets)
        self.set_start = np.array([s.start_ts for s in sets])
        self.set_end = np.array([s.end_ts for s in sets])
        self.interner = interner
        self.members = build_members(data)
        self.pseudo_rows: dict[tuple[int, int], dict[str, float]] = {}
        self.pseudo_pvs: dict[tuple[int, int], SparseMap] = {}
        self.pseudo_lbs: dict[tuple[int, int], SparseMap] = {}
        self.pseudo_services: dict[tuple[int, int], set[str]] = defaultdict(set)
        self.pseudo_ids: dict[tuple[str, str], int] = {}

    # -- containers -------------------------------------------------------------------
    def container_rows(self) -> RowTable:
        """Cut every usage segment by every set it overlaps and price it on its node."""
        u = self.data.usage
        seg_index: list[IntArray] = []
        set_index: list[IntArray] = []
        for s, (s0, s1) in enumerate(zip(self.set_start, self.set_end, strict=True)):
            hit = np.flatnonzero((u.start < s1) & (u.end > s0))
            seg_index.append(hit)
            set_index.append(np.full(hit.shape[0], s, dtype=np.int64))
        seg = np.concatenate(seg_index) if seg_index else np.zeros(0, np.int64)
        sets = np.concatenate(set_index) if set_index else np.zeros(0, np.int64)
        n = seg.shape[0]
        table = RowTable.zeros(n)
        table.set_index = sets
        start = np.maximum(u.start[seg], self.set_start[sets])
        end = np.minimum(u.end[seg], self.set_end[sets])
        seconds = end - start
        hours = seconds / 3600.0
        minutes = seconds / 60.0
        member = u.container[seg]
        cpu_price, ram_price, gpu_price, zone, region, internet = self._unit_prices(member)
        c = table.columns
        c["start"], c["end"] = start, end
        c["cpuCoreHours"] = np.maximum(u.cpu_allocation[seg], u.cpu_request[seg]) * hours
        c["cpuRequestMinutes"] = u.cpu_request[seg] * minutes
        c["cpuUsageMinutes"] = u.cpu_usage[seg] * minutes
        c["cpuCost"] = c["cpuCoreHours"] * cpu_price
        c["ramByteHours"] = np.maximum(u.ram_allocation[seg], u.ram_request[seg]) * hours
        c["ramRequestMinutes"] = u.ram_request[seg] * minutes
        c["ramUsageMinutes"] = u.ram_usage[seg] * minutes
        c["ramCost"] = c["ramByteHours"] / GIB * ram_price
        c["gpuHours"] = u.gpu_request[seg] * hours
        c["gpuRequestMinutes"] = u.gpu_request[seg] * minutes
        c["gpuUsageMinutes"] = u.gpu_usage[seg] * minutes
        c["gpuCost"] = c["gpuHours"] * gpu_price
        c["networkTransferBytes"] = u.network_transfer_rate[seg] * seconds
        c["networkReceiveBytes"] = u.network_receive_rate[seg] * seconds
        c["networkCrossZoneCost"] = u.egress_zone_rate[seg] * hours * zone
        c["networkCrossRegionCost"] = u.egress_region_rate[seg] * hours * region
        c["networkInternetCost"] = u.egress_internet_rate[seg] * hours * internet
        c["cpuCoreUsageMax"] = u.cpu_usage_max[seg]
        c["ramByteUsageMax"] = u.ram_usage_max[seg]
        table.member_lo = member.copy()
        table.member_hi = member.copy()
        table.props = self._member_props(len(self.data.containers))
        table.props = {k: v[member] for k, v in table.props.items()}
        return table

    def _unit_prices(
        self, member: IntArray
    ) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]:
        nodes = self.data.nodes
        cpu_default, ram_default, gpu_default = self.data.fallback_prices
        # Last entry: containers on a node the source does not know get the default prices.
        cpu = np.array([n.cpu_price * (1 - n.discount) for n in nodes] + [cpu_default])
        ram = np.array([n.ram_price * (1 - n.discount) for n in nodes] + [ram_default])
        gpu = np.array([n.gpu_price for n in nodes] + [gpu_default])
        node_row = np.array(self.members.node_row[: len(self.data.containers)], dtype=np.int64)
        node_row = np.where(node_row < 0, len(nodes), node_row)[member]
        clusters = sorted({v.cluster for v in self.members.views})
        cluster_index = {name: i for i, name in enumerate(clusters)}
        prices = [self.data.network_prices.get(name) for name in clusters]
        zone = np.array([p.zone if p else 0.0 for p in prices] + [0.0])
        region = np.array([p.region if p else 0.0 for p in prices] + [0.0])
        internet = np.array([p.internet if p else 0.0 for p in prices] + [0.0])
        member_cluster = np.array(
            [cluster_index[v.cluster] for v in self.members.views[: len(self.data.containers)]],
            dtype=np.int64,
        )
        cl = member_cluster[member] if member.size else np.zeros(0, np.int64)
        return cpu[node_row], ram[node_row], gpu[node_row], zone[cl], region[cl], internet[cl]

    def _member_props(self, count: int) -> dict[str, IntArray]:
        code = self.interner.code
        views = self.members.views[:count]
        values = {
            "cluster": [v.cluster for v in views],
            "node": [v.node for v in views],
            "container": [v.container for v in views],
            "controller": [v.controller_name for v in views],
            "controllerKind": [v.controller_kind for v in views],
            "namespace": [v.namespace for v in views],
            "pod": [v.pod for v in views],
            "providerID": [v.provider_id for v in views],
        }
        return {
            name: np.fromiter((code(x) for x in values[name]), np.int64, count)
            for name in PROPERTY_NAMES
        }

    # -- volumes and load balancers ---------------------------------------------------
    def _pseudo(self, cluster: str, namespace: str) -> int:
        key = (cluster, namespace)
        found = self.pseudo_ids.get(key)
        if found is None:
            if namespace == UNMOUNTED:
                view = MemberView(cluster, "", UNMOUNTED, UNMOUNTED, UNMOUNTED, unmounted=True)
            else:
                pod = f"{namespace}-unmounted-pvcs"
                view = MemberView(cluster, "", namespace, pod, UNMOUNTED, unmounted=True)
            found = self.pseudo_ids[key] = self.members.add_pseudo(view)
        return found

    def _add_pseudo(self, set_idx: int, member: int, start: float, end: float) -> dict[str, float]:
        row = self.pseudo_rows.setdefault(
            (set_idx, member), {"start": start, "end": end, "pvCost": 0.0}
        )
        row["start"] = min(row["start"], start)
        row["end"] = max(row["end"], end)
        return row

    def attach_volumes_and_lbs(self, rows: RowTable) -> None:
        """Add PV and LB costs to container rows; the rest goes to unmounted pseudo rows."""
        pod_of_row = np.array(self.members.pod, dtype=np.int64)[rows.member_lo]
        interesting = {m.pod for m in self.data.mounts}
        for lb in self.data.load_balancers:
            interesting.update(lb.pods)
        rows_of: dict[tuple[int, int], list[int]] = defaultdict(list)
        if interesting:
            wanted = np.flatnonzero(np.isin(pod_of_row, np.fromiter(interesting, np.int64)))
            for i in wanted.tolist():
                rows_of[(int(rows.set_index[i]), int(pod_of_row[i]))].append(i)
        self._attach_volumes(rows, rows_of)
        self._attach_load_balancers(rows, rows_of)

    def _pod_bounds(self) -> tuple[FloatArray, FloatArray]:
        u = self.data.usage
        pod_of_container = np.array([c.pod for c in self.data.containers], dtype=np.int64)
        seg_pod = pod_of_container[u.container]
        start = np.full(len(self.data.pods), np.inf)
        end = np.full(len(self.data.pods), -np.inf)
        np.minimum.at(start, seg_pod, u.start)
        np.maximum.at(end, seg_pod, u.end)
        return start, end

    def _attach_volumes(self, rows: RowTable, rows_of: dict[tuple[int, int], list[int]]) -> None:
        if not self.data.volumes:
            return
        pod_start, pod_end = self._pod_bounds()
        mounts: dict[tuple[str, str], list[int]] = defaultdict(list)
        for m in self.data.mounts:
            mounts[(m.claim_namespace, m.claim_name)].append(m.pod)
        for pv in self.data.volumes:
            key = f"cluster={pv.cluster}:name={pv.name}"
            claimed = bool(pv.claim_name)
            pods = mounts.get((pv.claim_namespace, pv.claim_name), []) if claimed else []
            pods = [p for p in pods if self.data.pods[p].cluster == pv.cluster]
            for s, window in enumerate(self.sets):
                a, b = max(pv.start, window.start_ts), min(pv.end, window.end_ts)
                if b <= a:
                    continue
                shares, unmounted_hours = self._volume_shares(pods, pod_start, pod_end, a, b)
                claim_gib = (pv.claim_bytes or pv.bytes) / GIB
                for pod, hours in shares.items():
                    targets = self._first_row_per_container(rows, rows_of.get((s, pod), []))
                    for i in targets:
                        share = hours / len(targets)
                        cost = pv.price_gib_hour * claim_gib * share
                        rows.columns["pvCost"][i] += cost
                        rows.columns["pvByteHours"][i] += claim_gib * GIB * share
                        entry = rows.pvs.setdefault(i, {}).setdefault(
                            key, _pv_entry(pv.provider_id)
                        )
                        entry["byteHours"] = float(entry["byteHours"]) + claim_gib * GIB * share
                        entry["cost"] = float(entry["cost"]) + cost
                if not claimed:
                    hours, gib, ns = (b - a) / 3600.0, pv.bytes / GIB, UNMOUNTED
                elif not shares:
                    hours, gib, ns = (b - a) / 3600.0, pv.bytes / GIB, pv.claim_namespace
                else:
                    hours, gib, ns = unmounted_hours, claim_gib, pv.claim_namespace
                if hours <= 0:
                    continue
                member = self._pseudo(pv.cluster, ns)
                row = self._add_pseudo(s, member, a, b)
                cost = pv.price_gib_hour * gib * hours
                row["pvCost"] += cost
                row["pvByteHours"] = row.get("pvByteHours", 0.0) + gib * GIB * hours
                entry = self.pseudo_pvs.setdefault((s, member), {}).setdefault(
                    key, _pv_entry(pv.provider_id)
                )
                entry["byteHours"] = float(entry["byteHours"]) + gib * GIB * hours
                entry["cost"] = float(entry["cost"]) + cost

    @staticmethod
    def _volume_shares(
        pods: Sequence[int], pod_start: FloatArray, pod_end: FloatArray, a: float, b: float
    ) -> tuple[dict[int, float], float]:
        """Split [a, b) evenly among the pods mounting the claim at each instant (hours)."""
        spans = []
        for p in pods:
            s0, s1 = max(float(pod_start[p]), a), min(float(pod_end[p]), b)
            if s1 > s0:
                spans.append((p, s0, s1))
        if not spans:
            return {}, (b - a) / 3600.0
        cuts = sorted({a, b, *(s for _, s, _ in spans), *(e for _, _, e in spans)})
        shares: dict[int, float] = defaultdict(float)
        unmounted = 0.0
        for t0, t1 in itertools.pairwise(cuts):
            active = [p for p, s0, s1 in spans if s0 <= t0 and s1 >= t1]
            hours = (t1 - t0) / 3600.0
            if not active:
                unmounted += hours
            for p in active:
                shares[p] += hours / len(active)
        return dict(shares), unmounted

    @staticmethod
    def _first_row_per_container(rows: RowTable, candidates: Sequence[int]) -> list[int]:
        seen: dict[int, int] = {}
        for i in candidates:
            seen.setdefault(int(rows.member_lo[i]), i)
        return list(seen.values())

    def _attach_load_balancers(
        self, rows: RowTable, rows_of: dict[tuple[int, int], list[int]]
    ) -> None:
        start, end = rows.columns["start"], rows.columns["end"]
        for lb in self.data.load_balancers:
            key = f"{lb.cluster}/{lb.namespace}/{lb.service}"
            service = f"{lb.namespace}/{lb.service}"
            for s, window in enumerate(self.sets):
                a, b = max(lb.start, window.start_ts), min(lb.end, window.end_ts)
                if b <= a:
                    continue
                total = lb.price_hour * (b - a) / 3600.0
                weights = {
                    i: _overlap(float(start[i]), float(end[i]), a, b)
                    for p in lb.pods
                    for i in rows_of.get((s, p), [])
                }
                weights = {i: w for i, w in weights.items() if w > 0}
                weight_sum = sum(weights.values())
                if weight_sum <= 0:
                    member = self._pseudo(lb.cluster, UNMOUNTED)
                    row = self._add_pseudo(s, member, a, b)
                    row["loadBalancerCost"] = row.get("loadBalancerCost", 0.0) + total
                    self.pseudo_services[(s, member)].add(service)
                    self.pseudo_lbs.setdefault((s, member), {})[key] = _lb_entry(
                        service, total, lb.private, lb.ip, (b - a) / 3600.0
                    )
                    continue
                for i, w in weights.items():
                    cost = total * w / weight_sum
                    rows.columns["loadBalancerCost"][i] += cost
                    rows.lbs.setdefault(i, {})[key] = _lb_entry(
                        service, cost, lb.private, lb.ip, w / 3600.0
                    )

    def pseudo_table(self) -> RowTable:
        """The unmounted pseudo-allocations collected while attaching PVs and LBs."""
        keys = sorted(self.pseudo_rows)
        table = RowTable.zeros(len(keys))
        code = self.interner.code
        for i, (s, member) in enumerate(keys):
            values = self.pseudo_rows[(s, member)]
            table.set_index[i] = s
            for name, amount in values.items():
                table.columns[name][i] = amount
            table.columns["unmountedPvCost"][i] = values.get("pvCost", 0.0)
            table.member_lo[i] = table.member_hi[i] = member
            view = self.members.views[member]
            for prop, value in (
                ("cluster", view.cluster),
                ("node", view.node),
                ("namespace", view.namespace),
                ("pod", view.pod),
                ("container", view.container),
                ("controller", ""),
                ("controllerKind", ""),
                ("providerID", ""),
            ):
                table.props[prop][i] = code(value)
            if (s, member) in self.pseudo_pvs:
                table.pvs[i] = self.pseudo_pvs[(s, member)]
            if (s, member) in self.pseudo_lbs:
                table.lbs[i] = self.pseudo_lbs[(s, member)]
            if self.pseudo_services.get((s, member)):
                table.services[i] = tuple(sorted(self.pseudo_services[(s, member)]))
        return table

    # -- idle -------------------------------------------------------------------------
    def idle_rows(self, allocations: RowTable) -> RowTable:
        """One idle row per (set, node): node asset CPU/RAM/GPU cost minus allocated cost."""
        nodes = self.data.nodes
        n_nodes = len(nodes)
        if n_nodes == 0:
            return RowTable.empty()
        node_of_member = np.array(self.members.node_row, dtype=np.int64)
        row_node = np.where(allocations.member_lo >= 0, node_of_member[allocations.member_lo], -1)
        counted = row_node >= 0
        bins = allocations.set_index[counted] * n_nodes + row_node[counted]
        size = len(self.sets) * n_nodes
        allocated = {
            r: np.bincount(bins, allocations.columns[r][counted], minlength=size) for r in RESOURCES
        }
        node_start = np.array([n.start for n in nodes])
        node_end = np.array([n.end for n in nodes])
        s_idx = np.repeat(np.arange(len(self.sets)), n_nodes)
        n_idx = np.tile(np.arange(n_nodes), len(self.sets))
        start = np.maximum(node_start[n_idx], self.set_start[s_idx])
        end = np.minimum(node_end[n_idx], self.set_end[s_idx])
        hours = np.maximum(end - start, 0.0) / 3600.0
        assets = node_asset_costs(self.data, hours, n_idx)
        keep = (hours > 0) | (allocated["cpuCost"] != 0) | (allocated["ramCost"] != 0)
        table = RowTable.zeros(int(keep.sum()))
        table.set_index = s_idx[keep]
        table.columns["start"] = np.where(hours > 0, start, self.set_start[s_idx])[keep]
        table.columns["end"] = np.where(hours > 0, end, self.set_start[s_idx])[keep]
        for r in RESOURCES:
            table.columns[r] = (assets[r] - allocated[r])[keep]
        table.member_lo[:] = IDLE_MEMBER
        table.member_hi[:] = IDLE_MEMBER
        code = self.interner.code
        kept_nodes = n_idx[keep]
        table.props["cluster"] = np.array([code(nodes[i].cluster) for i in kept_nodes], np.int64)
        table.props["node"] = np.array([code(nodes[i].name) for i in kept_nodes], np.int64)
        table.props["providerID"] = np.array(
            [code(nodes[i].provider_id) for i in kept_nodes], np.int64
        )
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


def _pv_entry(provider_id: str) -> dict[str, float | str | bool]:
    return {"byteHours": 0.0, "cost": 0.0, "providerID": provider_id, "adjustment": 0.0}


def _lb_entry(
    service: str, cost: float, private: bool, ip: str, hours: float
) -> dict[str, float | str | bool]:
    return {
        "service": service,
        "cost": cost,
        "private": private,
        "ip": ip,
        "hours": hours,
        "adjustment": 0.0,
    }


# -- idle and shared-cost distribution -----------------------------------------------------
def _idle_ids(table: RowTable, by_node: bool, interner: Interner) -> IntArray:
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


# -- the query --------------------------------------------------------------------------
def compute_allocations(
    data: ClusterData, query: AllocationQuery, *, now: float | None = None
) -> AllocationSetRange:
    """Answer an allocation query over cluster data (OpenCost's `QueryAllocation`)."""
    now = time.time() if now is None else now
    step = query.step or default_step_for(query.accumulate)
    sets = split_window(query.window, step)
    interner = Interner()
    builder = AllocationBuilder(data, sets, interner)
    containers = builder.container_rows()
    builder.attach_volumes_and_lbs(containers)
    allocations = concat([containers, builder.pseudo_table()])
    members = builder.members.views

    idle = builder.idle_rows(allocations) if query.include_idle else RowTable.empty()
    width = 0
    if len(idle):
        alloc_ids = _idle_ids(allocations, query.idle_by_node, interner)
        idle_ids = _idle_ids(idle, query.idle_by_node, interner)
        width = len(interner.strings) + 1
    if len(idle) and query.share_idle:
        share_idle(allocations, idle, alloc_ids, idle_ids, width)
        leftover = np.zeros(len(idle), dtype=bool)
        for r in RESOURCES:
            leftover |= idle.columns[r] != 0
        if query.hide_idle_remainder:
            leftover[:] = False
        idle = idle.take(leftover)
        idle_ids = idle_ids[leftover]

    member_pass = _member_filter(members, query.filter)
    passing = member_pass[allocations.member_lo] if member_pass is not None else None
    shared_source = _shared_sources(members, query, allocations)
    shared = shared_source >= 0

    if len(idle) and passing is not None and not query.share_idle:
        filter_idle(idle, allocations, passing, alloc_ids, idle_ids, width)

    names = Interner()
    member_names = [row_name(v, query.aggregate) for v in members]
    name_code = np.fromiter((names.code(n) for n in member_names), np.int64, len(members))
    idle_code = names.code(IDLE)
    n_names = len(names.strings)
    alloc_names = name_code[allocations.member_lo] if len(allocations) else np.zeros(0, np.int64)

    visible = ~shared & (passing if passing is not None else True)
    agg = merge(
        allocations.take(visible), allocations.set_index[visible] * n_names + alloc_names[visible]
    )
    rows = agg.rows
    rows.set_index = agg.keys // n_names
    row_names = agg.keys % n_names

    if shared.any() or query.share_cost:
        hidden = ~shared & ~visible
        _distribute_shared(
            query,
            sets,
            now,
            rows,
            row_names,
            names,
            allocations,
            shared_source,
            hidden,
            alloc_names,
            n_names,
        )

    if len(idle):
        idle_merged = merge(idle, idle.set_index * n_names + idle_code)
        idle_rows = idle_merged.rows
        idle_rows.set_index = idle_merged.keys // n_names
        rows = concat([rows, idle_rows])
        row_names = np.concatenate([row_names, np.full(len(idle_rows), idle_code)])

    groups = accumulation_groups(sets, query.accumulate)
    group_of_set = np.empty(len(sets), dtype=np.int64)
    for g, members_of_group in enumerate(groups):
        group_of_set[members_of_group] = g
    acc = merge(rows, group_of_set[rows.set_index] * n_names + row_names)
    acc_rows = acc.rows
    acc_rows.set_index = acc.keys // n_names
    acc_names = acc.keys % n_names
    single_set = np.array([len(g) == 1 for g in groups])

    result_sets = []
    for g, members_of_group in enumerate(groups):
        window = Window(sets[members_of_group[0]].start, sets[members_of_group[-1]].end)
        in_group = np.flatnonzero(acc_rows.set_index == g)
        result_sets.append(
            _render_set(
                window,
                acc_rows.take(in_group),
                [names.strings[i] for i in acc_names[in_group].tolist()],
                interner,
                data,
                members,
                bool(single_set[g]),
            )
        )
    meta: JSONDict = {
        "idle": query.idle_handling(),
        "sharing": query.sharing_policy(),
        "currency": data.currency,
        "queries": data.query_count,
        "warnings": list(data.warnings),
    }
    return AllocationSetRange(result_sets, meta)


def _member_filter(members: Sequence[MemberView], text: str) -> np.ndarray | None:
    if not text.strip():
        return None
    compiled = parse_filter(text, kind="allocation")
    return np.fromiter((compiled.matches(m.filter_record()) for m in members), bool, len(members))


def _shared_sources(
    members: Sequence[MemberView], query: AllocationQuery, table: RowTable
) -> IntArray:
    """Per row: index of the sharing rule that claims it (-1 for none).

    A namespace's unmounted-PVC bucket is shared with its namespace, like OpenCost's share
    filter would match it; the cluster-wide `__unmounted__` bucket never is.
    """
    if not (query.share_namespaces or query.share_labels):
        return np.full(len(table), -1, dtype=np.int64)
    namespaces = set(query.share_namespaces)
    source_of_member = np.full(len(members), -1, dtype=np.int64)
    for i, m in enumerate(members):
        if m.namespace in namespaces:
            source_of_member[i] = query.share_namespaces.index(m.namespace)
            continue
        for j, (k, v) in enumerate(query.share_labels):
            if m.labels.get(k) == v:
                source_of_member[i] = len(query.share_namespaces) + j
                break
    return np.where(table.member_lo >= 0, source_of_member[np.maximum(table.member_lo, 0)], -1)


def _source_names(query: AllocationQuery) -> list[str]:
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


def _resource_costs(table: RowTable) -> dict[str, FloatArray]:
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


def _distribute_shared(
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
    source_names = _source_names(query)
    n_sources = len(source_names)
    per_source = {f: np.zeros((n_sets, n_sources)) for f in BREAKDOWN_FIELDS}
    is_shared = shared_source >= 0
    resource = _resource_costs(allocations)
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
def _ratio(numerator: NDArray[Any], denominator: NDArray[Any]) -> FloatArray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denominator > 0, numerator / np.where(denominator > 0, denominator, 1), 0.0)


def _efficiency(usage: FloatArray, request: FloatArray, cost: FloatArray) -> FloatArray:
    """§3.11: usage/request; without a request, 0 when unused or free, else 1."""
    fallback = np.where((usage == 0) | (cost == 0), 0.0, 1.0)
    return np.where(request > 0, _ratio(usage, request), fallback)


def derived_columns(table: RowTable) -> dict[str, FloatArray]:
    """Every numeric JSON field of `AllocationJSON` from the additive columns."""
    c = table.columns
    n = len(table)
    zero = np.zeros(n)
    start = np.where(np.isfinite(c["start"]), c["start"], 0.0)
    end = np.where(np.isfinite(c["end"]), c["end"], start)
    minutes = np.maximum(end - start, 0.0) / 60.0
    hours = minutes / 60.0
    cpu_req = _ratio(c["cpuRequestMinutes"], minutes)
    cpu_use = _ratio(c["cpuUsageMinutes"], minutes)
    ram_req = _ratio(c["ramRequestMinutes"], minutes)
    ram_use = _ratio(c["ramUsageMinutes"], minutes)
    gpu_req = _ratio(c["gpuRequestMinutes"], minutes)
    gpu_use = _ratio(c["gpuUsageMinutes"], minutes)
    cpu_eff = _efficiency(cpu_use, cpu_req, c["cpuCost"])
    ram_eff = _efficiency(ram_use, ram_req, c["ramCost"])
    gpu_eff = np.where(
        (gpu_req > 0) & (gpu_use > 0),
        _ratio(gpu_use, gpu_req),
        np.where((gpu_use == 0) | (c["gpuCost"] == 0), 0.0, 1.0),
    )
    weight = c["cpuCost"] + c["ramCost"]
    total_eff = _ratio(cpu_eff * c["cpuCost"] + ram_eff * c["ramCost"], weight)
    return {
        "minutes": minutes,
        "cpuCores": _ratio(c["cpuCoreHours"], hours),
        "cpuCoreRequestAverage": cpu_req,
        "cpuCoreUsageAverage": cpu_use,
        "cpuCoreHours": c["cpuCoreHours"],
        "cpuCost": c["cpuCost"],
        "cpuCostAdjustment": zero,
        "cpuCostIdle": zero,
        "cpuEfficiency": cpu_eff,
        "gpuCount": _ratio(c["gpuHours"], hours),
        "gpuRequestAverage": gpu_req,
        "gpuUsageAverage": gpu_use,
        "gpuHours": c["gpuHours"],
        "gpuCost": c["gpuCost"],
        "gpuCostAdjustment": zero,
        "gpuCostIdle": zero,
        "gpuEfficiency": gpu_eff,
        "networkTransferBytes": c["networkTransferBytes"],
        "networkReceiveBytes": c["networkReceiveBytes"],
        "networkCost": network_cost(c),
        "networkCrossZoneCost": c["networkCrossZoneCost"],
        "networkCrossRegionCost": c["networkCrossRegionCost"],
        "networkInternetCost": c["networkInternetCost"],
        "networkCostAdjustment": zero,
        "loadBalancerCost": c["loadBalancerCost"],
        "loadBalancerCostAdjustment": zero,
        "pvBytes": _ratio(c["pvByteHours"], hours),
        "pvByteHours": c["pvByteHours"],
        "pvCost": c["pvCost"],
        "pvCostAdjustment": zero,
        "ramBytes": _ratio(c["ramByteHours"], hours),
        "ramByteRequestAverage": ram_req,
        "ramByteUsageAverage": ram_use,
        "ramByteHours": c["ramByteHours"],
        "ramCost": c["ramCost"],
        "ramCostAdjustment": zero,
        "ramCostIdle": zero,
        "ramEfficiency": ram_eff,
        "externalCost": c["externalCost"],
        "sharedCost": c["sharedCost"],
        "totalCost": table.total_cost(),
        "totalEfficiency": total_eff,
    }


def _render_set(
    window: Window,
    table: RowTable,
    row_names: list[str],
    interner: Interner,
    data: ClusterData,
    members: Sequence[MemberView],
    single_set: bool,
) -> AllocationSet:
    strings = interner.strings
    n = len(table)
    properties: list[JSONDict] = []
    raw: list[JSONDict | None] = []
    props = {k: v.tolist() for k, v in table.props.items()}
    lo, hi = table.member_lo.tolist(), table.member_hi.tolist()
    for i in range(n):
        p: JSONDict = {}
        for name in ("cluster", "node", "container", "controller", "controllerKind"):
            code = props[name][i]
            if code != MIXED and strings[code]:
                p[name] = strings[code]
        for name in ("namespace", "pod"):
            code = props[name][i]
            if code != MIXED and strings[code]:
                p[name] = strings[code]
        single = lo[i] == hi[i] and lo[i] >= 0
        services = table.services.get(i) or (members[lo[i]].services if single else ())
        if services and (single or row_names[i] == UNMOUNTED):
            p["services"] = list(services)
        code = props["providerID"][i]
        if code != MIXED and strings[code]:
            p["providerID"] = strings[code]
        if single and not members[lo[i]].unmounted:
            view = members[lo[i]]
            if view.labels:
                p["labels"] = dict(view.labels)
            if view.annotations:
                p["annotations"] = dict(view.annotations)
        if "namespace" in p and "cluster" in p:
            ns_key = (p["cluster"], p["namespace"])
            if ns_labels := data.namespace_labels.get(ns_key):
                p["namespaceLabels"] = dict(ns_labels)
            if ns_annotations := data.namespace_annotations.get(ns_key):
                p["namespaceAnnotations"] = dict(ns_annotations)
        properties.append(p)
        if single and single_set and not members[lo[i]].unmounted and table.pairs[i] >= 1:
            raw.append(
                {
                    "cpuCoreUsageMax": float(table.columns["cpuCoreUsageMax"][i]),
                    "ramByteUsageMax": float(table.columns["ramByteUsageMax"][i]),
                }
            )
        else:
            raw.append(None)
    start = np.where(np.isfinite(table.columns["start"]), table.columns["start"], window.start_ts)
    end = np.where(np.isfinite(table.columns["end"]), table.columns["end"], start)
    return AllocationSet(
        window=window,
        names=row_names,
        columns=derived_columns(table),
        start=start,
        end=end,
        properties=properties,
        pvs=[table.pvs.get(i) for i in range(n)],
        lb_allocations=[table.lbs.get(i) for i in range(n)],
        raw=raw,
        shared_breakdown=[table.breakdown.get(i) for i in range(n)],
    )
