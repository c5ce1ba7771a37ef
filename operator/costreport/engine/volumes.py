"""Persistent-volume and load-balancer costs: on the pods using them, the rest unmounted."""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from costreport.engine.aggregate import UNMOUNTED
from costreport.engine.rows import (
    FloatArray,
    IntArray,
    RowTable,
)
from costreport.model.cluster import GIB

if TYPE_CHECKING:
    from costreport.engine.builder import AllocationBuilder


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


def attach_volumes_and_lbs(builder: AllocationBuilder, rows: RowTable) -> None:
    """Add PV and LB costs to container rows; the rest goes to unmounted pseudo rows."""
    pod_of_row = builder.members.pod[rows.member_lo]
    interesting = {m.pod for m in builder.data.mounts}
    rows_of: dict[tuple[int, int], list[int]] = defaultdict(list)
    if interesting:
        wanted = np.flatnonzero(np.isin(pod_of_row, np.fromiter(interesting, np.int64)))
        sets, pods = rows.set_index[wanted].tolist(), pod_of_row[wanted].tolist()
        for i, s, p in zip(wanted.tolist(), sets, pods, strict=True):
            rows_of[(s, p)].append(i)
    _attach_volumes(builder, rows, rows_of)
    _attach_load_balancers(builder, rows)


def _pod_bounds(builder: AllocationBuilder) -> tuple[FloatArray, FloatArray]:
    u = builder.data.usage
    pod_of_container = np.array([c.pod for c in builder.data.containers], dtype=np.int64)
    seg_pod = pod_of_container[u.container]
    start = np.full(len(builder.data.pods), np.inf)
    end = np.full(len(builder.data.pods), -np.inf)
    np.minimum.at(start, seg_pod, u.start)
    np.maximum.at(end, seg_pod, u.end)
    return start, end


def _attach_volumes(
    builder: AllocationBuilder, rows: RowTable, rows_of: dict[tuple[int, int], list[int]]
) -> None:
    if not builder.data.volumes:
        return
    pod_start, pod_end = _pod_bounds(builder)
    mounts: dict[tuple[str, str], list[int]] = defaultdict(list)
    for m in builder.data.mounts:
        mounts[(m.claim_namespace, m.claim_name)].append(m.pod)
    factors = builder.factors
    pod_cluster = builder.members.pod_values("cluster")
    for v, pv in enumerate(builder.data.volumes):
        key = f"cluster={pv.cluster}:name={pv.name}"
        claimed = bool(pv.claim_name)
        pods = mounts.get((pv.claim_namespace, pv.claim_name), []) if claimed else []
        pods = [p for p in pods if pod_cluster[p] == pv.cluster]
        for s, window in enumerate(builder.sets):
            a, b = max(pv.start, window.start_ts), min(pv.end, window.end_ts)
            if b <= a:
                continue
            shares, unmounted_hours = _volume_shares(pods, pod_start, pod_end, a, b)
            claim_gib = (pv.claim_bytes or pv.bytes) / GIB
            price = pv.price_gib_hour * (
                float(factors.volume[s, v]) if factors is not None else 1.0
            )
            for pod, hours in shares.items():
                targets = _first_row_per_container(rows, rows_of.get((s, pod), []))
                for i in targets:
                    share = hours / len(targets)
                    cost = price * claim_gib * share
                    rows.columns["pvCost"][i] += cost
                    rows.columns["pvByteHours"][i] += claim_gib * GIB * share
                    entry = rows.pvs.setdefault(i, {}).setdefault(key, _pv_entry(pv.provider_id))
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
            member = builder._pseudo(pv.cluster, ns)
            row = builder._add_pseudo(s, member, a, b)
            cost = price * gib * hours
            row["pvCost"] += cost
            row["pvByteHours"] = row.get("pvByteHours", 0.0) + gib * GIB * hours
            entry = builder.pseudo_pvs.setdefault((s, member), {}).setdefault(
                key, _pv_entry(pv.provider_id)
            )
            entry["byteHours"] = float(entry["byteHours"]) + gib * GIB * hours
            entry["cost"] = float(entry["cost"]) + cost


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


def _first_row_per_container(rows: RowTable, candidates: Sequence[int]) -> list[int]:
    seen: dict[int, int] = {}
    for i in candidates:
        seen.setdefault(int(rows.member_lo[i]), i)
    return list(seen.values())


def _attach_load_balancers(builder: AllocationBuilder, rows: RowTable) -> None:
    """Each balancer's cost per set, split over its pods' rows by their time behind it.

    Worked out per balancer in columns; the rows of a set are taken in the order of the
    balancer's pods and then of the rows (as a loop over them would), so every sum adds the
    same numbers in the same order.
    """
    factors = builder.factors
    pod_of_row = builder.members.pod[rows.member_lo] if len(rows) else rows.member_lo
    start, end = rows.columns["start"], rows.columns["end"]
    targets: list[IntArray] = []
    costs: list[FloatArray] = []
    for lb_index, lb in enumerate(builder.data.load_balancers):
        key = f"{lb.cluster}/{lb.namespace}/{lb.service}"
        service = f"{lb.namespace}/{lb.service}"
        a = np.maximum(lb.start, builder.set_start)
        b = np.minimum(lb.end, builder.set_end)
        open_sets = np.flatnonzero(b > a)
        if not open_sets.size:
            continue
        total = lb.price_hour * (b - a) / 3600.0
        if factors is not None:
            total = total * factors.balancer[:, lb_index]
        pods = np.array(list(dict.fromkeys(lb.pods)), np.int64)
        rank = np.full(len(builder.data.pods) + 1, -1, np.int64)
        rank[pods] = np.arange(pods.size)
        candidate = np.flatnonzero(rank[pod_of_row] >= 0) if len(rows) else pod_of_row
        s = rows.set_index[candidate]
        weight = np.minimum(end[candidate], b[s]) - np.maximum(start[candidate], a[s])
        keep = weight > 0  # (none in a set the balancer is not up in)
        candidate, s, weight = candidate[keep], s[keep], weight[keep]
        order = np.lexsort((candidate, rank[pod_of_row[candidate]], s))
        candidate, s, weight = candidate[order], s[order], weight[order]
        weight_sum = np.zeros(len(builder.sets))
        np.add.at(weight_sum, s, weight)  # in order: the same sums as adding one by one
        for j in open_sets.tolist():
            if weight_sum[j] > 0:
                continue
            member = builder._pseudo(lb.cluster, UNMOUNTED)
            row = builder._add_pseudo(j, member, float(a[j]), float(b[j]))
            row["loadBalancerCost"] = row.get("loadBalancerCost", 0.0) + float(total[j])
            builder.pseudo_services[(j, member)].add(service)
            builder.pseudo_lbs.setdefault((j, member), {})[key] = _lb_entry(
                service, float(total[j]), lb.private, lb.ip, float(b[j] - a[j]) / 3600.0
            )
        cost = total[s] * weight / weight_sum[s]
        for i, c, w in zip(candidate.tolist(), cost.tolist(), weight.tolist(), strict=True):
            rows.lbs.setdefault(i, {})[key] = _lb_entry(service, c, lb.private, lb.ip, w / 3600.0)
        targets.append(candidate)
        costs.append(cost)
    if targets:
        # In the order computed, so each row's sum is the same as adding one by one.
        np.add.at(rows.columns["loadBalancerCost"], np.concatenate(targets), np.concatenate(costs))
