"""FOCUS 1.3 origins besides nodes: persistent volumes and load balancers, split per pod.

A volume-day's origin charge is what the allocation charges for the volume that day: the pods
mounting its claim (their `pvs` entries) plus the unmounted remainder (the `<ns>-unmounted-pvcs`
and `__unmounted__` rows: `AllocatedResourceId` null). A load balancer's is its pods' shares
(`lbAllocations`) plus the unmatched remainder. So allocated rows sum exactly to the origin; when
reconciled, the costs already carry the bill's factor (`ListCost` is the list price).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from costreport.engine.focus_columns import PROVIDERS, complete_row, origin_basis
from costreport.engine.reconcile import reconciliation_factors, resource_key, service_key
from costreport.model.allocation import AllocationSet
from costreport.model.cluster import ClusterData
from costreport.model.window import Window

METHOD_ID = "costreport-volume-claim-hours-v1"
LB_METHOD_ID = "costreport-loadbalancer-running-time-v1"


def _unmounted(props: Mapping[str, Any], name: str) -> bool:
    pod = str(props.get("pod", ""))
    return "__unmounted__" in name or pod.endswith("-unmounted-pvcs") or pod == "__unmounted__"


def storage_rows(
    data: ClusterData,
    s: AllocationSet,
    day: Window,
    basis: str,
    reconciled: bool,
    namespaces: Sequence[str] | None,
) -> Iterator[dict[str, Any]]:
    """The day's volume and load-balancer rows (allocated per pod, and the remainders)."""
    volumes = {f"cluster={v.cluster}:name={v.name}": (i, v) for i, v in enumerate(data.volumes)}
    balancers = {
        f"{b.cluster}/{b.namespace}/{b.service}": (i, b) for i, b in enumerate(data.load_balancers)
    }
    factors = reconciliation_factors(data, [day]) if reconciled else None
    for i, name in enumerate(s.names):
        props = s.properties[i]
        remainder = _unmounted(props, name)
        namespace = str(props.get("namespace", ""))
        if remainder and namespaces is not None:
            continue  # every tenant's unmounted remainder
        if not remainder and namespaces is not None and namespace not in namespaces:
            continue
        pod = str(props.get("pod", ""))
        cluster = str(props.get("cluster", ""))
        for key, entry in (s.pvs[i] or {}).items():
            found = volumes.get(key)
            if found is None or not isinstance(entry, Mapping):
                continue
            index, pv = found
            effective = float(entry.get("cost") or 0.0)
            factor = float(factors.volume[0, index]) if factors is not None else 1.0
            gib_hours = float(entry.get("byteHours") or 0.0) / 2**30
            dims = _dims(
                pv.cluster,
                pv.provider_id or pv.name,
                pv.name,
                "Volume",
                "Storage",
                "Kubernetes persistent volumes",
            )
            row = _row(
                effective,
                effective / factor if factor else effective,
                remainder,
                cluster,
                namespace,
                pod,
                props,
            )
            _consumed(row, gib_hours, "GiB-Hours", METHOD_ID, remainder)
            own, ratio = origin_basis(data, resource_key(pv.provider_id), day, basis)
            yield complete_row(data, day, dims, row, own, ratio)
        for key, entry in (s.lb_allocations[i] or {}).items():
            found_lb = balancers.get(key)
            if found_lb is None or not isinstance(entry, Mapping):
                continue
            index, lb = found_lb
            effective = float(entry.get("cost") or 0.0)
            factor = float(factors.balancer[0, index]) if factors is not None else 1.0
            dims = _dims(
                lb.cluster,
                f"{lb.cluster}/{lb.namespace}/{lb.service}",
                f"{lb.namespace}/{lb.service}",
                "Load Balancer",
                "Networking",
                "Kubernetes load balancers",
            )
            row = _row(
                effective,
                effective / factor if factor else effective,
                remainder,
                cluster,
                namespace,
                pod,
                props,
            )
            _consumed(row, entry.get("hours"), "Hours", LB_METHOD_ID, remainder)
            own, ratio = origin_basis(data, service_key(lb.namespace, lb.service), day, basis)
            yield complete_row(data, day, dims, row, own, ratio)


def _dims(
    cluster: str, resource_id: str, name: str, kind: str, category: str, service: str
) -> dict[str, Any]:
    """The origin's resource columns (a volume or load balancer of `cluster`)."""
    return {
        "BillingAccountId": cluster,
        "ServiceProviderName": PROVIDERS.get("custom"),
        "HostProviderName": "Not Applicable",
        "ResourceId": resource_id,
        "ResourceName": name,
        "ResourceType": kind,
        "ServiceCategory": category,
        "ServiceName": service,
        "x_ClusterId": cluster,
        "x_Node": None,
    }


def _consumed(row: dict[str, Any], quantity: Any, unit: str, method: str, remainder: bool) -> None:
    """The consumed quantity and allocation method; an allocated row's whole share of it."""
    row.update(ConsumedQuantity=quantity, ConsumedUnit=unit, AllocatedMethodId=method)
    if not remainder:
        row["AllocatedMethodDetails"] = json.dumps(
            {"Elements": [{"AllocatedRatio": 1.0, "UsageUnit": unit, "UsageQuantity": quantity}]}
        )


def _row(
    effective: float,
    listed: float,
    remainder: bool,
    cluster: str,
    namespace: str,
    pod: str,
    props: Mapping[str, Any],
) -> dict[str, Any]:
    if remainder:
        return {
            "EffectiveCost": effective,
            "ListCost": listed,
            "ChargeDescription": "Unallocated (unmounted) capacity",
            "AllocatedResourceId": None,
            "AllocatedResourceName": None,
            "AllocatedMethodDetails": None,
            "AllocatedTags": None,
            "x_Namespace": namespace or None,
            "x_ControllerKind": None,
            "x_Controller": None,
            "x_Pod": None,
        }
    return {
        "EffectiveCost": effective,
        "ListCost": listed,
        "ChargeDescription": f"Volume or load balancer share of pod {namespace}/{pod}",
        "AllocatedResourceId": f"{cluster}/{namespace}/{pod}",
        "AllocatedResourceName": f"{cluster}/{namespace}/{pod}",
        "AllocatedTags": json.dumps(props.get("labels") or {}, sort_keys=True),
        "x_Namespace": namespace,
        "x_ControllerKind": str(props.get("controllerKind", "")) or None,
        "x_Controller": str(props.get("controller", "")) or None,
        "x_Pod": pod,
    }
