"""Rendering allocation rows: derived columns (averages, efficiencies) and OpenCost's JSON sets."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from costreport.engine.aggregate import UNMOUNTED, MemberView
from costreport.engine.members import Interner
from costreport.engine.rows import (
    MIXED,
    FloatArray,
    RowTable,
    network_cost,
)
from costreport.engine.rows import ratio as _ratio
from costreport.model.allocation import AllocationSet, JSONDict
from costreport.model.cluster import ClusterData
from costreport.model.window import Window


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


def render_set(
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
