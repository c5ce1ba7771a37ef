"""Raw allocation rows of one query: containers cut by the step sets, priced on their node."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import numpy as np

from costreport.engine.aggregate import POD_ATTRIBUTE_KEYS, UNMOUNTED, MemberView
from costreport.engine.idle import idle_rows
from costreport.engine.members import Interner, Members
from costreport.engine.reconcile import Factors
from costreport.engine.rows import (
    PROPERTY_NAMES,
    FloatArray,
    IntArray,
    RowTable,
    SparseMap,
)
from costreport.engine.volumes import attach_volumes_and_lbs
from costreport.model.cluster import GIB, ClusterData
from costreport.model.window import Window

_POD_ATTRIBUTE = {
    **POD_ATTRIBUTE_KEYS,
    "controller": "controller_name",
    "controllerKind": "controller_kind",
    "providerID": "provider_id",
}
"""The `Pod` attribute behind each allocation property (all but `container`)."""


class AllocationBuilder:
    """Builds the raw allocation rows of one query: containers × sets, volumes, LBs, idle."""

    def __init__(
        self,
        data: ClusterData,
        sets: Sequence[Window],
        interner: Interner,
        factors: Factors | None = None,
    ) -> None:
        self.data = data
        self.factors = factors
        """Billed/list price factors per set and resource (reconciled costs), or None."""
        self.sets = list(sets)
        self.set_start = np.array([s.start_ts for s in sets])
        self.set_end = np.array([s.end_ts for s in sets])
        self.interner = interner
        self.members = Members(data)
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
        if self.factors is not None:
            node_row = self.members.container_node
            node_row = np.where(node_row < 0, len(self.data.nodes), node_row)[member]
            factor = self.factors.node[sets, node_row]
            cpu_price, ram_price, gpu_price = (
                cpu_price * factor,
                ram_price * factor,
                gpu_price * factor,
            )
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
        table.props = {k: v[member] for k, v in self._member_props().items()}
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
        node_row = self.members.container_node
        node_row = np.where(node_row < 0, len(nodes), node_row)[member]
        pod_cluster = self.members.pod_values("cluster")
        clusters = sorted(set(pod_cluster))
        cluster_index = {name: i for i, name in enumerate(clusters)}
        prices = [self.data.network_prices.get(name) for name in clusters]
        zone = np.array([p.zone if p else 0.0 for p in prices] + [0.0])
        region = np.array([p.region if p else 0.0 for p in prices] + [0.0])
        internet = np.array([p.internet if p else 0.0 for p in prices] + [0.0])
        pod_cluster_index = np.fromiter(
            map(cluster_index.__getitem__, pod_cluster), np.int64, len(pod_cluster)
        )
        cl = pod_cluster_index[self.members.container_pod[member]] if member.size else member
        return cpu[node_row], ram[node_row], gpu[node_row], zone[cl], region[cl], internet[cl]

    def _member_props(self) -> dict[str, IntArray]:
        """Per container member: the interned code of each property, worked out per pod."""
        members = self.members
        codes: dict[str, IntArray] = {}
        for name in PROPERTY_NAMES:  # in this order, so codes are allocated as they always were
            if name == "container":
                codes[name] = self.interner.codes_of([c.name for c in self.data.containers])
            else:
                values = members.pod_values(_POD_ATTRIBUTE[name])
                codes[name] = self.interner.codes_indexed(values, members.container_pod)
        return codes

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
        attach_volumes_and_lbs(self, rows)

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

    def idle_rows(self, allocations: RowTable) -> RowTable:
        """One idle row per (set, node): node asset cost minus allocated cost."""
        return idle_rows(self, allocations)
