"""A four-pod, two-node cluster small enough to cost on paper.

Window: 2026-11-01 00:00Z → 2026-11-02 00:00Z (24 h), cluster `c1`.

Nodes
- n1: 4 cores at $0.05/core-h, 16 GiB at $0.01/GiB-h, all day, no discount
  → CPU 4·24·0.05 = 4.80, RAM 16·24·0.01 = 3.84.
- n2: 2 cores at $0.10, 8 GiB at $0.02, 1 GPU at $2.00/h, discount 50 %, joins at 12:00
  → CPU 2·12·0.10·0.5 = 1.20, RAM 8·12·0.02·0.5 = 0.96, GPU 1·12·2.00 = 24.00.

Pods (costs on their node's discounted prices)
- a/web-1/app (deployment web, labels app=web team=x, service web) on n1, all day:
  req 1 core (usage 0.5), 2 GiB (usage 1 GiB)
  → CPU 24 core-h · 0.05 = 1.20, RAM 48 GiB-h · 0.01 = 0.48.
- b/db-0/db (statefulset db, app=db) on n1, 06:00–18:00: req 2 cores, 4 GiB
  → CPU 24 core-h · 0.05 = 1.20, RAM 48 GiB-h · 0.01 = 0.48.
- b/train/trainer (job train) on n2, 12:00–18:00: req 1 core but uses 1.5, req 2 GiB but uses 3,
  1 GPU → CPU 9 core-h · 0.05 = 0.45, RAM 18 GiB-h · 0.01 = 0.18, GPU 6 h · 2.00 = 12.00.
- c/cron-1/job (bare pod) on n1, 00:00–02:00: req 1 core, 1 GiB → CPU 0.10, RAM 0.02.

Idle per node: n1 CPU 4.80 − 2.50 = 2.30, RAM 3.84 − 0.98 = 2.86;
n2 CPU 1.20 − 0.45 = 0.75, RAM 0.96 − 0.18 = 0.78, GPU 24 − 12 = 12.00. Cluster idle 18.69.

Volumes: pv1 (10 GiB at $0.001/GiB-h, claim b/data-db-0) mounted by db-0 for 12 h → 0.12 to
db; the other 12 h → `b-unmounted-pvcs` 0.12. pv2 (5 GiB at $0.002, unbound) → `__unmounted__`
5·24·0.002 = 0.24.
Load balancer a/web at $0.03/h all day → 0.72 to web-1.

Namespace totals: a 1.68 + 0.72 = 2.40; b 1.65 + 0.66 + 12.00 + 0.24 = 14.55; c 0.12;
`__unmounted__` 0.24; idle 18.69 → 36.00 = nodes 34.80 + disks 0.48 + LB 0.72.
"""

from __future__ import annotations

from datetime import UTC, datetime

from costreport.model.cluster import (
    GIB,
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

DAY_START = datetime(2026, 11, 1, tzinfo=UTC)
WINDOW = Window(DAY_START, datetime(2026, 11, 2, tzinfo=UTC))
T0 = WINDOW.start_ts
H = 3600.0


def tiny_cluster() -> ClusterData:
    """The cluster described in the module docstring."""
    nodes = [
        Node("c1", "n1", T0, T0 + 24 * H, 4, 16 * GIB, 0.05, 0.01, provider_id="i-n1"),
        Node(
            "c1",
            "n2",
            T0 + 12 * H,
            T0 + 24 * H,
            2,
            8 * GIB,
            0.10,
            0.02,
            gpu_count=1,
            gpu_price=2.0,
            discount=0.5,
            provider_id="i-n2",
        ),
    ]
    pods = [
        Pod(
            "c1",
            "a",
            "web-1",
            "n1",
            "deployment",
            "web",
            {"app": "web", "team": "x"},
            services=("web",),
            provider_id="i-n1",
        ),
        Pod("c1", "b", "db-0", "n1", "statefulset", "db", {"app": "db"}, provider_id="i-n1"),
        Pod(
            "c1", "b", "train", "n2", "job", "train", annotations={"team": "ml"}, provider_id="i-n2"
        ),
        Pod("c1", "c", "cron-1", "n1", provider_id="i-n1"),
    ]
    containers = [
        Container(0, "app"),
        Container(1, "db"),
        Container(2, "trainer"),
        Container(3, "job"),
    ]
    usage = UsageSegments.from_rows(
        [
            {
                "container": 0,
                "start": T0,
                "end": T0 + 24 * H,
                "cpu_request": 1,
                "cpu_usage": 0.5,
                "ram_request": 2 * GIB,
                "ram_usage": GIB,
            },
            {
                "container": 1,
                "start": T0 + 6 * H,
                "end": T0 + 18 * H,
                "cpu_request": 2,
                "cpu_usage": 1,
                "ram_request": 4 * GIB,
                "ram_usage": 2 * GIB,
            },
            {
                "container": 2,
                "start": T0 + 12 * H,
                "end": T0 + 18 * H,
                "cpu_request": 1,
                "cpu_usage": 1.5,
                "ram_request": 2 * GIB,
                "ram_usage": 3 * GIB,
                "gpu_request": 1,
                "gpu_usage": 0.5,
            },
            {
                "container": 3,
                "start": T0,
                "end": T0 + 2 * H,
                "cpu_request": 1,
                "cpu_usage": 0.25,
                "ram_request": GIB,
                "ram_usage": GIB,
            },
        ]
    )
    volumes = [
        PersistentVolume(
            "c1",
            "pv1",
            T0,
            T0 + 24 * H,
            10 * GIB,
            0.001,
            "ssd",
            "vol-1",
            "b",
            "data-db-0",
            10 * GIB,
        ),
        PersistentVolume("c1", "pv2", T0, T0 + 24 * H, 5 * GIB, 0.002, "ssd", "vol-2"),
    ]
    return ClusterData(
        window=WINDOW,
        nodes=nodes,
        pods=pods,
        containers=containers,
        usage=usage,
        volumes=volumes,
        mounts=[VolumeMount(1, "b", "data-db-0")],
        load_balancers=[
            LoadBalancer("c1", "a", "web", T0, T0 + 24 * H, 0.03, "34.1.2.3", pods=(0,))
        ],
        cluster_management_hourly={"c1": 0.10},
        namespace_labels={("c1", "a"): {"owner": "team-a"}},
    )
