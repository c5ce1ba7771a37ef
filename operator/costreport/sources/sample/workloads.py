"""The sample's contents: node pools, DaemonSets, Deployments, StatefulSets, CronJobs and
the other workloads, and their volumes."""

from __future__ import annotations

from costreport.engine.aggregate import sanitize_key
from costreport.model.cluster import GIB, Node, PersistentVolume, VolumeMount
from costreport.model.pricing import PricingConfig
from costreport.sources.sample.builder import DAY, HOUR, SHAPES, Builder, container_spec


def make_nodes(b: Builder, scale: float, pricing: PricingConfig) -> None:
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


def daemonsets(b: Builder) -> None:
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
                [container_spec(name, cpu, cpu * 0.4, ram, ram * 0.6)],
                node.start,
                node.end,
            )


def _deployment(
    b: Builder,
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
    b: Builder,
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
            [container_spec("main", cpu, cpu * 0.9, ram, ram * 0.8)],
            t,
            t + run_seconds,
        )
        t += every_hours * HOUR


def workloads(b: Builder, scale: float) -> tuple[list[int], list[int]]:
    def r(n: int) -> int:
        return max(1, round(n * scale))

    _deployment(
        b,
        "kube-system",
        "coredns",
        2,
        "general",
        {"app": "coredns", "env": "prod"},
        [container_spec("coredns", 0.1, 0.02, 0.07, 0.03)],
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
        [container_spec("grafana", 0.25, 0.05, 0.5, 0.3)],
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
            container_spec(
                "nginx",
                1.0,
                0.6,
                0.5,
                0.35,
                network_transfer_rate=60_000.0,
                network_receive_rate=120_000.0,
                egress_internet_rate=0.02,
            ),
            container_spec("istio-proxy", 0.1, 0.05, 0.125, 0.1),
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
            container_spec(
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
        [container_spec("api", 0.25, 0.05, 0.5, 0.3)],
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
        [
            container_spec("worker", 2.5, 2.0, 2.0, 1.6),
            container_spec("log-shipper", 0.0, 0.05, 0.0, 0.1),
        ],
        2.0,
    )
    _deployment(
        b,
        "team-b",
        "search",
        r(1),
        "memory",
        {"app": "search", "team": "b", "env": "prod"},
        [container_spec("search", 0.5, 0.4, 6.0, 5.5)],
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
        [container_spec("shell", 0.0, 0.01, 0.0, 0.05)],
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
        [container_spec("prometheus", 1.0, 0.7, 8.0, 6.5)],
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
            [container_spec("postgres", 1.0, 0.5, 4.0, 3.5, egress_region_rate=0.005)],
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
            [container_spec("trainer", 4.0, 3.5, 24.0, 20.0, gpu_request=1.0, gpu_usage=0.7)],
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
        [container_spec("migrate", 0.5, 0.4, 1.0, 0.6)],
        b.end - 10 * DAY,
        b.end - 10 * DAY + 20 * 60,
    )
    return frontend, postgres


def make_volumes(b: Builder, pricing: PricingConfig, postgres: list[int]) -> list[PersistentVolume]:
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
