"""The sample's building blocks: instance shapes and prices, the builder that accumulates pods
and containers, and the daily split of their usage into segments."""

from __future__ import annotations

import string
from dataclasses import dataclass, field

import numpy as np

from costreport.model.cluster import (
    GIB,
    USAGE_FLOAT_COLUMNS,
    Container,
    Node,
    Pod,
    UsageSegments,
    VolumeMount,
)
from costreport.model.pricing import InstancePrice

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
class Builder:
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
            for key in BASE_COLUMNS:
                self.rows.setdefault(key, []).append(row.get(key, 0.0))
        return pod


_DERIVED = ("cpu_allocation", "cpu_usage_max", "ram_allocation", "ram_usage_max")
BASE_COLUMNS = ("container", *(c for c in USAGE_FLOAT_COLUMNS if c not in _DERIVED))
"""Per-container base rates; `segments` derives the `_DERIVED` columns from them per day."""


def container_spec(
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


def segments(b: Builder) -> UsageSegments:
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
