"""A fleet's ledger: the clusters' data, read and decoded one cluster per worker, joined.

Clusters never share a pod, node, volume or load balancer (every identity includes the
cluster), so the data of a fleet is the plain concatenation of its clusters' data: indices are
offset, per-cluster maps are merged. Reading and decoding a cluster's raw partitions happens in
a worker with only that cluster's tables in memory, its segments already merged per step set,
so peak memory is bounded by the largest clusters being read at once, not by the fleet.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from costreport.model.cluster import (
    POD_FIELDS,
    ClusterData,
    Container,
    LoadBalancer,
    NetworkPrices,
    Node,
    PersistentVolume,
    Pod,
    PodColumns,
    UsageSegments,
    VolumeMount,
    pod_column,
)
from costreport.model.window import Window

READ_PARALLEL = 2
"""Clusters read and decoded at once (one per core of a small pod)."""


def joined_pods(parts: Sequence[Sequence[Pod]]) -> Sequence[Pod]:
    """The parts' pods in order: column by column where every part is `PodColumns`."""
    if parts and all(isinstance(p, PodColumns) for p in parts):
        return PodColumns(
            {name: [v for p in parts for v in pod_column(p, name)] for name in POD_FIELDS}
        )
    return [pod for p in parts for pod in p]


def concat_clusters(parts: Sequence[ClusterData], window: Window) -> ClusterData:
    """One `ClusterData` holding every part (parts of different clusters)."""
    if len(parts) == 1:
        return replace(parts[0], window=window)
    containers: list[Container] = []
    nodes: list[Node] = []
    volumes: list[PersistentVolume] = []
    mounts: list[VolumeMount] = []
    balancers: list[LoadBalancer] = []
    usages: list[UsageSegments] = []
    warnings: list[str] = []
    management: dict[str, float] = {}
    network: dict[str, NetworkPrices] = {}
    namespace_labels: dict[tuple[str, str], Mapping[str, str]] = {}
    namespace_annotations: dict[tuple[str, str], Mapping[str, str]] = {}
    spans = [p.coverage for p in parts if p.coverage is not None]
    pod_offset = 0
    for part in parts:
        container_offset = len(containers)
        containers.extend(replace(c, pod=c.pod + pod_offset) for c in part.containers)
        nodes.extend(part.nodes)
        volumes.extend(part.volumes)
        mounts.extend(replace(m, pod=m.pod + pod_offset) for m in part.mounts)
        balancers.extend(
            replace(b, pods=tuple(i + pod_offset for i in b.pods)) for b in part.load_balancers
        )
        usage = part.usage
        usages.append(replace(usage, container=usage.container + container_offset))
        pod_offset += len(part.pods)
        warnings.extend(w for w in part.warnings if w not in warnings)
        management.update(part.cluster_management_hourly)
        network.update(part.network_prices)
        namespace_labels.update(part.namespace_labels)
        namespace_annotations.update(part.namespace_annotations)
    first = parts[0]
    return ClusterData(
        window=window,
        nodes=nodes,
        pods=joined_pods([part.pods for part in parts]),
        containers=containers,
        usage=UsageSegments.concatenate(usages),
        volumes=volumes,
        mounts=mounts,
        load_balancers=balancers,
        cluster_management_hourly=management,
        network_prices=network,
        namespace_labels=namespace_labels,
        namespace_annotations=namespace_annotations,
        fallback_prices=first.fallback_prices,
        currency=first.currency,
        warnings=warnings,
        query_count=sum(p.query_count for p in parts),
        coverage=(min(s[0] for s in spans), max(s[1] for s in spans)) if spans else None,
    )
