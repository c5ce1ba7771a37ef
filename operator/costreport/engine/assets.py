"""Asset sets (reference §5): what the cluster's infrastructure cost, per window.

Node cost follows §5.2: capacity × hours × unit price, CPU and RAM discounted, GPU not. Disks
are the persistent volumes at their capacity, load balancers their hourly price over their life,
and each cluster pays its management fee. Assets can be filtered (v2 asset fields), stepped,
accumulated and aggregated by their properties, as the OpenCost UI asks.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta
from typing import Any

import numpy as np

from costreport.engine.aggregate import sanitize_key
from costreport.engine.builder import AllocationBuilder
from costreport.engine.filters import parse_filter
from costreport.engine.members import Interner
from costreport.engine.reconcile import Factors
from costreport.engine.reconcile import cost_basis as choose_basis
from costreport.model.asset import UNDEFINED, Asset, AssetSet
from costreport.model.cluster import GIB, ClusterData
from costreport.model.errors import InvalidParameter
from costreport.model.query import CostBasis
from costreport.model.window import (
    AccumulateBy,
    Window,
    accumulation_groups,
    default_step_for,
    split_window,
)

ASSET_AGGREGATE_KEYS: dict[str, str] = {
    "type": "type",
    "assettype": "type",
    "cluster": "cluster",
    "category": "category",
    "provider": "provider",
    "providerid": "providerID",
    "service": "service",
    "account": "account",
    "project": "project",
    "name": "name",
}
ACCEPTED_ASSET_AGGREGATE = (
    "empty, or a comma-separated list of type (or assetType), cluster, category, provider, "
    "providerID, service, account, project, name, label:<key>"
)


def parse_asset_aggregate(text: str | None) -> tuple[str, ...]:
    """Normalise an assets `aggregate` value; empty means one entry per asset."""
    if text is None or not text.strip():
        return ()
    keys = []
    for item in (i.strip() for i in text.split(",")):
        lowered = item.lower()
        if lowered.startswith("label:") and len(item) > 6:
            keys.append("label:" + sanitize_key(item[6:]))
        elif lowered in ASSET_AGGREGATE_KEYS:
            keys.append(ASSET_AGGREGATE_KEYS[lowered])
        else:
            raise InvalidParameter("aggregate", text, ACCEPTED_ASSET_AGGREGATE)
    return tuple(keys)


def _properties(
    cluster: str, category: str, name: str, provider: str, provider_id: str
) -> dict[str, str]:
    return {
        "category": category,
        "provider": provider,
        "service": "Kubernetes",
        "cluster": cluster,
        "name": name,
        "providerID": provider_id,
    }


def _node_usage_breakdown(
    data: ClusterData, sets: Sequence[Window]
) -> tuple[dict[tuple[int, int], tuple[float, float]], dict[tuple[int, int], tuple[float, float]]]:
    """Per (set, node): (system, user) CPU core-hours and RAM byte-hours used by workloads."""
    builder = AllocationBuilder(data, sets, Interner())
    rows = builder.container_rows()
    members = builder.members
    node_rows = members.container_node[rows.member_lo]
    system_pod = np.array([ns == "kube-system" for ns in members.pod_values("namespace")], bool)
    system = system_pod[members.container_pod[rows.member_lo]]
    cpu: dict[tuple[int, int], tuple[float, float]] = {}
    ram: dict[tuple[int, int], tuple[float, float]] = {}
    n_nodes = max(len(data.nodes), 1)
    key = rows.set_index * n_nodes + node_rows
    ok = node_rows >= 0
    for target, minutes_col in ((cpu, "cpuUsageMinutes"), (ram, "ramUsageMinutes")):
        hours = rows.columns[minutes_col] / 60.0
        sys_sum = np.bincount(key[ok & system], hours[ok & system], len(sets) * n_nodes)
        user_sum = np.bincount(key[ok & ~system], hours[ok & ~system], len(sets) * n_nodes)
        for k in np.flatnonzero((sys_sum + user_sum) > 0).tolist():
            target[(k // n_nodes, k % n_nodes)] = (float(sys_sum[k]), float(user_sum[k]))
    return cpu, ram


def _breakdown(used: tuple[float, float] | None, capacity_hours: float) -> dict[str, float]:
    system, user = used or (0.0, 0.0)
    if capacity_hours <= 0:
        return {"idle": 0.0, "other": 0.0, "system": 0.0, "user": 0.0}
    s, u = system / capacity_hours, user / capacity_hours
    return {"idle": max(0.0, 1.0 - s - u), "other": 0.0, "system": s, "user": u}


def assets_for_set(
    data: ClusterData,
    window: Window,
    set_index: int,
    usage: tuple[
        dict[tuple[int, int], tuple[float, float]], dict[tuple[int, int], tuple[float, float]]
    ],
    now: float = math.inf,
    factors: Factors | None = None,
) -> list[Asset]:
    """Every asset overlapping one window up to `now`, unaggregated (no future hours).

    With reconciliation `factors`, a matched node's, volume's or balancer's `adjustment` is
    its billed cost minus its list cost in the set, and `totalCost` includes it (OpenCost's
    `TotalCost()` adds the adjustment)."""
    a0, a1 = window.start_ts, min(window.end_ts, now)

    rows = (
        (factors.node[set_index], factors.volume[set_index], factors.balancer[set_index])
        if factors is not None
        else (None, None, None)
    )
    node_factors, volume_factors, balancer_factors = rows

    def adjustment(row: np.ndarray | None, index: int, listed: float) -> float:
        return 0.0 if row is None else listed * (float(row[index]) - 1.0)

    out: list[Asset] = []
    cpu_used, ram_used = usage
    for i, n in enumerate(data.nodes):
        start, end = max(n.start, a0), min(n.end, a1)
        if end <= start:
            continue
        hours = (end - start) / 3600.0
        cpu_cost = n.cpu_price * n.cpu_cores * hours
        ram_cost = n.ram_price * n.ram_bytes / GIB * hours
        gpu_cost = n.gpu_price * n.gpu_count * hours
        cpu_overhead = (
            1 - n.cpu_allocatable / n.cpu_cores if n.cpu_allocatable and n.cpu_cores else 0.0
        )
        ram_overhead = (
            1 - n.ram_allocatable / n.ram_bytes if n.ram_allocatable and n.ram_bytes else 0.0
        )
        base = cpu_cost + ram_cost
        overhead_cost = (cpu_overhead * cpu_cost + ram_overhead * ram_cost) / base if base else 0.0
        total = base * (1 - n.discount) + gpu_cost
        node_adjustment = adjustment(node_factors, i, total)
        total += node_adjustment
        fields: dict[str, Any] = {"nodeType": n.instance_type}
        fields.update(
            {
                "cpuCores": n.cpu_cores,
                "ramBytes": n.ram_bytes,
                "cpuCoreHours": n.cpu_cores * hours,
                "ramByteHours": n.ram_bytes * hours,
                "GPUHours": n.gpu_count * hours,
                "cpuBreakdown": _breakdown(cpu_used.get((set_index, i)), n.cpu_cores * hours),
                "ramBreakdown": _breakdown(ram_used.get((set_index, i)), n.ram_bytes * hours),
                "preemptible": 1.0 if n.spot else 0.0,
                "discount": n.discount,
                "cpuCost": cpu_cost,
                "gpuCost": gpu_cost,
                "gpuCount": n.gpu_count,
                "ramCost": ram_cost,
                "adjustment": node_adjustment,
                "overhead": {
                    "CpuOverheadFraction": cpu_overhead,
                    "RamOverheadFraction": ram_overhead,
                    "OverheadCostFraction": overhead_cost,
                },
            }
        )
        out.append(
            Asset(
                "Node",
                _properties(n.cluster, "Compute", n.name, n.provider, n.provider_id),
                window,
                start,
                end,
                total,
                fields,
                labels=dict(n.labels),
            )
        )
    for v, pv in enumerate(data.volumes):
        start, end = max(pv.start, a0), min(pv.end, a1)
        if end <= start:
            continue
        hours = (end - start) / 3600.0
        listed = pv.price_gib_hour * pv.bytes / GIB * hours
        disk_adjustment = adjustment(volume_factors, v, listed)
        out.append(
            Asset(
                "Disk",
                _properties(pv.cluster, "Storage", pv.name, "custom", pv.provider_id),
                window,
                start,
                end,
                listed + disk_adjustment,
                {
                    "byteHours": pv.bytes * hours,
                    "bytes": pv.bytes,
                    "byteHoursUsed": None,
                    "byteUsageMax": None,
                    "breakdown": {"idle": 0.0, "other": 0.0, "system": 0.0, "user": 1.0},
                    "adjustment": disk_adjustment,
                },
                {
                    "storageClass": pv.storage_class,
                    "volumeName": pv.name,
                    "claimName": pv.claim_name,
                    "claimNamespace": pv.claim_namespace,
                },
            )
        )
    for b, lb in enumerate(data.load_balancers):
        start, end = max(lb.start, a0), min(lb.end, a1)
        if end <= start:
            continue
        name = f"{lb.namespace}/{lb.service}"
        listed = lb.price_hour * (end - start) / 3600.0
        lb_adjustment = adjustment(balancer_factors, b, listed)
        out.append(
            Asset(
                "LoadBalancer",
                _properties(lb.cluster, "Network", name, "custom", lb.ip),
                window,
                start,
                end,
                listed + lb_adjustment,
                {"adjustment": lb_adjustment},
                {"private": lb.private, "ip": lb.ip},
            )
        )
    for cluster, hourly in sorted(data.cluster_management_hourly.items()):
        start, end = a0, a1
        if end <= start:
            continue
        out.append(
            Asset(
                "ClusterManagement",
                _properties(cluster, "Management", cluster, "custom", ""),
                window,
                start,
                end,
                hourly * (end - start) / 3600.0,
            )
        )
    return out


def _aggregate_name(asset: Asset, keys: Sequence[str]) -> str:
    values = []
    for key in keys:
        if key == "type":
            values.append(asset.type)
        elif key.startswith("label:"):
            values.append(asset.labels.get(key[6:]) or UNDEFINED)
        else:
            values.append(asset.properties.get(key) or UNDEFINED)
    return "/".join(values)


AVERAGES = {"cpuCores": "cpuCoreHours", "ramBytes": "ramByteHours", "gpuCount": "GPUHours"}
"""Node fields that are time-weighted averages of the hour fields: never summed over time."""
DISK_AVERAGES = {"bytes": "byteHours"}
"""Disk fields that are time-weighted averages of the hour fields."""
BREAKDOWN_WEIGHTS = {
    "cpuBreakdown": "cpuCoreHours",
    "ramBreakdown": "ramByteHours",
    "breakdown": "byteHours",
}
"""Usage breakdowns (fractions) and the capacity-hours that weight them when merged."""
TIME_WEIGHTED = ("discount", "preemptible")
"""Fractions averaged by each member's duration."""


def _weighted(parts: Sequence[tuple[Mapping[str, float], float]]) -> dict[str, float]:
    """Weighted mean of dictionaries of fractions (keys of the first)."""
    total = sum(w for _, w in parts)
    keys = list(parts[0][0])
    if total <= 0:
        return {k: float(parts[0][0].get(k, 0.0)) for k in keys}
    return {k: sum(float(d.get(k, 0.0)) * w for d, w in parts) / total for k in keys}


def merge_assets(members: Sequence[Asset], window: Window) -> Asset:
    """Merge assets over time and across assets, as OpenCost's asset `Add` does.

    Hours, byte-hours and costs add up. Capacities (`cpuCores`, `ramBytes`, `gpuCount`,
    `bytes`) are the merged hour field over the merged duration, so a node accumulated over
    seven daily sets keeps its size and nodes merged side by side add their sizes. Fractions
    (`discount`, `preemptible`) are duration-weighted; usage breakdowns are weighted by
    capacity-hours, overhead fractions by the capacity-hours or cost they describe. Strings
    (`nodeType`) and properties stay where every member agrees.
    """
    first = members[0]
    if len(members) == 1 and first.window == window:
        return first
    kind = first.type if all(m.type == first.type for m in members) else "Asset"
    properties = {
        k: v for k, v in first.properties.items() if all(m.properties.get(k) == v for m in members)
    }
    start, end = min(m.start for m in members), max(m.end for m in members)
    hours = (end - start) / 3600.0
    fields: dict[str, Any] = {}
    if kind != "Asset":
        for name, value in first.fields.items():
            values = [m.fields.get(name) for m in members]
            if isinstance(value, float | int) and not isinstance(value, bool):
                if all(isinstance(v, float | int) for v in values):
                    fields[name] = float(sum(float(v) for v in values if v is not None))
            elif isinstance(value, str) and all(v == value for v in values):
                fields[name] = value
        averages = AVERAGES if kind == "Node" else DISK_AVERAGES if kind == "Disk" else {}
        for name, hour_field in averages.items():
            if name in fields and hour_field in fields:
                fields[name] = fields[hour_field] / hours if hours > 0 else 0.0
        for name in TIME_WEIGHTED:
            if name in fields:
                fields[name] = _weighted(
                    [({"v": float(m.fields[name])}, m.minutes) for m in members]
                )["v"]
        for name, weight_field in BREAKDOWN_WEIGHTS.items():
            if all(isinstance(m.fields.get(name), Mapping) for m in members):
                fields[name] = _weighted(
                    [(m.fields[name], float(m.fields.get(weight_field) or 0.0)) for m in members]
                )
        if kind == "Node" and all(isinstance(m.fields.get("overhead"), Mapping) for m in members):
            fields["overhead"] = _merged_overhead(members)
    fields.setdefault("adjustment", 0.0)
    labels = {k: v for k, v in first.labels.items() if all(m.labels.get(k) == v for m in members)}
    return Asset(
        kind,
        properties,
        window,
        start,
        end,
        sum(m.total_cost for m in members),
        fields,
        labels=labels,
    )


def _merged_overhead(members: Sequence[Asset]) -> dict[str, float]:
    def part(name: str, weight: Callable[[Asset], float]) -> float:
        return _weighted([({"v": m.fields["overhead"][name]}, weight(m)) for m in members])["v"]

    return {
        "CpuOverheadFraction": part("CpuOverheadFraction", lambda m: m.fields["cpuCoreHours"]),
        "RamOverheadFraction": part("RamOverheadFraction", lambda m: m.fields["ramByteHours"]),
        "OverheadCostFraction": part(
            "OverheadCostFraction", lambda m: m.fields["cpuCost"] + m.fields["ramCost"]
        ),
    }


def compute_assets(
    data: ClusterData,
    window: Window,
    *,
    step: timedelta | None = None,
    accumulate: AccumulateBy = "all",
    aggregate: Sequence[str] = (),
    filter_text: str = "",
    now: float = math.inf,
    cost_basis: CostBasis = "auto",
) -> list[AssetSet]:
    """Asset sets for a window: stepped, filtered, accumulated and aggregated.

    Nothing is charged after `now`: an open window's assets end at `now`. Priced as
    allocations are (`engine.reconcile.cost_basis`): reconciled to the bill where bills
    exist, unless `list`; each set's `meta` declares the basis and its warnings.
    """
    step = step or default_step_for(accumulate)
    sets = split_window(window, step)
    compiled = parse_filter(filter_text, kind="asset")
    usage = _node_usage_breakdown(data, sets)
    basis = choose_basis(data, sets, cost_basis)
    per_set = [
        [
            a
            for a in assets_for_set(data, w, i, usage, now, basis.factors)
            if compiled.matches(a.filter_record())
        ]
        for i, w in enumerate(sets)
    ]
    meta = {"costBasis": basis.declaration, "warnings": basis.warnings, "currency": data.currency}
    result = []
    for group in accumulation_groups(sets, accumulate):
        group_window = Window(sets[group[0]].start, sets[group[-1]].end)
        buckets: dict[str, list[Asset]] = defaultdict(list)
        for i in group:
            for asset in per_set[i]:
                key = _aggregate_name(asset, aggregate) if aggregate else asset.key()
                buckets[key].append(asset)
        result.append(
            AssetSet(
                group_window,
                {k: merge_assets(members, group_window) for k, members in buckets.items()},
                meta,
            )
        )
    return result
