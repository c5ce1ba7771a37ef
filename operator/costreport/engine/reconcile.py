"""Costs reconciled to the bill: billed cost replaces list price for every matched resource.

Matching (one rule for every provider): a node's `providerID`, a volume's handle and a bill
line's `ResourceId` are reduced to a *resource key* — lower-case, the last path segment, with
an Azure scale-set instance (`…/virtualMachineScaleSets/<set>/virtualMachines/<n>`) reduced
to its scale set, so `aws:///us-east-1a/i-0abc`, `arn:aws:ec2:…:instance/i-0abc` and `i-0abc`
meet, as do `gce://project/zone/node-1` and `//compute.googleapis.com/…/instances/node-1`.
A LoadBalancer service matches the bill line tagged `kubernetes.io/service-name` =
`<namespace>/<name>` (how the AWS, GCP and Azure cloud providers tag the balancers they make).

For every step set and matched resource, a factor = (billed effective cost + the list cost of
its hours no bill line covers yet) / list cost in the set: hours past the bill's end (bills
arrive a day or three late) keep their list price until their line arrives. Bill lines are
spread over the node-hours (volume-hours, balancer-hours) of the resources they match within
their charge period, so a daily line of a node that lived six hours bills those six hours, and a
scale set's line is shared by its instances. The engine prices with the factors; the response
keeps OpenCost's list-priced `cpuCost`, `ramCost`, `gpuCost`, `pvCost`, `loadBalancerCost` and
carries the difference in the matching `…CostAdjustment` fields, so every row's `totalCost`,
idle included, sums to the bill of the matched resources plus the list cost of the hours no
line covers.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from costreport.model.allocation import AllocationSet, AllocationSetRange, JSONDict
from costreport.model.cluster import GIB, ClusterData, ResourceBill
from costreport.model.window import Window

FloatArray = np.ndarray

_SCALE_SET_INSTANCE = re.compile(r"/virtualmachines/[^/]+$")
ADJUSTED = (
    ("cpuCost", "cpuCostAdjustment"),
    ("ramCost", "ramCostAdjustment"),
    ("gpuCost", "gpuCostAdjustment"),
    ("pvCost", "pvCostAdjustment"),
    ("loadBalancerCost", "loadBalancerCostAdjustment"),
)


def resource_key(resource_id: str) -> str:
    """The provider-neutral key a resource id and a bill `ResourceId` meet on."""
    text = resource_id.strip().lower().rstrip("/")
    text = _SCALE_SET_INSTANCE.sub("", text)
    return text.rsplit("/", 1)[-1] if text else ""


def service_key(namespace: str, service: str) -> str:
    """The key of a LoadBalancer service's bill lines (from `kubernetes.io/service-name`)."""
    return f"service:{namespace}/{service}"


@dataclass(slots=True)
class Factors:
    """Price multipliers per (set, node), (set, volume), (set, balancer); 1 = list price."""

    node: np.ndarray
    volume: np.ndarray
    balancer: np.ndarray
    matched_list: float = 0.0
    total_list: float = 0.0
    unmatched: list[str] = field(default_factory=list)


def _spread(
    bill: ResourceBill, lives: Sequence[tuple[int, float, float]], sets: Sequence[Window]
) -> tuple[dict[int, np.ndarray], bool]:
    """Each resource's billed cost per set: a line's cost over its resources' hours in it."""
    out: dict[int, np.ndarray] = {}
    any_line = False
    for a, z, cost in zip(bill.start.tolist(), bill.end.tolist(), bill.cost.tolist(), strict=True):
        present = [(i, max(s0, a), min(s1, z)) for i, s0, s1 in lives if min(s1, z) > max(s0, a)]
        total = sum(t1 - t0 for _, t0, t1 in present)
        if total <= 0:
            continue
        any_line = True
        for i, t0, t1 in present:
            per_set = out.setdefault(i, np.zeros(len(sets)))
            for k, window in enumerate(sets):
                seconds = min(t1, window.end_ts) - max(t0, window.start_ts)
                if seconds > 0:
                    per_set[k] += cost * seconds / total
    return out, any_line


def _covered(bill: ResourceBill, life: tuple[float, float], sets: Sequence[Window]) -> np.ndarray:
    """Per set: the seconds of a resource's life that some bill line's charge period covers.
    Hours no line covers yet (the bill arrives a day or three late) keep their list price."""
    spans = sorted(zip(bill.start.tolist(), bill.end.tolist(), strict=True))
    merged: list[list[float]] = []
    for a, z in spans:
        if merged and a <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], z)
        elif z > a:
            merged.append([a, z])
    s0, s1 = life
    out = np.zeros(len(sets))
    for a, z in merged:
        a, z = max(a, s0), min(z, s1)
        if z <= a:
            continue
        for k, window in enumerate(sets):
            seconds = min(z, window.end_ts) - max(a, window.start_ts)
            if seconds > 0:
                out[k] += seconds
    return out


def _share_covered(
    bill: ResourceBill, life: tuple[float, float], sets: Sequence[Window]
) -> np.ndarray:
    """Per set: the share of a resource's life in the set that bill lines cover (0…1)."""
    s0, s1 = life
    lived = np.array([max(min(s1, w.end_ts) - max(s0, w.start_ts), 0.0) for w in sets])
    covered = _covered(bill, life, sets)
    return np.where(lived > 0, np.minimum(covered / np.where(lived > 0, lived, 1), 1.0), 0.0)


def _factor(billed: np.ndarray, listed: np.ndarray, covered: np.ndarray) -> np.ndarray:
    """Per set: (billed cost + list cost of the uncovered part) ÷ list cost (1 without any)."""
    reconciled = billed + listed * (1.0 - covered)
    return np.where(listed > 0, reconciled / np.where(listed > 0, listed, 1), 1.0)


def reconciliation_factors(data: ClusterData, sets: Sequence[Window]) -> Factors:
    """The factors of every matched node, volume and balancer in every set."""
    n_sets = len(sets)
    factors = Factors(
        node=np.ones((n_sets, len(data.nodes) + 1)),
        volume=np.ones((n_sets, len(data.volumes))),
        balancer=np.ones((n_sets, len(data.load_balancers))),
    )
    bills = data.bills
    groups: dict[str, list[tuple[int, float, float]]] = {}
    for i, n in enumerate(data.nodes):
        groups.setdefault(resource_key(n.provider_id), []).append((i, n.start, n.end))
    for key, lives in groups.items():
        list_cost = np.zeros((n_sets, len(lives)))
        for j, (i, s0, s1) in enumerate(lives):
            n = data.nodes[i]
            hourly = (n.cpu_cores * n.cpu_price + n.ram_bytes / GIB * n.ram_price) * (
                1 - n.discount
            ) + n.gpu_count * n.gpu_price
            for k, window in enumerate(sets):
                seconds = min(s1, window.end_ts) - max(s0, window.start_ts)
                list_cost[k, j] = hourly * max(seconds, 0.0) / 3600.0
        factors.total_list += float(list_cost.sum())
        bill = bills.get(key) if key else None
        billed, matched = _spread(bill, lives, sets) if bill is not None else ({}, False)
        if bill is None or not matched:
            for i, _, _ in lives:
                name = data.nodes[i].name
                factors.unmatched.append(
                    f"node {name} ({data.nodes[i].provider_id or 'no providerID'})"
                )
            continue
        for j, (i, s0, s1) in enumerate(lives):
            got = billed.get(i, np.zeros(n_sets))
            share = _share_covered(bill, (s0, s1), sets)
            factors.matched_list += float((list_cost[:, j] * share).sum())
            factors.node[:, i] = _factor(got, list_cost[:, j], share)
    for i, pv in enumerate(data.volumes):
        bill = bills.get(resource_key(pv.provider_id)) if pv.provider_id else None
        _set_factor(
            factors.volume,
            i,
            bill,
            [(i, pv.start, pv.end)],
            sets,
            pv.bytes / GIB * pv.price_gib_hour,
            factors,
            f"volume {pv.name}",
        )
    for i, lb in enumerate(data.load_balancers):
        bill = bills.get(service_key(lb.namespace, lb.service))
        _set_factor(
            factors.balancer,
            i,
            bill,
            [(i, lb.start, lb.end)],
            sets,
            lb.price_hour,
            factors,
            f"load balancer {lb.namespace}/{lb.service}",
        )
    return factors


def _set_factor(
    target: np.ndarray,
    i: int,
    bill: ResourceBill | None,
    lives: list[tuple[int, float, float]],
    sets: Sequence[Window],
    hourly: float,
    factors: Factors,
    name: str,
) -> None:
    _, s0, s1 = lives[0]
    listed = np.array(
        [hourly * max(min(s1, w.end_ts) - max(s0, w.start_ts), 0.0) / 3600.0 for w in sets]
    )
    if bill is None:
        factors.unmatched.append(name)
        return
    billed, matched = _spread(bill, lives, sets)
    if not matched:
        factors.unmatched.append(name)
        return
    got = billed.get(i, np.zeros(len(sets)))
    target[:, i] = _factor(got, listed, _share_covered(bill, (s0, s1), sets))


def merge_adjustments(
    listed: AllocationSetRange, reconciled: AllocationSetRange, declaration: JSONDict
) -> AllocationSetRange:
    """The reconciled answer with list-priced resource costs and their adjustments."""
    out_sets: list[AllocationSet] = []
    for base, recon in zip(listed.sets, reconciled.sets, strict=True):
        index = {name: i for i, name in enumerate(base.names)}
        positions = np.array([index.get(n, -1) for n in recon.names], dtype=np.int64)
        found = positions >= 0
        columns = dict(recon.columns)
        for cost, adjustment in ADJUSTED:
            taken = base.columns[cost][np.maximum(positions, 0)] if len(base.names) else 0.0
            list_values = np.where(found, taken, 0.0)
            columns[adjustment] = recon.columns[cost] - list_values + recon.columns[adjustment]
            columns[cost] = list_values
        out_sets.append(replace(recon, columns=columns))
    meta = dict(reconciled.meta)
    meta["costBasis"] = declaration
    return AllocationSetRange(out_sets, meta)
