"""Cutting cluster data at time bounds, losing nothing.

The ledger stores each closed hour as its own piece: every segment, node, volume and load
balancer clipped to the hour; the live tail of a query is clipped the same way. Costs are
linear in time, so clipping keeps them exact. Joining pieces back is `codec.decode`'s job.
"""

from __future__ import annotations

from dataclasses import fields, replace

import numpy as np

from costreport.model.cluster import (
    ClusterData,
    Container,
    UsageSegments,
)
from costreport.model.window import Window


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
