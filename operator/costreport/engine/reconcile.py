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


Bounds = tuple[np.ndarray, np.ndarray]
"""The step sets' start and end times (unix seconds), as two arrays."""


def _seconds(bounds: Bounds, a: float, z: float) -> np.ndarray:
    """Per set: the seconds of [a, z) inside it."""
    starts, ends = bounds
    seconds: np.ndarray = np.clip(np.minimum(z, ends) - np.maximum(a, starts), 0.0, None)
    return seconds


def _spread(
    bill: ResourceBill, lives: Sequence[tuple[int, float, float]], bounds: Bounds
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
            per_set = out.setdefault(i, np.zeros(len(bounds[0])))
            per_set += cost * _seconds(bounds, t0, t1) / total
    return out, any_line


def _share_covered(bill: ResourceBill, life: tuple[float, float], bounds: Bounds) -> np.ndarray:
    """Per set: the share of a resource's life in it that some bill line's charge period covers
    (0…1); hours no line covers yet (the bill arrives a day or three late) keep their list
    price."""
    spans = sorted(zip(bill.start.tolist(), bill.end.tolist(), strict=True))
    merged: list[list[float]] = []
    for a, z in spans:
        if merged and a <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], z)
        elif z > a:
            merged.append([a, z])
    s0, s1 = life
    covered = np.zeros(len(bounds[0]))
    for a, z in merged:
        a, z = max(a, s0), min(z, s1)
        if z > a:
            covered += _seconds(bounds, a, z)
    lived = _seconds(bounds, s0, s1)
    return np.where(lived > 0, np.minimum(covered / np.where(lived > 0, lived, 1), 1.0), 0.0)


def _life_factors(
    bill: ResourceBill | None,
    lives: Sequence[tuple[int, float, float]],
    listed: np.ndarray,
    bounds: Bounds,
) -> tuple[np.ndarray, np.ndarray] | None:
    """For the lives of one resource key (a node, a scale set's instances, a volume, a
    balancer) with their list cost per set and life: the factor per set and life — (billed
    effective cost + the list cost of the hours no line covers) ÷ list cost, 1 without any —
    and the share of each life's list cost the bill covers; None when no line meets them."""
    if bill is None:
        return None
    billed, matched = _spread(bill, lives, bounds)
    if not matched:
        return None
    factor = np.ones_like(listed)
    share = np.zeros_like(listed)
    for j, (i, s0, s1) in enumerate(lives):
        got = billed.get(i, np.zeros(len(bounds[0])))
        share[:, j] = _share_covered(bill, (s0, s1), bounds)
        reconciled = got + listed[:, j] * (1.0 - share[:, j])
        factor[:, j] = np.where(
            listed[:, j] > 0, reconciled / np.where(listed[:, j] > 0, listed[:, j], 1), 1.0
        )
    return factor, share


def reconciliation_factors(data: ClusterData, sets: Sequence[Window]) -> Factors:
    """The factors of every matched node, volume and balancer in every set."""
    n_sets = len(sets)
    bounds = (np.array([w.start_ts for w in sets]), np.array([w.end_ts for w in sets]))
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
            list_cost[:, j] = hourly * _seconds(bounds, s0, s1) / 3600.0
        factors.total_list += float(list_cost.sum())
        found = _life_factors(bills.get(key) if key else None, lives, list_cost, bounds)
        if found is None:
            for i, _, _ in lives:
                name = data.nodes[i].name
                factors.unmatched.append(
                    f"node {name} ({data.nodes[i].provider_id or 'no providerID'})"
                )
            continue
        factor, share = found
        for j, (i, _, _) in enumerate(lives):
            factors.matched_list += float((list_cost[:, j] * share[:, j]).sum())
            factors.node[:, i] = factor[:, j]
    others = (
        (
            factors.volume,
            [
                (bills.get(resource_key(pv.provider_id)) if pv.provider_id else None, pv.start,
                 pv.end, pv.bytes / GIB * pv.price_gib_hour, f"volume {pv.name}")
                for pv in data.volumes
            ],
        ),
        (
            factors.balancer,
            [
                (bills.get(service_key(lb.namespace, lb.service)), lb.start, lb.end,
                 lb.price_hour, f"load balancer {lb.namespace}/{lb.service}")
                for lb in data.load_balancers
            ],
        ),
    )  # fmt: skip
    for target, resources in others:
        for i, (bill, s0, s1, hourly, name) in enumerate(resources):
            listed = (hourly * _seconds(bounds, s0, s1) / 3600.0)[:, None]
            found = _life_factors(bill, [(i, s0, s1)], listed, bounds)
            if found is None:
                factors.unmatched.append(name)
            else:
                target[:, i] = found[0][:, 0]
    return factors


@dataclass(frozen=True, slots=True)
class Basis:
    """How an answer is priced: the factors (None at list price), its `costBasis`
    declaration and the warnings that go with it."""

    factors: Factors | None
    declaration: JSONDict
    warnings: list[str]


def cost_basis(data: ClusterData, sets: Sequence[Window], requested: str) -> Basis:
    """Reconciled where bills exist unless `list` is asked for; `reconciled` without bills is
    list prices with a warning (one rule for allocations and assets)."""
    if requested == "list" or not data.bills:
        warnings = (
            ["costBasis=reconciled: no bill covers this window; list prices are shown"]
            if requested == "reconciled" and not data.bills
            else []
        )
        return Basis(None, {"basis": "list"}, warnings)
    factors = reconciliation_factors(data, sets)
    coverage = factors.matched_list / factors.total_list if factors.total_list else 0.0
    declaration: JSONDict = {
        "basis": "reconciled",
        "nodeCostMatched": round(coverage, 6),
        "unmatched": sorted(factors.unmatched),
    }
    warnings = [
        f"{name} has no bill line in the window: its list price is kept"
        for name in sorted(factors.unmatched)
    ]
    return Basis(factors, declaration, warnings)


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
