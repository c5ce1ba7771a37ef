"""Cutting cluster data at time bounds and joining the pieces back, losing nothing.

The ledger stores each closed hour as its own piece: every segment, node, volume and load
balancer clipped to the hour. Costs are linear in time, so clipping keeps them exact, and
joining pieces (hours of the ledger, the live tail) rebuilds one `ClusterData` that the engine
reads as it reads any source: pods are identified by (cluster, namespace, name, uid), nodes by
(cluster, name), volumes by (cluster, name), load balancers by (cluster, namespace, service).
Prices of an object seen in several pieces are averaged by the time each piece covers (what
Prometheus' `avg_over_time` gives the live path over the same hours).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields, replace
from typing import Any

import numpy as np

from costreport.model.cluster import (
    ClusterData,
    Container,
    LoadBalancer,
    Node,
    PersistentVolume,
    Pod,
    UsageSegments,
    VolumeMount,
)
from costreport.model.window import Window

PodKey = tuple[str, str, str, str]
"""(cluster, namespace, name, uid): one life of a pod."""


def pod_key(pod: Pod) -> PodKey:
    """A pod's identity across pieces."""
    return (pod.cluster, pod.namespace, pod.name, pod.uid)


def clip(data: ClusterData, start: float, end: float) -> ClusterData:
    """The part of `data` in [start, end): everything that overlaps, cut to the bounds."""
    u = data.usage
    hit = np.flatnonzero((u.start < end) & (u.end > start))
    used_containers = np.unique(u.container[hit])
    pod_of = np.fromiter((c.pod for c in data.containers), np.int64, len(data.containers))
    used_pods = np.unique(pod_of[used_containers]) if len(used_containers) else used_containers
    new_pod = {int(old): new for new, old in enumerate(used_pods.tolist())}
    usage = UsageSegments(**{f.name: getattr(u, f.name)[hit] for f in fields(UsageSegments)})
    usage.start = np.maximum(usage.start, start)
    usage.end = np.minimum(usage.end, end)
    usage.container = np.searchsorted(used_containers, usage.container).astype(np.int64)
    containers = [
        Container(new_pod[data.containers[c].pod], data.containers[c].name)
        for c in used_containers.tolist()
    ]
    nodes = [
        replace(n, start=max(n.start, start), end=min(n.end, end))
        for n in data.nodes
        if n.start < end and n.end > start
    ]
    volumes = [
        replace(v, start=max(v.start, start), end=min(v.end, end))
        for v in data.volumes
        if v.start < end and v.end > start
    ]
    balancers = [
        replace(
            lb,
            start=max(lb.start, start),
            end=min(lb.end, end),
            pods=tuple(new_pod[p] for p in lb.pods if p in new_pod),
        )
        for lb in data.load_balancers
        if lb.start < end and lb.end > start
    ]
    coverage = data.coverage or (data.window.start_ts, data.window.end_ts)
    covered = (max(coverage[0], start), min(coverage[1], end))
    return ClusterData(
        window=Window.from_timestamps(start, end),
        nodes=nodes,
        pods=[data.pods[p] for p in used_pods.tolist()],
        containers=containers,
        usage=usage,
        volumes=volumes,
        mounts=[replace(m, pod=new_pod[m.pod]) for m in data.mounts if m.pod in new_pod],
        load_balancers=balancers,
        cluster_management_hourly=dict(data.cluster_management_hourly),
        network_prices=dict(data.network_prices),
        namespace_labels=dict(data.namespace_labels),
        namespace_annotations=dict(data.namespace_annotations),
        fallback_prices=data.fallback_prices,
        currency=data.currency,
        warnings=list(data.warnings),
        query_count=data.query_count,
        coverage=covered if covered[1] > covered[0] else None,
        notes=dict(data.notes),
    )


def _weighted(items: Sequence[tuple[float, float]]) -> float:
    """Mean of (value, weight) pairs; the last value when no weight."""
    total = sum(w for _, w in items)
    if total <= 0:
        return items[-1][0]
    return sum(v * w for v, w in items) / total


def _merge_nodes(nodes: Sequence[Node]) -> Node:
    if len(nodes) == 1:
        return nodes[0]
    spans = [(n, n.end - n.start) for n in nodes]
    last = nodes[-1]
    return replace(
        last,
        start=min(n.start for n in nodes),
        end=max(n.end for n in nodes),
        cpu_price=_weighted([(n.cpu_price, d) for n, d in spans]),
        ram_price=_weighted([(n.ram_price, d) for n, d in spans]),
        gpu_price=_weighted([(n.gpu_price, d) for n, d in spans]),
        discount=_weighted([(n.discount, d) for n, d in spans]),
    )


def _merge_volumes(volumes: Sequence[PersistentVolume]) -> PersistentVolume:
    if len(volumes) == 1:
        return volumes[0]
    return replace(
        volumes[-1],
        start=min(v.start for v in volumes),
        end=max(v.end for v in volumes),
        price_gib_hour=_weighted([(v.price_gib_hour, v.end - v.start) for v in volumes]),
    )


def merge(pieces: Sequence[ClusterData], window: Window) -> ClusterData:
    """Join pieces (disjoint in time) into one `ClusterData` over `window`."""
    if not pieces:
        raise ValueError("merge needs at least one piece")
    pods: list[Pod] = []
    pod_index: dict[PodKey, int] = {}
    containers: list[Container] = []
    container_index: dict[tuple[int, str], int] = {}
    usage_parts: list[UsageSegments] = []
    nodes: dict[tuple[str, str], list[Node]] = {}
    volumes: dict[tuple[str, str], list[PersistentVolume]] = {}
    balancers: dict[tuple[str, str, str], list[tuple[LoadBalancer, list[int]]]] = {}
    mounts: dict[tuple[int, str, str], VolumeMount] = {}
    merged: dict[str, Any] = {
        "cluster_management_hourly": {},
        "network_prices": {},
        "namespace_labels": {},
        "namespace_annotations": {},
    }
    warnings: list[str] = []
    starts: list[float] = []
    ends: list[float] = []
    for piece in sorted(pieces, key=lambda p: p.window.start_ts):
        local_pod = []
        for pod in piece.pods:
            key = pod_key(pod)
            if key not in pod_index:
                pod_index[key] = len(pods)
                pods.append(pod)
            local_pod.append(pod_index[key])
        local_container = []
        for c in piece.containers:
            ckey = (local_pod[c.pod], c.name)
            if ckey not in container_index:
                container_index[ckey] = len(containers)
                containers.append(Container(ckey[0], c.name))
            local_container.append(container_index[ckey])
        if len(piece.usage):
            part = UsageSegments(
                **{f.name: getattr(piece.usage, f.name) for f in fields(UsageSegments)}
            )
            part.container = np.asarray(local_container, dtype=np.int64)[piece.usage.container]
            usage_parts.append(part)
        for n in piece.nodes:
            nodes.setdefault((n.cluster, n.name), []).append(n)
        for v in piece.volumes:
            volumes.setdefault((v.cluster, v.name), []).append(v)
        for lb in piece.load_balancers:
            members = [local_pod[p] for p in lb.pods]
            balancers.setdefault((lb.cluster, lb.namespace, lb.service), []).append((lb, members))
        for m in piece.mounts:
            mount = replace(m, pod=local_pod[m.pod])
            mounts[(mount.pod, m.claim_namespace, m.claim_name)] = mount
        for name in merged:
            merged[name].update(getattr(piece, name))
        for w in piece.warnings:
            if w not in warnings:
                warnings.append(w)
        if piece.coverage is not None:
            starts.append(piece.coverage[0])
            ends.append(piece.coverage[1])
    last = max(pieces, key=lambda p: p.window.end_ts)
    load_balancers = []
    for entries in balancers.values():
        first = entries[-1][0]
        members = sorted({p for _, ps in entries for p in ps})
        load_balancers.append(
            replace(
                first,
                start=min(lb.start for lb, _ in entries),
                end=max(lb.end for lb, _ in entries),
                price_hour=_weighted([(lb.price_hour, lb.end - lb.start) for lb, _ in entries]),
                pods=tuple(members),
            )
        )
    usage = UsageSegments.concatenate(usage_parts) if usage_parts else _no_usage()
    return ClusterData(
        window=window,
        nodes=[_merge_nodes(v) for v in nodes.values()],
        pods=pods,
        containers=containers,
        usage=usage,
        volumes=[_merge_volumes(v) for v in volumes.values()],
        mounts=list(mounts.values()),
        load_balancers=load_balancers,
        cluster_management_hourly=merged["cluster_management_hourly"],
        network_prices=merged["network_prices"],
        namespace_labels=merged["namespace_labels"],
        namespace_annotations=merged["namespace_annotations"],
        fallback_prices=last.fallback_prices,
        currency=last.currency,
        warnings=warnings,
        query_count=sum(p.query_count for p in pieces),
        coverage=(min(starts), max(ends)) if starts else None,
        notes=dict(last.notes),
    )


def _no_usage() -> UsageSegments:
    return UsageSegments.from_rows([])
