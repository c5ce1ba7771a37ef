"""A simulated cluster for the real-Prometheus tests: its ground truth and its metrics.

`SimCluster` holds the ground truth (exact pod lifetimes, requests, usage, prices) as a
`ClusterData`, so the expected costs are the engine's answer on the truth, and writes what
kube-state-metrics and cAdvisor would have exported, scraped every `scrape` seconds, as
OpenMetrics. `tests/sources/prom_server.py` backfills those into Debian's Prometheus and
serves them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TextIO

import numpy as np

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
from costreport.model.lifecycle import ContainerLife
from costreport.model.window import Window


@dataclass(slots=True)
class SimContainer:
    name: str
    cpu_request: float
    cpu_usage: float
    ram_request: float
    ram_usage: float
    gpu_request: float = 0.0
    # OpenCost's exporter averages max(request, usage) per minute: above both averages when
    # usage is spiky. When set, exported as container_cpu_allocation and used by the truth.
    cpu_allocation: float | None = None


@dataclass(slots=True)
class SimPod:
    cluster: str
    namespace: str
    name: str
    node: str
    start: float
    end: float
    containers: list[SimContainer]
    owner_kind: str = ""
    owner_name: str = ""
    replicaset_owner: tuple[str, str] | None = None
    labels: dict[str, str] = field(default_factory=dict)
    net_tx: float = 0.0  # bytes per second, whole pod
    net_rx: float = 0.0
    egress_internet: float = 0.0  # bytes per second to the internet
    completed: bool = False  # a Job pod: KSM reports its completion time
    deleted: bool = False  # deleted while running: KSM saw the deletion timestamp
    claim: str = ""
    uid_override: str = ""  # another life of the same name gets another uid
    delay: float = 0.0  # containers start this long after the pod (image pull, init)
    linger: float | None = None  # override the cluster's (0: deleted as soon as it finished)

    @property
    def uid(self) -> str:
        return self.uid_override or f"uid-{self.cluster}-{self.namespace}-{self.name}"

    @property
    def run_start(self) -> float:
        """When the containers start (after the pod's start by `delay`)."""
        return self.start + self.delay


@dataclass(slots=True)
class SimNode:
    cluster: str
    name: str
    start: float
    end: float
    cpus: float
    ram_gib: float
    instance_type: str
    cpu_price: float
    ram_price: float
    gpus: float = 0.0
    gpu_price: float = 0.0
    spot: bool = False
    export_prices: bool = False  # OpenCost's exporter publishes node_*_hourly_cost


@dataclass(slots=True)
class SimVolume:
    cluster: str
    name: str
    gib: float
    price: float
    claim_namespace: str = ""
    claim_name: str = ""


@dataclass(slots=True)
class SimService:
    cluster: str
    namespace: str
    name: str
    selector: dict[str, str]
    lb_price: float | None = None  # $/h when a LoadBalancer priced by OpenCost's exporter
    ip: str = ""


@dataclass(slots=True)
class SimCluster:
    """Ground truth of a small cluster over [start, end), scraped every `scrape` seconds."""

    start: float
    end: float
    scrape: float = 30.0
    nodes: list[SimNode] = field(default_factory=list)
    pods: list[SimPod] = field(default_factory=list)
    volumes: list[SimVolume] = field(default_factory=list)
    services: list[SimService] = field(default_factory=list)
    linger: float = 60.0  # finished pod objects stay this long (KSM keeps exporting them)
    export_allocation: bool = False  # OpenCost's container_*_allocation series too
    cadvisor: bool = True  # False: a Prometheus that does not scrape cAdvisor
    state_started: bool = True  # False: kube-state-metrics without container start times

    def scrapes(self, a: float, b: float) -> np.ndarray:
        """Scrape times in [a, b)."""
        first = math.ceil((max(a, self.start) - self.start) / self.scrape)
        last = math.ceil((min(b, self.end) - self.start) / self.scrape)
        return self.start + np.arange(first, max(first, last)) * self.scrape

    # -- what the operator's pod watch would have recorded -------------------------------
    def records(self, observed: float | None = None) -> list[ContainerLife]:
        """Every container life as the Kubernetes API reported it (exact start and end);
        a pod still running at `observed` (default: the simulation's end) has no end."""
        observed = self.end if observed is None else observed
        out = []
        for p in self.pods:
            if p.run_start >= observed:
                continue
            ended = p.end <= observed and (p.completed or p.deleted or p.end < self.end)
            kind, name = p.replicaset_owner or (p.owner_kind, p.owner_name)
            for c in p.containers:
                out.append(
                    ContainerLife(
                        p.cluster,
                        p.namespace,
                        p.name,
                        p.uid,
                        c.name,
                        p.node,
                        p.run_start,
                        p.end if ended else math.nan,
                        observed,
                        c.cpu_request,
                        c.ram_request * GIB,
                        c.gpu_request,
                        kind,
                        name,
                        dict(p.labels),
                    )
                )
        return out

    # -- the truth -----------------------------------------------------------------------
    def truth(self) -> ClusterData:
        """The exact cluster as the engine sees it."""
        node_rows = [
            Node(
                n.cluster,
                n.name,
                n.start,
                n.end,
                n.cpus,
                n.ram_gib * GIB,
                n.cpu_price,
                n.ram_price,
                gpu_count=n.gpus,
                gpu_price=n.gpu_price,
                spot=n.spot,
                instance_type=n.instance_type,
                provider_id=f"i-{n.name}",
            )
            for n in self.nodes
        ]
        pods, containers, rows, mounts = [], [], [], []
        for p in self.pods:
            if p.end <= self.start or p.start >= self.end:
                continue
            pods.append(
                Pod(
                    p.cluster,
                    p.namespace,
                    p.name,
                    p.node,
                    *_kind(p),
                    p.labels,
                    provider_id=f"i-{p.node}",
                    uid=p.uid,
                )
            )
            if p.claim:
                mounts.append(VolumeMount(len(pods) - 1, p.namespace, p.claim))
            share = 1.0 / len(p.containers)
            for c in p.containers:
                containers.append(Container(len(pods) - 1, c.name))
                rows.append(
                    {
                        "network_transfer_rate": p.net_tx * share,
                        "network_receive_rate": p.net_rx * share,
                        "egress_internet_rate": p.egress_internet * 3600 / GIB * share,
                        "container": len(containers) - 1,
                        "start": max(p.run_start, self.start),
                        "end": min(p.end, self.end),
                        "cpu_request": c.cpu_request,
                        "cpu_usage": c.cpu_usage,
                        "ram_request": c.ram_request * GIB,
                        "ram_usage": c.ram_usage * GIB,
                        "gpu_request": c.gpu_request,
                        "cpu_allocation": (
                            c.cpu_allocation if c.cpu_allocation is not None else -1.0
                        ),
                    }
                )
        volumes = [
            PersistentVolume(
                v.cluster,
                v.name,
                self.start,
                self.end,
                v.gib * GIB,
                v.price,
                claim_namespace=v.claim_namespace,
                claim_name=v.claim_name,
                claim_bytes=v.gib * GIB,
            )
            for v in self.volumes
        ]
        window = Window(_dt(self.start), _dt(self.end))
        balancers = [
            LoadBalancer(
                s.cluster,
                s.namespace,
                s.name,
                self.start,
                self.end,
                s.lb_price,
                s.ip,
                pods=tuple(
                    i
                    for i, p in enumerate(pods)
                    if (p.cluster, p.namespace) == (s.cluster, s.namespace)
                    and all(p.labels.get(k) == v for k, v in s.selector.items())
                ),
            )
            for s in self.services
            if s.lb_price is not None
        ]
        return ClusterData(
            window,
            node_rows,
            pods,
            containers,
            UsageSegments.from_rows(rows),
            volumes=volumes,
            mounts=mounts,
            load_balancers=balancers,
            network_prices={n.cluster: NetworkPrices() for n in self.nodes},
        )

    # -- the metrics ---------------------------------------------------------------------
    def families(self, since: float = -math.inf, until: float = math.inf) -> Families:
        """Every series' scrape times and values in [since, until), by metric name and labels.

        Making the series costs about as much as writing an hour of them: a long history is
        made a day at a time and written in 2-hour files (`write_families`).
        """
        families: Families = {}

        def scrapes(a: float, b: float) -> np.ndarray:  # only this chunk's scrapes are made
            return self.scrapes(max(a, since), min(b, until))

        def add(
            name: str, labels: dict[str, str], times: np.ndarray, values: np.ndarray | float
        ) -> None:
            vals = np.broadcast_to(np.asarray(values, dtype=np.float64), times.shape)
            keep = (times >= since) & (times < until)
            times, vals = times[keep], vals[keep]
            if len(times) == 0:
                return
            text = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
            series = families.setdefault(name, {})
            if text in series:  # one series exported for several objects (e.g. a ReplicaSet)
                t0, v0 = series[text]
                times, first = np.unique(np.concatenate([t0, times]), return_index=True)
                vals = np.concatenate([v0, vals])[first]
            series[text] = (times, vals)

        for n in self.nodes:
            t = scrapes(n.start, n.end)
            base = {"cluster_id": n.cluster, "node": n.name}
            add("kube_node_info", {**base, "provider_id": f"i-{n.name}"}, t, 1)
            add("kube_node_created", base, t, n.start)
            labels = {**base, "label_node_kubernetes_io_instance_type": n.instance_type}
            if n.spot:
                labels["label_node_kubernetes_io_lifecycle"] = "spot"
            add("kube_node_labels", labels, t, 1)
            for resource, value in (
                ("cpu", n.cpus),
                ("memory", n.ram_gib * GIB),
                ("nvidia_com_gpu", n.gpus),
            ):
                if value:
                    add("kube_node_status_capacity", {**base, "resource": resource}, t, value)
                    add("kube_node_status_allocatable", {**base, "resource": resource}, t, value)
            if n.export_prices:
                add("node_cpu_hourly_cost", base, t, n.cpu_price)
                add("node_ram_hourly_cost", base, t, n.ram_price)
                add("node_gpu_hourly_cost", base, t, n.gpu_price)
        for p in self.pods:
            stay = self.linger if p.linger is None else p.linger
            lingering = p.end + (stay if p.completed or p.deleted else 0.0)
            t_obj = scrapes(p.start, lingering)
            t_run = scrapes(p.run_start, p.end)
            pod = {"cluster_id": p.cluster, "namespace": p.namespace, "pod": p.name, "uid": p.uid}
            add("kube_pod_info", {**pod, "node": p.node}, t_obj, 1)
            add("kube_pod_start_time", pod, t_obj, p.start)
            if p.completed:
                add("kube_pod_completion_time", pod, scrapes(p.end, lingering), p.end)
            if p.deleted:
                add("kube_pod_deletion_timestamp", pod, scrapes(p.end, lingering), p.end)
            if p.owner_kind:
                add(
                    "kube_pod_owner",
                    {**pod, "owner_kind": p.owner_kind, "owner_name": p.owner_name},
                    t_obj,
                    1,
                )
            if p.replicaset_owner:
                rs = {
                    "cluster_id": p.cluster,
                    "namespace": p.namespace,
                    "replicaset": p.owner_name,
                    "owner_kind": p.replicaset_owner[0],
                    "owner_name": p.replicaset_owner[1],
                }
                add("kube_replicaset_owner", rs, t_obj, 1)
            if p.labels:
                add(
                    "kube_pod_labels",
                    {**pod, **{f"label_{k}": v for k, v in p.labels.items()}},
                    t_obj,
                    1,
                )
            if p.claim:
                add(
                    "kube_pod_spec_volumes_persistentvolumeclaims_info",
                    {**pod, "persistentvolumeclaim": p.claim, "volume": "data"},
                    t_obj,
                    1,
                )
            net = {"cluster_id": p.cluster, "namespace": p.namespace, "pod": p.name}
            if p.net_tx or p.net_rx:
                elapsed = t_run - p.run_start
                add("container_network_transmit_bytes_total", net, t_run, elapsed * p.net_tx)
                add("container_network_receive_bytes_total", net, t_run, elapsed * p.net_rx)
            if p.egress_internet:
                egress = {
                    "cluster_id": p.cluster,
                    "namespace": p.namespace,
                    "pod_name": p.name,
                    "internet": "true",
                    "same_zone": "false",
                    "same_region": "false",
                }
                add(
                    "kubecost_pod_network_egress_bytes_total",
                    egress,
                    t_run,
                    (t_run - p.run_start) * p.egress_internet,
                )
            for c in p.containers:
                cont = {**pod, "container": c.name}
                if self.state_started:
                    add("kube_pod_container_state_started", cont, t_obj, p.run_start)
                running = ((t_obj >= p.run_start) & (t_obj < p.end)).astype(np.float64)
                add("kube_pod_container_status_running", cont, t_obj, running)
                for resource, value in (
                    ("cpu", c.cpu_request),
                    ("memory", c.ram_request * GIB),
                    ("nvidia_com_gpu", c.gpu_request),
                ):
                    if value:
                        add(
                            "kube_pod_container_resource_requests",
                            {**cont, "node": p.node, "resource": resource},
                            t_obj,
                            value,
                        )
                cad = {
                    "cluster_id": p.cluster,
                    "namespace": p.namespace,
                    "pod": p.name,
                    "container": c.name,
                    "node": p.node,
                }
                if self.cadvisor:
                    cpu_seconds = (t_run - p.run_start) * c.cpu_usage
                    add("container_cpu_usage_seconds_total", cad, t_run, cpu_seconds)
                    add("container_memory_working_set_bytes", cad, t_run, c.ram_usage * GIB)
                if c.cpu_allocation is not None:
                    add("container_cpu_allocation", cad, t_run, c.cpu_allocation)
                elif self.export_allocation:
                    cpu_alloc = max(c.cpu_request, c.cpu_usage)
                    ram_alloc = max(c.ram_request, c.ram_usage) * GIB
                    add("container_cpu_allocation", cad, t_run, cpu_alloc)
                    add("container_memory_allocation_bytes", cad, t_run, ram_alloc)
        for svc in self.services:
            t = scrapes(self.start, self.end)
            sel = {"cluster_id": svc.cluster, "namespace": svc.namespace, "service": svc.name}
            selector = {f"label_{k}": v for k, v in svc.selector.items()}
            add("service_selector_labels", {**sel, **selector}, t, 1)
            if svc.lb_price is not None:
                lb = {
                    "cluster_id": svc.cluster,
                    "namespace": svc.namespace,
                    "service_name": svc.name,
                    "ingress_ip": svc.ip,
                }
                add("kubecost_load_balancer_cost", lb, t, svc.lb_price)
        for v in self.volumes:
            t = scrapes(self.start, self.end)
            base = {"cluster_id": v.cluster, "persistentvolume": v.name}
            add("kube_persistentvolume_capacity_bytes", base, t, v.gib * GIB)
            add("kube_persistentvolume_info", {**base, "storageclass": "ssd"}, t, 1)
            add("pv_hourly_cost", base, t, v.price)
            if v.claim_name:
                add(
                    "kube_persistentvolume_claim_ref",
                    {**base, "claim_namespace": v.claim_namespace, "name": v.claim_name},
                    t,
                    1,
                )
                add(
                    "kube_persistentvolumeclaim_resource_requests_storage_bytes",
                    {
                        "cluster_id": v.cluster,
                        "namespace": v.claim_namespace,
                        "persistentvolumeclaim": v.claim_name,
                    },
                    t,
                    v.gib * GIB,
                )
        return families


Families = dict[str, dict[str, tuple[np.ndarray, np.ndarray]]]


def write_families(out: TextIO, families: Families, since: float, until: float) -> int:
    """Write the samples in [since, until) as OpenMetrics; returns how many."""
    count = 0
    for name, series in families.items():
        out.write(f"# TYPE {name} gauge\n")
        for labels, (times, values) in series.items():
            a, b = np.searchsorted(times, [since, until])
            if a == b:
                continue
            prefix = f"{name}{{{labels}}} "
            out.write(
                "".join(
                    f"{prefix}{value!r} {t:.0f}\n"
                    for t, value in zip(times[a:b].tolist(), values[a:b].tolist(), strict=True)
                )
            )
            count += int(b - a)
    out.write("# EOF\n")
    return count


def _kind(p: SimPod) -> tuple[str, str]:
    kind, name = p.owner_kind, p.owner_name
    if p.replicaset_owner:
        kind, name = p.replicaset_owner
    if kind == "Job":
        base, _, suffix = name.rpartition("-")
        if suffix.isdigit() and len(suffix) in (8, 10):
            name = base
    return {
        "Deployment": "deployment",
        "StatefulSet": "statefulset",
        "DaemonSet": "daemonset",
        "Job": "job",
        "ReplicaSet": "replicaset",
        "": "",
    }[kind], name


def _dt(ts: float):  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ts, tz=UTC)
