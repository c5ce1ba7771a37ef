"""Kubernetes allocation as FOCUS 1.3 Cost and Usage rows (split cost allocation).

One *origin charge* per node per UTC day: the node's cost that day (its bill's effective cost
when reconciled, its list price otherwise). It is split into one *allocated* row per pod that
ran on it (CPU, RAM and GPU cost of the pod's containers, OpenCost's max(request, usage)
method) and one *unallocated* row (the node's idle remainder, `AllocatedResourceId` null).
Per FOCUS 1.3's data-generator-calculated split cost allocation rules, the allocated rows copy
the origin's dimensions (`ResourceId` = the node's provider id, `ServiceName`, account,
region), and their summable columns (`BilledCost`, `EffectiveCost`, `ListCost`,
`ContractedCost`) sum exactly to the origin charge; `AllocatedMethodDetails` gives each row's
CPU/RAM/GPU ratios (summing to 1) and quantities. Custom columns carry the `x_` prefix.
Persistent volumes and load balancers are origins too (`engine.focus_storage`).

Rows are produced day by day, so memory is bounded by one day of the cluster.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from costreport.engine.allocation import compute_allocations
from costreport.engine.focus_columns import (
    COLUMNS,
    METHOD_ID,
    PROVIDERS,
    complete_row,
    origin_basis,
)
from costreport.engine.focus_storage import storage_rows
from costreport.engine.idle import node_asset_costs
from costreport.engine.reconcile import reconciliation_factors, resource_key
from costreport.model.cluster import ClusterData
from costreport.model.query import AllocationQuery, CostBasis
from costreport.model.window import Window, split_window

AGGREGATE = ("cluster", "node", "namespace", "controllerKind", "controller", "pod")


def focus_rows(
    data: ClusterData,
    window: Window,
    *,
    now: float,
    cost_basis: CostBasis = "auto",
    namespaces: Sequence[str] | None = None,
) -> Iterator[dict[str, Any]]:
    """The window's FOCUS rows, one UTC day at a time (`namespaces`: only those pods' rows and
    no unallocated rows, for a caller who sees only some namespaces)."""
    start = datetime.fromtimestamp(window.start_ts, tz=UTC).replace(hour=0, minute=0, second=0)
    days = split_window(Window(start, window.end), timedelta(days=1))
    node_index = {(n.cluster, n.name): i for i, n in enumerate(data.nodes)}
    uids: dict[tuple[str, str, str], set[str]] = {}
    tags: dict[tuple[str, str, str], dict[str, str]] = {}
    for p in data.pods:
        uids.setdefault((p.cluster, p.namespace, p.name), set()).add(p.uid)
        tags[(p.cluster, p.namespace, p.name)] = {
            **data.namespace_labels.get((p.cluster, p.namespace), {}),
            **p.labels,
        }
    for day in days:
        if day.end_ts > now:
            break  # only days that have ended: a FOCUS charge period is closed
        query = AllocationQuery(window=day, aggregate=AGGREGATE, cost_basis=cost_basis)
        result = compute_allocations(data, query, now=now)
        declared = result.meta.get("costBasis")
        reconciled = isinstance(declared, dict) and declared.get("basis") == "reconciled"
        basis = "reconciled" if reconciled else "list"
        [s] = result.sets
        n = len(data.nodes)
        hours = np.array(
            [
                max(min(x.end, day.end_ts) - max(x.start, day.start_ts), 0.0) / 3600
                for x in data.nodes
            ]
        )
        assets = node_asset_costs(data, hours, np.arange(n)) if n else {}
        factor = reconciliation_factors(data, [day]).node[0, :n] if reconciled else np.ones(n)
        origin_list = sum((assets[r] for r in assets), np.zeros(n))
        origin_effective = origin_list * factor
        allocated_list = np.zeros(n)
        allocated_effective = np.zeros(n)
        rows: list[tuple[int, dict[str, Any]]] = []
        c = s.columns
        for i, name in enumerate(s.names):
            props = s.properties[i]
            node = node_index.get((str(props.get("cluster", "")), str(props.get("node", ""))))
            if node is None or name.startswith("__"):
                continue
            parts = _parts(c, i)
            effective = sum(p[0] for p in parts.values())
            listed = float(c["cpuCost"][i] + c["ramCost"][i] + c["gpuCost"][i])
            allocated_list[node] += listed
            allocated_effective[node] += effective
            namespace = str(props.get("namespace", ""))
            if namespaces is not None and namespace not in namespaces:
                continue
            pod = str(props.get("pod", ""))
            cluster = str(props.get("cluster", ""))
            lives = uids.get((cluster, namespace, pod), set())
            elements = [
                {
                    "AllocatedRatio": cost / effective if effective else 0.0,
                    "UsageUnit": unit,
                    "UsageQuantity": quantity,
                }
                for cost, quantity, unit in parts.values()
                if quantity or cost
            ]
            if effective == 0 and elements:
                elements[0]["AllocatedRatio"] = 1.0
            rows.append(
                (
                    node,
                    {
                        "EffectiveCost": effective,
                        "ListCost": listed,
                        "ChargeDescription": f"CPU, RAM and GPU of pod {namespace}/{pod}",
                        "ConsumedQuantity": parts["CPU"][1],
                        "ConsumedUnit": "Core-Hours",
                        "AllocatedMethodId": METHOD_ID,
                        "AllocatedMethodDetails": json.dumps({"Elements": elements}),
                        "AllocatedResourceId": next(iter(lives))
                        if len(lives) == 1 and next(iter(lives))
                        else f"{cluster}/{namespace}/{pod}",
                        "AllocatedResourceName": f"{cluster}/{namespace}/{pod}",
                        "AllocatedTags": json.dumps(
                            tags.get((cluster, namespace, pod), {}), sort_keys=True
                        ),
                        "x_Namespace": namespace,
                        "x_ControllerKind": str(props.get("controllerKind", "")) or None,
                        "x_Controller": str(props.get("controller", "")) or None,
                        "x_Pod": pod,
                    },
                )
            )
        if namespaces is None:
            for node in range(n):
                if origin_list[node] <= 0 and allocated_list[node] == 0:
                    continue
                rows.append(
                    (
                        node,
                        {
                            "EffectiveCost": float(
                                origin_effective[node] - allocated_effective[node]
                            ),
                            "ListCost": float(origin_list[node] - allocated_list[node]),
                            "ChargeDescription": "Unallocated (idle) node capacity",
                            "ConsumedQuantity": None,
                            "ConsumedUnit": None,
                            "AllocatedMethodId": METHOD_ID,
                            "AllocatedMethodDetails": None,
                            "AllocatedResourceId": None,
                            "AllocatedResourceName": None,
                            "AllocatedTags": None,
                            "x_Namespace": None,
                            "x_ControllerKind": None,
                            "x_Controller": None,
                            "x_Pod": None,
                        },
                    )
                )
        for node, row in rows:  # a node without a bill line that day: list prices, flagged
            key = resource_key(data.nodes[node].provider_id)
            own, ratio = origin_basis(data, key, day, basis)
            yield _complete(data, day, node, row, own, ratio)
        yield from storage_rows(data, s, day, basis, reconciled, namespaces)


def _parts(c: Mapping[str, np.ndarray], i: int) -> dict[str, tuple[float, float, str]]:
    """(effective cost, quantity, unit) of a row's CPU, RAM and GPU."""
    return {
        "CPU": (
            float(c["cpuCost"][i] + c["cpuCostAdjustment"][i]),
            float(c["cpuCoreHours"][i]),
            "Core-Hours",
        ),
        "RAM": (
            float(c["ramCost"][i] + c["ramCostAdjustment"][i]),
            float(c["ramByteHours"][i]) / 2**30,
            "GiB-Hours",
        ),
        "GPU": (
            float(c["gpuCost"][i] + c["gpuCostAdjustment"][i]),
            float(c["gpuHours"][i]),
            "GPU-Hours",
        ),
    }


def _uid(lives: set[str]) -> str:
    """The pod's uid when the name had one life in the day (else the row names the pod)."""
    return next(iter(lives)) if len(lives) == 1 else ""


def _complete(
    data: ClusterData, day: Window, node: int, row: dict[str, Any], basis: str, billed: float
) -> dict[str, Any]:
    """A node origin's dimensions and the columns every row has."""
    n = data.nodes[node]
    provider = PROVIDERS.get(n.provider.lower(), n.provider or "Not Applicable")
    dims = {
        "BillingAccountId": n.cluster,
        "ServiceProviderName": provider,
        "HostProviderName": PROVIDERS.get(n.provider.lower(), "Not Applicable"),
        "RegionId": n.labels.get("topology_kubernetes_io_region") or None,
        "AvailabilityZone": n.labels.get("topology_kubernetes_io_zone") or None,
        "ResourceId": n.provider_id or n.name,
        "ResourceName": n.name,
        "ResourceType": "Virtual Machine",
        "ServiceCategory": "Compute",
        "ServiceName": "Kubernetes node compute",
        "x_ClusterId": n.cluster,
        "x_Node": n.name,
    }
    return complete_row(data, day, dims, row, basis, billed)


def origin_totals(rows: Sequence[Mapping[str, Any]]) -> dict[tuple[str, str], float]:
    """Σ EffectiveCost per (ResourceId, ChargePeriodStart): what each origin charge splits."""
    out: dict[tuple[str, str], float] = {}
    for r in rows:
        key = (str(r["ResourceId"]), str(r["ChargePeriodStart"]))
        out[key] = out.get(key, 0.0) + float(r["EffectiveCost"])
    return out


__all__ = ["COLUMNS", "METHOD_ID", "focus_rows", "origin_totals"]
