"""The sample cluster as a `ClusterSource`: generated once, then restricted to each window."""

from __future__ import annotations

from dataclasses import fields, replace
from datetime import UTC, datetime

import numpy as np

from costreport.model.cluster import (
    ClusterData,
    Container,
    LoadBalancer,
    NetworkPrices,
    UsageSegments,
)
from costreport.model.pricing import PricingConfig
from costreport.model.window import Window
from costreport.sources.sample.builder import DAY, SAMPLE_INSTANCE_PRICES, Builder, segments
from costreport.sources.sample.workloads import daemonsets, make_nodes, make_volumes, workloads

MIN_DAYS = 11
"""Fewest days of history the sample can generate."""


def generate_sample_cluster(
    *,
    now: datetime,
    cluster: str = "sample-cluster",
    scale: float = 1.0,
    seed: int = 42,
    days: int = 30,
    pricing: PricingConfig | None = None,
) -> ClusterData:
    """The sample cluster's `days` of history ending at `now` (at least `MIN_DAYS`: its
    workloads include nodes and rollouts that start up to ten days back)."""
    if days < MIN_DAYS:
        raise ValueError(f"the sample cluster needs days >= {MIN_DAYS} (got {days})")
    config = pricing or PricingConfig()
    merged = {**SAMPLE_INSTANCE_PRICES, **config.instance_types}
    config = config.model_copy(update={"instance_types": merged})
    end = now.timestamp()
    b = Builder(np.random.default_rng(seed), cluster, end - days * DAY, end)
    make_nodes(b, scale, config)
    daemonsets(b)
    frontend, postgres = workloads(b, scale)
    volumes = make_volumes(b, config, postgres)
    window = Window(datetime.fromtimestamp(b.start, tz=UTC), now)
    return ClusterData(
        window=window,
        nodes=b.nodes,
        pods=b.pods,
        containers=b.containers,
        usage=segments(b),
        volumes=volumes,
        mounts=b.mounts,
        load_balancers=[
            LoadBalancer(
                cluster,
                "team-a",
                "frontend",
                b.start,
                b.end,
                config.default_lb_price,
                "52.1.2.3",
                False,
                tuple(frontend),
            )
        ],
        cluster_management_hourly={cluster: config.cluster_management_price},
        network_prices={
            cluster: NetworkPrices(
                config.zone_network_egress,
                config.region_network_egress,
                config.internet_network_egress,
            )
        },
        namespace_labels={
            (cluster, "team-a"): {"team": "a"},
            (cluster, "team-b"): {"team": "b"},
            (cluster, "kube-system"): {"kubernetes_io_metadata_name": "kube-system"},
        },
        fallback_prices=(config.cpu, config.ram, config.gpu),
        currency=config.currency_code,
    )


def restrict(data: ClusterData, window: Window) -> ClusterData:
    """The part of the data overlapping `window`, compacted to the pods that run in it.

    Pods and containers are renumbered, so the work of a query (and of the label policy)
    scales with the window, not with the whole history.
    """
    a, z = window.start_ts, window.end_ts
    u = data.usage
    hit = np.flatnonzero((u.start < z) & (u.end > a))
    used_containers = np.unique(u.container[hit])
    pod_of = np.fromiter((c.pod for c in data.containers), np.int64, len(data.containers))
    used_pods = np.unique(pod_of[used_containers])
    new_pod = {int(old): new for new, old in enumerate(used_pods.tolist())}
    usage = UsageSegments(**{f.name: getattr(u, f.name)[hit] for f in fields(UsageSegments)})
    usage.container = np.searchsorted(used_containers, usage.container).astype(np.int64)
    containers = [
        Container(new_pod[data.containers[c].pod], data.containers[c].name)
        for c in used_containers.tolist()
    ]
    load_balancers = [
        replace(lb, pods=tuple(new_pod[p] for p in lb.pods if p in new_pod))
        for lb in data.load_balancers
        if lb.start < z and lb.end > a
    ]
    return ClusterData(
        window=window,
        nodes=[n for n in data.nodes if n.start < z and n.end > a],
        pods=[data.pods[p] for p in used_pods.tolist()],
        containers=containers,
        usage=usage,
        volumes=[v for v in data.volumes if v.start < z and v.end > a],
        mounts=[replace(m, pod=new_pod[m.pod]) for m in data.mounts if m.pod in new_pod],
        load_balancers=load_balancers,
        cluster_management_hourly=data.cluster_management_hourly,
        network_prices=data.network_prices,
        namespace_labels=data.namespace_labels,
        namespace_annotations=data.namespace_annotations,
        fallback_prices=data.fallback_prices,
        currency=data.currency,
        warnings=list(data.warnings),
        query_count=0,
        coverage=(data.window.start_ts, data.window.end_ts),
    )


def pod_count(data: ClusterData, window: Window | None = None) -> int:
    """Distinct pods with a container running in `window` (default: the data's window)."""
    w = window or data.window
    u = data.usage
    hit = (u.start < w.end_ts) & (u.end > w.start_ts)
    pod_of = np.fromiter((c.pod for c in data.containers), np.int64, len(data.containers))
    return int(np.unique(pod_of[u.container[hit]]).shape[0])


class SampleSource:
    """The sample cluster as a `ClusterSource`; generated once, lazily, at a fixed `now`."""

    name = "sample"

    def __init__(
        self,
        *,
        cluster: str = "sample-cluster",
        scale: float = 1.0,
        seed: int = 42,
        now: datetime | None = None,
        pricing: PricingConfig | None = None,
        days: int = 30,
    ) -> None:
        moment = now or datetime.now(tz=UTC)
        self.days = days
        self.now = moment.replace(second=0, microsecond=0)
        self.cluster, self.scale, self.seed, self.pricing = cluster, scale, seed, pricing
        self._data: ClusterData | None = None

    @property
    def cluster_id(self) -> str:
        """The one cluster this source describes (the ledger's `cluster=` prefix)."""
        return self.cluster

    def data(self) -> ClusterData:
        """The whole generated history."""
        if self._data is None:
            self._data = generate_sample_cluster(
                now=self.now,
                cluster=self.cluster,
                scale=self.scale,
                seed=self.seed,
                pricing=self.pricing,
                days=self.days,
            )
        return self._data

    async def cluster_data(
        self, window: Window, *, resolution_seconds: float, step_seconds: float | None = None
    ) -> ClusterData:
        """The history overlapping `window` (exact data: resolution and step do not matter)."""
        return restrict(self.data(), window)

    async def check(self) -> None:
        """Always ready once generated."""
        self.data()
