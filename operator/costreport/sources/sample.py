"""The embedded sample cluster: a seeded synthetic cluster that exercises the whole cost model.

No cluster and no Prometheus needed: `costreport demo` and the tests run on it. It has node
pools of four instance types (one spot node, one GPU node, one node that joins 3.5 days before
the end), `kube-system` and `monitoring` with DaemonSets on every node, team namespaces with
rolling Deployments, StatefulSets with volumes, CronJobs whose pods run 30 s, 5 min and 1 h,
a GPU training Job, a bare pod, containers without requests, pods missing the `team` label,
an unbound PV, a claim nobody mounts, a LoadBalancer, and network traffic.

Size: `scale` multiplies replicas, node pools and CronJob copies. A 7-day window holds about
136 distinct pods at scale 1, ≈1,000 at scale 8 and ≈10,000 at scale 80
(`benchmarks/engine.py` uses those two scales).
"""

from __future__ import annotations

import string
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime

import numpy as np

from costreport.engine.aggregate import sanitize_key
from costreport.model.cluster import (
    GIB,
    ClusterData,
    Container,
    LoadBalancer,
    NetworkPrices,
    Node,
    PersistentVolume,
    Pod,
    UsageSegments,
    VolumeMount,
)
from costreport.model.pricing import InstancePrice, PricingConfig
from costreport.model.window import Window

DAY = 86400.0
HOUR = 3600.0

# Built-in on-demand prices for the sample's instance types ($/vCPU-h, $/GiB-h, $/GPU-h);
# a user's pricing config overrides any of them.
SAMPLE_INSTANCE_PRICES: dict[str, InstancePrice] = {
    "m5.2xlarge": InstancePrice(cpu=0.032, ram=0.004, spotCPU=0.0096, spotRAM=0.0012),
    "c5.2xlarge": InstancePrice(cpu=0.034, ram=0.004, spotCPU=0.0102, spotRAM=0.0012),
    "r5.xlarge": InstancePrice(cpu=0.030, ram=0.00413, spotCPU=0.009, spotRAM=0.00124),
    "p3.2xlarge": InstancePrice(cpu=0.031611, ram=0.004237, gpu=2.45, spotGPU=0.735),
}
# instance type: (vCPUs, GiB, GPUs)
SHAPES = {
    "m5.2xlarge": (8, 32, 0),
    "c5.2xlarge": (8, 16, 0),
    "r5.xlarge": (4, 32, 0),
    "p3.2xlarge": (8, 61, 1),
}


@dataclass(slots=True)
class _Builder:
    """Accumulates pods, containers and per-container base rates before segmenting."""

    rng: np.random.Generator
    cluster: str
    start: float
    end: float
    nodes: list[Node] = field(default_factory=list)
    pools: dict[str, list[int]] = field(default_factory=dict)
    pods: list[Pod] = field(default_factory=list)
    containers: list[Container] = field(default_factory=list)
    rows: dict[str, list[float]] = field(default_factory=dict)
    mounts: list[VolumeMount] = field(default_factory=list)
    pod_counter: int = 0

    def suffix(self, n: int = 5) -> str:
        letters = string.ascii_lowercase + string.digits
        return "".join(letters[i] for i in self.rng.integers(0, len(letters), n))

    def node_for(self, pool: str, at: float) -> Node:
        """Round-robin over the pool's nodes that exist at `at`."""
        candidates = [i for i in self.pools[pool] if self.nodes[i].start <= at]
        self.pod_counter += 1
        return self.nodes[candidates[self.pod_counter % len(candidates)]]

    def add_pod(
        self,
        namespace: str,
        name: str,
        node: Node,
        kind: str,
        controller: str,
        labels: dict[str, str],
        containers: list[dict[str, float | str]],
        start: float,
        end: float,
        services: tuple[str, ...] = (),
        annotations: dict[str, str] | None = None,
    ) -> int:
        """Register a pod and its containers running over [start, end)."""
        start, end = max(start, self.start, node.start), min(end, self.end, node.end)
        if end <= start:
            return -1
        node_labels = {k: v for k, v in node.labels.items() if k.startswith(("node_", "topology_"))}
        self.pods.append(
            Pod(
                self.cluster,
                namespace,
                name,
                node.name,
                kind,
                controller,
                {**node_labels, **labels},
                annotations or {},
                services,
                node.provider_id,
            )
        )
        pod = len(self.pods) - 1
        for spec in containers:
            self.containers.append(Container(pod, str(spec["name"])))
            row = {k: float(v) for k, v in spec.items() if k != "name"}
            row.update(container=len(self.containers) - 1, start=start, end=end)
            for key in _BASE_COLUMNS:
                self.rows.setdefault(key, []).append(row.get(key, 0.0))
        return pod


_BASE_COLUMNS = (
    "container",
    "start",
    "end",
    "cpu_request",
    "cpu_usage",
    "ram_request",
    "ram_usage",
    "gpu_request",
    "gpu_usage",
    "network_transfer_rate",
    "network_receive_rate",
    "egress_zone_rate",
    "egress_region_rate",
    "egress_internet_rate",
)


def _container(
    name: str, cpu: float, cpu_use: float, ram_gib: float, ram_use_gib: float, **extra: float
) -> dict[str, float | str]:
    spec: dict[str, float | str] = {
        "name": name,
        "cpu_request": cpu,
        "cpu_usage": cpu_use,
        "ram_request": ram_gib * GIB,
        "ram_usage": ram_use_gib * GIB,
    }
    spec.update(extra)
    return spec


def _make_nodes(b: _Builder, scale: float, pricing: PricingConfig) -> None:
    pools = {
        "general": ("m5.2xlarge", max(1, round(scale))),
        "compute": ("c5.2xlarge", max(2, round(2 * scale))),
        "memory": ("r5.xlarge", max(1, round(scale))),
        "gpu": ("p3.2xlarge", max(1, round(scale / 4))),
    }
    discount = pricing.combined_discount
    for pool, (itype, count) in pools.items():
        cpus, gib, gpus = SHAPES[itype]
        b.pools[pool] = []
        for i in range(count):
            spot = pool == "memory" and i == 0
            joins_late = pool == "compute" and i == count - 1
            start = b.end - 3.5 * DAY if joins_late else b.start
            prices = pricing.node_prices(itype, spot=spot, cpus=cpus, ram_gib=gib, gpus=gpus)
            name = f"ip-10-0-{len(b.nodes) // 250}-{len(b.nodes) % 250 + 10}.ec2.internal"
            labels = {
                sanitize_key("node.kubernetes.io/instance-type"): itype,
                sanitize_key("topology.kubernetes.io/region"): "us-east-1",
                sanitize_key("topology.kubernetes.io/zone"): f"us-east-1{'abc'[i % 3]}",
                sanitize_key("kubernetes.io/arch"): "amd64",
                "nodepool": pool,
            }
            if spot:
                labels[sanitize_key("node.kubernetes.io/lifecycle")] = "spot"
            b.nodes.append(
                Node(
                    cluster=b.cluster,
                    name=name,
                    start=start,
                    end=b.end,
                    cpu_cores=cpus,
                    ram_bytes=gib * GIB,
                    cpu_price=prices.cpu,
                    ram_price=prices.ram,
                    gpu_count=gpus,
                    gpu_price=prices.gpu,
                    cpu_allocatable=cpus - 0.1,
                    ram_allocatable=(gib - 0.5) * GIB,
                    discount=discount,
                    spot=spot,
                    instance_type=itype,
                    provider_id=f"i-{int(b.rng.integers(0, 16**12)):012x}",
                    provider="AWS",
                    labels=labels,
                )
            )
            b.pools[pool].append(len(b.nodes) - 1)


def _daemonsets(b: _Builder) -> None:
    for node in b.nodes:
        for namespace, name, cpu, ram in (
            ("kube-system", "kube-proxy", 0.1, 0.125),
            ("monitoring", "node-exporter", 0.05, 0.0625),
        ):
            b.add_pod(
                namespace,
                f"{name}-{b.suffix()}",
                node,
                "daemonset",
                name,
                {"app": name, "env": "prod"},
                [_container(name, cpu, cpu * 0.4, ram, ram * 0.6)],
                node.start,
                node.end,
            )


def _deployment(
    b: _Builder,
    namespace: str,
    name: str,
    replicas: int,
    pool: str,
    labels: dict[str, str],
    containers: list[dict[str, float | str]],
    roll_days: float,
    services: tuple[str, ...] = (),
) -> list[int]:
    """Pods of a Deployment that rolls out a new ReplicaSet every `roll_days`."""
    pods = []
    t = b.start - b.rng.random() * roll_days * DAY
    while t < b.end:
        rs = f"{int(b.rng.integers(0, 16**10)):010x}"[:10]
        until = t + roll_days * DAY
        for _ in range(replicas):
            node = b.node_for(pool, max(t, b.start))
            pod = b.add_pod(
                namespace,
                f"{name}-{rs}-{b.suffix()}",
                node,
                "deployment",
                name,
                labels,
                containers,
                t,
                until,
                services,
            )
            if pod >= 0:
                pods.append(pod)
        t = until
    return pods


def _cronjob(
    b: _Builder,
    name: str,
    every_hours: float,
    run_seconds: float,
    pool: str,
    cpu: float,
    ram: float,
) -> None:
    t = b.start + b.rng.random() * every_hours * HOUR
    labels = {"app": name, "team": "data", "env": "prod"}
    while t < b.end:
        node = b.node_for(pool, t)
        stamp = int(t // 60)
        b.add_pod(
            "batch",
            f"{name}-{stamp}-{b.suffix()}",
            node,
            "job",
            name,
            labels,
            [_container("main", cpu, cpu * 0.9, ram, ram * 0.8)],
            t,
            t + run_seconds,
        )
        t += every_hours * HOUR


def _workloads(b: _Builder, scale: float) -> tuple[list[int], list[int]]:
    def r(n: int) -> int:
        return max(1, round(n * scale))

    _deployment(
        b,
        "kube-system",
        "coredns",
        2,
        "general",
        {"app": "coredns", "env": "prod"},
        [_container("coredns", 0.1, 0.02, 0.07, 0.03)],
        30.0,
        ("kube-dns",),
    )
    _deployment(
        b,
        "monitoring",
        "grafana",
        1,
        "memory",
        {"app": "grafana", "team": "platform", "env": "prod"},
        [_container("grafana", 0.25, 0.05, 0.5, 0.3)],
        10.0,
        ("grafana",),
    )
    frontend = _deployment(
        b,
        "team-a",
        "frontend",
        r(3),
        "general",
        {"app": "frontend", "team": "a", "env": "prod"},
        [
            _container(
                "nginx",
                1.0,
                0.6,
                0.5,
                0.35,
                network_transfer_rate=60_000.0,
                network_receive_rate=120_000.0,
                egress_internet_rate=0.02,
            ),
            _container("istio-proxy", 0.1, 0.05, 0.125, 0.1),
        ],
        3.0,
        ("frontend",),
    )
    _deployment(
        b,
        "team-a",
        "api",
        r(2),
        "general",
        {"app": "api", "team": "a", "env": "prod"},
        [
            _container(
                "api",
                2.0,
                1.2,
                4.0,
                3.0,
                egress_zone_rate=0.01,
                network_transfer_rate=20_000.0,
                network_receive_rate=20_000.0,
            )
        ],
        2.0,
        ("api",),
    )
    _deployment(
        b,
        "team-a",
        "api-staging",
        r(1),
        "general",
        {"app": "api", "team": "a", "env": "staging"},
        [_container("api", 0.25, 0.05, 0.5, 0.3)],
        1.0,
    )
    # No `team` label, and a sidecar without requests (billed on usage).
    _deployment(
        b,
        "team-b",
        "worker",
        r(3),
        "compute",
        {"app": "worker", "env": "prod"},
        [_container("worker", 2.5, 2.0, 2.0, 1.6), _container("log-shipper", 0.0, 0.05, 0.0, 0.1)],
        2.0,
    )
    _deployment(
        b,
        "team-b",
        "search",
        r(1),
        "memory",
        {"app": "search", "team": "b", "env": "prod"},
        [_container("search", 0.5, 0.4, 6.0, 5.5)],
        7.0,
        ("search",),
    )
    debug = b.node_for("general", b.end - 2 * DAY)
    b.add_pod(
        "team-b",
        "debug-shell",
        debug,
        "",
        "",
        {"app": "debug"},
        [_container("shell", 0.0, 0.01, 0.0, 0.05)],
        b.end - 2 * DAY,
        b.end - 2 * DAY + 3 * HOUR,
        annotations={"owner": "alice"},
    )
    # StatefulSets with volumes (one pod per replica, whole history).
    prometheus = b.add_pod(
        "monitoring",
        "prometheus-0",
        b.node_for("memory", b.start),
        "statefulset",
        "prometheus",
        {"app": "prometheus", "team": "platform", "env": "prod"},
        [_container("prometheus", 1.0, 0.7, 8.0, 6.5)],
        b.start,
        b.end,
        ("prometheus",),
    )
    b.mounts.append(VolumeMount(prometheus, "monitoring", "prometheus-data-prometheus-0"))
    postgres = []
    for i in range(r(1)):
        pod = b.add_pod(
            "data",
            f"postgres-{i}",
            b.node_for("memory", b.start),
            "statefulset",
            "postgres",
            {"app": "postgres", "team": "data", "env": "prod"},
            [_container("postgres", 1.0, 0.5, 4.0, 3.5, egress_region_rate=0.005)],
            b.start,
            b.end,
            ("postgres",),
        )
        b.mounts.append(VolumeMount(pod, "data", f"data-postgres-{i}"))
        postgres.append(pod)
    # GPU training (a CronJob) every day for twelve hours, annotated with its owner.
    t = b.start + 6 * HOUR
    while t < b.end:
        b.add_pod(
            "data",
            f"train-{int(t // 60)}-{b.suffix()}",
            b.node_for("gpu", t),
            "job",
            "train",
            {"app": "train", "team": "ml", "env": "prod"},
            [_container("trainer", 4.0, 3.5, 24.0, 20.0, gpu_request=1.0, gpu_usage=0.7)],
            t,
            t + 12 * HOUR,
            annotations={"owner": "ml-research"},
        )
        t += DAY
    for copy in range(r(1)):
        suffix = "" if copy == 0 else f"-{copy + 1}"
        _cronjob(b, f"ping{suffix}", 6.0, 30.0, "compute", 0.1, 0.0625)
        _cronjob(b, f"report{suffix}", 6.0, 300.0, "compute", 0.5, 0.5)
        _cronjob(b, f"etl{suffix}", 12.0, 3600.0, "compute", 2.0, 4.0)
    b.add_pod(
        "batch",
        f"migrate-{b.suffix()}",
        b.node_for("compute", b.end - 10 * DAY),
        "job",
        "migrate",
        {"app": "migrate", "team": "data"},
        [_container("migrate", 0.5, 0.4, 1.0, 0.6)],
        b.end - 10 * DAY,
        b.end - 10 * DAY + 20 * 60,
    )
    return frontend, postgres


def _volumes(b: _Builder, pricing: PricingConfig, postgres: list[int]) -> list[PersistentVolume]:
    price = pricing.storage
    volumes = [
        PersistentVolume(
            b.cluster,
            "pvc-prometheus-data",
            b.start,
            b.end,
            50 * GIB,
            price,
            "gp3",
            "vol-0prometheus",
            "monitoring",
            "prometheus-data-prometheus-0",
            50 * GIB,
        ),
        PersistentVolume(
            b.cluster, "pv-orphan", b.start, b.end, 10 * GIB, price, "gp3", "vol-0orphan"
        ),
        PersistentVolume(
            b.cluster,
            "pvc-uploads",
            b.end - 20 * DAY,
            b.end,
            5 * GIB,
            price,
            "gp3",
            "vol-0uploads",
            "team-a",
            "uploads",
            5 * GIB,
        ),
    ]
    for i in range(len(postgres)):
        volumes.append(
            PersistentVolume(
                b.cluster,
                f"pvc-postgres-{i}",
                b.start,
                b.end,
                20 * GIB,
                price,
                "gp3",
                f"vol-0postgres{i}",
                "data",
                f"data-postgres-{i}",
                20 * GIB,
            )
        )
    return volumes


def _segments(b: _Builder) -> UsageSegments:
    """Split long containers at UTC midnights and vary usage from day to day."""
    base = {k: np.asarray(v, dtype=np.float64) for k, v in b.rows.items()}
    start, end = base["start"], base["end"]
    first_day = np.floor(start / DAY)
    last_day = np.ceil(end / DAY)
    pieces = np.maximum((last_day - first_day).astype(np.int64), 1)
    index = np.repeat(np.arange(start.shape[0]), pieces)
    offset = np.arange(index.shape[0]) - np.repeat(np.cumsum(pieces) - pieces, pieces)
    day = first_day[index] + offset
    seg_start = np.maximum(start[index], day * DAY)
    seg_end = np.minimum(end[index], (day + 1) * DAY)
    keep = seg_end > seg_start
    index, seg_start, seg_end = index[keep], seg_start[keep], seg_end[keep]
    n = index.shape[0]
    factor = 0.6 + 0.8 * b.rng.random(n)
    ram_factor = 0.85 + 0.3 * b.rng.random(n)
    cpu_usage = base["cpu_usage"][index] * factor
    ram_usage = base["ram_usage"][index] * ram_factor
    cpu_request = base["cpu_request"][index]
    ram_request = base["ram_request"][index]
    return UsageSegments(
        container=base["container"][index].astype(np.int64),
        start=seg_start,
        end=seg_end,
        cpu_request=cpu_request,
        cpu_usage=cpu_usage,
        cpu_allocation=np.maximum(cpu_request, cpu_usage * 1.05),
        cpu_usage_max=cpu_usage * 1.8,
        ram_request=ram_request,
        ram_usage=ram_usage,
        ram_allocation=np.maximum(ram_request, ram_usage),
        ram_usage_max=ram_usage * 1.2,
        gpu_request=base["gpu_request"][index],
        gpu_usage=base["gpu_usage"][index] * np.minimum(factor, 1.0 / 0.7),
        network_transfer_rate=base["network_transfer_rate"][index] * factor,
        network_receive_rate=base["network_receive_rate"][index] * factor,
        egress_zone_rate=base["egress_zone_rate"][index] * factor,
        egress_region_rate=base["egress_region_rate"][index] * factor,
        egress_internet_rate=base["egress_internet_rate"][index] * factor,
    )


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
    b = _Builder(np.random.default_rng(seed), cluster, end - days * DAY, end)
    _make_nodes(b, scale, config)
    _daemonsets(b)
    frontend, postgres = _workloads(b, scale)
    volumes = _volumes(b, config, postgres)
    window = Window(datetime.fromtimestamp(b.start, tz=UTC), now)
    return ClusterData(
        window=window,
        nodes=b.nodes,
        pods=b.pods,
        containers=b.containers,
        usage=_segments(b),
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
