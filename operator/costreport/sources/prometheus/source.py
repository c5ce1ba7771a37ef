"""Cluster data from Prometheus (or Thanos, Mimir, VictoriaMetrics): kube-state-metrics,
cAdvisor and, when present, OpenCost's exporter series.

Two things differ from OpenCost on purpose:

- **Exact runtimes.** Pod and container start and end come from kube-state-metrics series
  whose *value* is a timestamp (`kube_pod_container_state_started`, `kube_pod_start_time`,
  `kube_pod_completion_time`, `kube_pod_deletion_timestamp`), not from sampling a "running"
  series at the query resolution. Only a pod that vanished without a terminal timestamp is
  measured by counting its running samples (error ≤ one scrape interval).
- **A query count independent of the number of step sets.** Per-set averages come from range
  queries whose step is the set length (`avg_over_time(x[S])` evaluated at every set end), and
  whole-window facts from instant queries over `[W]`, several unioned into one query with a
  `cr_kind` tag. A window of 30 daily sets costs the same 13 queries as one day.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import numpy as np

from costreport.model.cluster import (
    GIB,
    USAGE_FLOAT_COLUMNS,
    ClusterData,
    Container,
    NetworkPrices,
    Pod,
    UsageSegments,
)
from costreport.model.errors import SourceUnavailable
from costreport.model.lifecycle import ContainerLife, LifecycleSource, lifecycle_counts
from costreport.model.pricing import PricingConfig
from costreport.model.window import Window, format_duration, split_window
from costreport.sources.prometheus.checks import coverage_span, missing_series
from costreport.sources.prometheus.client import PrometheusClient, PrometheusConfig
from costreport.sources.prometheus.lives import RECORD_BASIS, merge_recorded, start_of_container
from costreport.sources.prometheus.objects import (
    CONTROLLER_KINDS,
    ContainerKey,
    NameKey,
    PodKey,
    SeriesObjects,
)

log = logging.getLogger("costreport.prometheus")


def _tagged(parts: Mapping[str, str]) -> str:
    """Union of instant expressions, each tagged with `cr_kind` so one query answers all."""
    return " or ".join(
        f'label_replace({expr}, "cr_kind", "{kind}", "", "")' for kind, expr in parts.items()
    )


@dataclass(slots=True)
class _PodFacts:
    cluster: str
    namespace: str
    name: str
    uid: str
    node: str = ""
    start: float = math.nan
    end: float = math.nan
    owner_kind: str = ""
    owner_name: str = ""
    labels: dict[str, str] = field(default_factory=dict)


class PrometheusSource(SeriesObjects):
    """A `ClusterSource` over the Prometheus HTTP API."""

    name = "prometheus"

    def __init__(
        self,
        config: PrometheusConfig,
        pricing: PricingConfig | None = None,
        lifecycles: LifecycleSource | None = None,
    ) -> None:
        self.config = config
        self.pricing = pricing or PricingConfig()
        self.client = PrometheusClient(config)
        self.lifecycles = lifecycles
        """Container lives recorded from the Kubernetes API (the operator's pod watch)."""

    @property
    def cluster_id(self) -> str:
        """The cluster whose closed hours this source's operator judges as done (`--cluster-id`;
        in a fleet's bucket each operator has its own). Series labelled with other clusters
        (a Thanos of several) are written in the same hours."""
        return self.config.default_cluster

    async def check(self) -> None:
        """Ready when Prometheus answers a trivial query."""
        await self.client.query("vector(1)", 0)

    async def cluster_data(
        self, window: Window, *, resolution_seconds: float, step_seconds: float | None = None
    ) -> ClusterData:
        """Read everything the engine needs for `window`, per step set of `step_seconds`."""
        step = timedelta(seconds=step_seconds) if step_seconds else None
        sets = split_window(window, step)
        a, z = sets[0].start_ts, sets[-1].end_ts
        s = sets[0].duration.total_seconds()
        w = format_duration(timedelta(seconds=z - a))
        sr = format_duration(timedelta(seconds=s))
        before = self.client.queries
        container_by = self._by("namespace", "pod", "uid", "container")
        pod_by = self._by("namespace", "pod", "uid")
        cadvisor = 'container!="", container!="POD"'
        pod_owner_by = self._by("namespace", "pod", "uid", "owner_kind", "owner_name")
        rs_owner_by = self._by("namespace", "replicaset", "owner_kind", "owner_name")
        claim_ref_by = self._by("persistentvolume", "claim_namespace", "name")
        mount_by = self._by("namespace", "pod", "uid", "persistentvolumeclaim")
        egress_by = self._by("namespace", "pod_name", "internet", "same_zone", "same_region")
        instant = {
            "pods": f"max by ({self._by('namespace', 'pod', 'uid', 'node')}) "
            f"(max_over_time(kube_pod_info[{w}]))",
            "times": _tagged(
                {
                    "start": f"max by ({pod_by}) (max_over_time(kube_pod_start_time[{w}]))",
                    "completion": f"max by ({pod_by}) "
                    f"(max_over_time(kube_pod_completion_time[{w}]))",
                    "deletion": f"max by ({pod_by}) "
                    f"(max_over_time(kube_pod_deletion_timestamp[{w}]))",
                    "started": f"max by ({container_by}) "
                    f"(max_over_time(kube_pod_container_state_started[{w}]))",
                }
            ),
            "nodes": _tagged(
                {
                    "info": f"max by ({self._by('node', 'provider_id')}) "
                    f"(max_over_time(kube_node_info[{w}]))",
                    "created": f"min by ({self._by('node')}) "
                    f"(min_over_time(kube_node_created[{w}]))",
                    "capacity": f"max by ({self._by('node', 'resource')}) "
                    f"(max_over_time(kube_node_status_capacity[{w}]))",
                    "allocatable": f"max by ({self._by('node', 'resource')}) "
                    f"(max_over_time(kube_node_status_allocatable[{w}]))",
                    "price_cpu": f"avg by ({self._by('node')}) "
                    f"(avg_over_time(node_cpu_hourly_cost[{w}]))",
                    "price_ram": f"avg by ({self._by('node')}) "
                    f"(avg_over_time(node_ram_hourly_cost[{w}]))",
                    "price_gpu": f"avg by ({self._by('node')}) "
                    f"(avg_over_time(node_gpu_hourly_cost[{w}]))",
                    "spot": f"max by ({self._by('node')}) "
                    f"(max_over_time(kubecost_node_is_spot[{w}]))",
                }
            ),
            "node_labels": f"max_over_time(kube_node_labels[{w}])",
            "services": _tagged(
                {
                    "lb": f"avg by ({self._by('namespace', 'service_name', 'ingress_ip')}) "
                    f"(avg_over_time(kubecost_load_balancer_cost[{w}]))",
                    "selector": f"max_over_time(service_selector_labels[{w}])",
                }
            ),
            "owners": _tagged(
                {
                    "pod": f"max by ({pod_owner_by}) (max_over_time(kube_pod_owner[{w}]))",
                    "replicaset": f"max by ({rs_owner_by}) "
                    f"(max_over_time(kube_replicaset_owner[{w}]))",
                }
            ),
            "labels": _tagged(
                {
                    "pod": f"max_over_time(kube_pod_labels[{w}])",
                    "namespace": f"max_over_time(kube_namespace_labels[{w}])",
                }
            ),
            "volumes": _tagged(
                {
                    "capacity": f"max by ({self._by('persistentvolume')}) "
                    f"(max_over_time(kube_persistentvolume_capacity_bytes[{w}]))",
                    "claim_ref": f"max by ({claim_ref_by}) "
                    f"(max_over_time(kube_persistentvolume_claim_ref[{w}]))",
                    "claim_request": f"max by ({self._by('namespace', 'persistentvolumeclaim')}) "
                    "(max_over_time(kube_persistentvolumeclaim_resource_requests_storage_bytes"
                    f"[{w}]))",
                    "mount": f"max by ({mount_by}) "
                    f"(max_over_time(kube_pod_spec_volumes_persistentvolumeclaims_info[{w}]))",
                    "price": f"avg by ({self._by('persistentvolume')}) "
                    f"(avg_over_time(pv_hourly_cost[{w}]))",
                    "info": f"max by ({self._by('persistentvolume', 'storageclass')}) "
                    f"(max_over_time(kube_persistentvolume_info[{w}]))",
                }
            ),
        }
        ranged = {
            "running": f"sum by ({container_by}) "
            f"(sum_over_time(kube_pod_container_status_running[{sr}]))",
            "node_seen": f"max by ({self._by('node')}) (count_over_time(kube_node_info[{sr}]))",
            "requests": f"avg by ({self._by('namespace', 'pod', 'uid', 'container', 'resource')}) "
            f"(avg_over_time(kube_pod_container_resource_requests[{sr}]))",
            "cpu": f"sum by ({self._by('namespace', 'pod', 'container')}) "
            f"(increase(container_cpu_usage_seconds_total{{{cadvisor}}}[{sr}]))",
            "ram": f"avg by ({self._by('namespace', 'pod', 'container')}) "
            f"(avg_over_time(container_memory_working_set_bytes{{{cadvisor}}}[{sr}]))",
            "ram_max": f"max by ({self._by('namespace', 'pod', 'container')}) "
            f"(max_over_time(container_memory_working_set_bytes{{{cadvisor}}}[{sr}]))",
            "net_tx": f"sum by ({self._by('namespace', 'pod')}) "
            f'(increase(container_network_transmit_bytes_total{{pod!=""}}[{sr}]))',
            "net_rx": f"sum by ({self._by('namespace', 'pod')}) "
            f'(increase(container_network_receive_bytes_total{{pod!=""}}[{sr}]))',
            "alloc": _tagged(
                {
                    "cpu": f"avg by ({self._by('namespace', 'pod', 'container')}) "
                    f"(avg_over_time(container_cpu_allocation{{{cadvisor}}}[{sr}]))",
                    "ram": f"avg by ({self._by('namespace', 'pod', 'container')}) "
                    f"(avg_over_time(container_memory_allocation_bytes{{{cadvisor}}}[{sr}]))",
                }
            ),
            "egress": f"sum by ({egress_by}) "
            f"(increase(kubecost_pod_network_egress_bytes_total[{sr}]))",
        }
        names = list(instant) + list(ranged)
        answers = await asyncio.gather(
            *(self.client.query(expr, z) for expr in instant.values()),
            *(self.client.query_range(expr, a + s, z, s) for expr in ranged.values()),
        )
        results: dict[str, Any] = dict(zip(names, answers, strict=True))
        count = self.client.queries - before
        log.debug(
            "prometheus queries",
            extra={"context": {"queries": count, "sets": len(sets), "window": w}},
        )
        records: list[ContainerLife] = []
        recorder_warning: list[str] = []
        if self.lifecycles is not None:
            try:
                records = await self.lifecycles.lives(a, z)
            except SourceUnavailable as error:
                recorder_warning.append(
                    f"lifecycle records unavailable ({error.reason}): runtimes from metrics only"
                )
        data = self._assemble(results, sets, window, records)
        data.warnings.extend(recorder_warning)
        data.query_count = count
        return data

    # -- assembly -------------------------------------------------------------------------
    def _assemble(
        self,
        r: Mapping[str, Any],
        sets: Sequence[Window],
        window: Window,
        records: Sequence[ContainerLife] = (),
    ) -> ClusterData:
        a, z = sets[0].start_ts, sets[-1].end_ts
        s = sets[0].duration.total_seconds()
        warnings: list[str] = []
        # A pod is a life: (cluster, namespace, name, uid). A StatefulSet pod that restarts
        # keeps its name and gets a new uid, often on another node; each life is costed on its
        # own node for its own interval. Series without a uid (cAdvisor, network) are per name
        # and shared among the lives of that name running in a set, by running time.
        pods: dict[PodKey, _PodFacts] = {}

        def pod_of(labels: Mapping[str, str]) -> _PodFacts:
            key = (
                self._cluster(labels),
                labels.get("namespace", ""),
                labels.get("pod", ""),
                labels.get("uid", ""),
            )
            found = pods.get(key)
            if found is None:
                found = pods[key] = _PodFacts(*key)
            return found

        def life_of(labels: Mapping[str, str]) -> ContainerKey:
            return (
                self._cluster(labels),
                labels["namespace"],
                labels["pod"],
                labels.get("uid", ""),
                labels["container"],
            )

        def name_of(labels: Mapping[str, str]) -> NameKey:
            return (self._cluster(labels), labels["namespace"], labels["pod"], labels["container"])

        for labels, _ in r["pods"]:
            facts = pod_of(labels)
            facts.node = labels.get("node") or facts.node
        container_start: dict[ContainerKey, float] = {}
        terminal: dict[PodKey, float] = {}
        for labels, value in r["times"]:
            kind = labels.get("cr_kind")
            if kind == "started":
                container_start[life_of(labels)] = value
            elif kind == "start":
                pod_of(labels).start = value
            elif kind in ("completion", "deletion"):
                facts = pod_of(labels)
                key4 = (facts.cluster, facts.namespace, facts.name, facts.uid)
                terminal[key4] = min(terminal.get(key4, math.inf), value)
        replicaset_owner: dict[tuple[str, str, str], tuple[str, str]] = {}
        for labels, _ in r["owners"]:
            if labels.get("cr_kind") == "replicaset":
                rs = (self._cluster(labels), labels["namespace"], labels["replicaset"])
                replicaset_owner[rs] = (labels.get("owner_kind", ""), labels.get("owner_name", ""))
        for labels, _ in r["owners"]:
            if labels.get("cr_kind") == "pod" and labels.get("owner_kind") not in (None, "<none>"):
                facts = pod_of(labels)
                facts.owner_kind, facts.owner_name = labels["owner_kind"], labels["owner_name"]
        namespace_labels: dict[tuple[str, str], dict[str, str]] = defaultdict(dict)
        for labels, _ in r["labels"]:
            values = {k[6:]: v for k, v in labels.items() if k.startswith("label_") and v}
            if labels.get("cr_kind") == "pod":
                pod_of(labels).labels.update(values)
            else:
                namespace_labels[(self._cluster(labels), labels.get("namespace", ""))].update(
                    values
                )

        nodes = self._nodes(r, sets, warnings)
        node_index = {(n.cluster, n.name): n for n in nodes}

        # Running samples per container life and set: bound the end of pods with no terminal
        # time, and the start of containers with no kube_pod_container_state_started.
        running: dict[ContainerKey, dict[int, float]] = defaultdict(dict)
        for labels, values in r["running"]:
            key = life_of(labels)
            for t, v in values:
                running[key][round((t - a) / s) - 1] = v
        requests: dict[ContainerKey, dict[str, dict[int, float]]] = defaultdict(
            lambda: defaultdict(dict)
        )
        for labels, values in r["requests"]:
            key = life_of(labels)
            for t, v in values:
                requests[key][labels.get("resource", "")][round((t - a) / s) - 1] = v
        usage: dict[str, dict[NameKey, dict[int, float]]] = {}
        for name in ("cpu", "ram", "ram_max", "alloc_cpu", "alloc_ram"):
            usage[name] = defaultdict(dict)
        for name in ("cpu", "ram", "ram_max", "alloc"):
            for labels, values in r[name]:
                target = name if name != "alloc" else f"alloc_{labels.get('cr_kind')}"
                for t, v in values:
                    usage[target][name_of(labels)][round((t - a) / s) - 1] = v

        network = self._network(r, a, s)
        interval = self.config.scrape_interval_seconds
        lives: list[tuple[ContainerKey, float, float]] = []
        how_of: dict[ContainerKey, str] = {}
        basis: dict[str, int] = defaultdict(int)
        for key in sorted(set(running) | set(requests) | set(container_start)):
            known = pods.get(key[:4])
            if known is None:
                continue
            facts = known
            seen = running.get(key, {})
            end = terminal.get(key[:4], math.nan)
            start, how = start_of_container(
                container_start.get(key), facts.start, seen, end, a, s, interval
            )
            if math.isnan(end):
                last = max((k for k, v in seen.items() if v > 0), default=None)
                if last is None:
                    continue
                set_start, set_end = a + last * s, a + (last + 1) * s
                # It ran `counted` seconds of its last set from its start there; within a
                # scrape of the set's end, it ran to the end.
                estimate = max(start, set_start) + seen[last] * interval
                end = set_end if estimate >= set_end - interval else estimate
            if end <= max(start, a):
                continue
            how_of[key] = how
            lives.append((key, start, end))
        lives, recorded, only = merge_recorded(
            lives,
            records,
            lambda key4: key4 in pods,
            lambda life: self._recorded_pod(pods, life),
            requests,
            len(sets),
            a,
            z,
        )
        for key, _, _ in lives:
            basis[RECORD_BASIS if key in recorded else how_of[key]] += 1
        recorded_pods = {key[:4] for key in recorded}

        # Running seconds per set of every name (container and pod level), to share the
        # uid-less series among the lives of a name.
        name_seconds: dict[NameKey, dict[int, float]] = defaultdict(lambda: defaultdict(float))
        life_seconds: dict[PodKey, dict[int, float]] = defaultdict(lambda: defaultdict(float))
        per_life: dict[PodKey, int] = defaultdict(int)
        for key, start, end in lives:
            per_life[key[:4]] += 1
            for k, window_k in enumerate(sets):
                seconds = min(end, window_k.end_ts) - max(start, window_k.start_ts)
                if seconds > 0:
                    name_seconds[(key[0], key[1], key[2], key[4])][k] += seconds
                    held = life_seconds[key[:4]]
                    held[k] = max(held[k], seconds)
        pod_seconds: dict[tuple[str, str, str, int], float] = defaultdict(float)
        for (cluster, namespace, pod_name, _), held in life_seconds.items():
            for k, seconds in held.items():
                pod_seconds[(cluster, namespace, pod_name, k)] += seconds

        pod_list: list[Pod] = []
        pod_keys: dict[PodKey, int] = {}
        container_list: list[Container] = []
        rows: dict[str, list[float]] = defaultdict(list)
        for key, start, end in lives:
            cluster, namespace, pod_name, uid, container = key
            facts = pods[(cluster, namespace, pod_name, uid)]
            pod_index = pod_keys.get((cluster, namespace, pod_name, uid))
            if pod_index is None:
                kind, name = self._controller(facts, replicaset_owner)
                node = node_index.get((cluster, facts.node))
                pod_list.append(
                    Pod(
                        cluster,
                        namespace,
                        pod_name,
                        facts.node,
                        kind,
                        name,
                        {
                            **(node.labels if node else {}),
                            **namespace_labels.get((cluster, namespace), {}),
                            **facts.labels,
                        },
                        {},
                        (),
                        node.provider_id if node else "",
                        uid,
                        "only"
                        if (cluster, namespace, pod_name, uid) in only
                        else "recorded"
                        if (cluster, namespace, pod_name, uid) in recorded_pods
                        else "",
                    )
                )
                pod_index = pod_keys[(cluster, namespace, pod_name, uid)] = len(pod_list) - 1
            container_list.append(Container(pod_index, container))
            c_index = len(container_list) - 1
            req = requests.get(key, {})
            by_name = (cluster, namespace, pod_name, container)
            for k, window_k in enumerate(sets):
                s0, s1 = max(start, window_k.start_ts), min(end, window_k.end_ts)
                if s1 <= s0:
                    continue
                named = name_seconds[by_name][k]  # all lives of this name in the set
                pod_named = pod_seconds[(cluster, namespace, pod_name, k)]

                def value(series: Mapping[int, float], k: int = k) -> float:
                    if k in series:
                        return series[k]
                    return next(iter(series.values()), 0.0) if series else 0.0

                cpu_req = value(req.get("cpu", {}))
                ram_req = value(req.get("memory", {}))
                gpu_req = value(req.get("nvidia_com_gpu", {}))
                sampled = k in usage["cpu"].get(by_name, {}) or k in usage["ram"].get(by_name, {})
                unsampled = key in recorded and not sampled  # usage = requests (OpenCost's floor)
                cpu_use = (
                    cpu_req if unsampled else usage["cpu"].get(by_name, {}).get(k, 0.0) / named
                )
                share = 1.0 / per_life[(cluster, namespace, pod_name, uid)]
                net = network.get((cluster, namespace, pod_name, k), {})
                for column, total in (
                    ("network_transfer_rate", net.get("tx", 0.0) / pod_named),
                    ("network_receive_rate", net.get("rx", 0.0) / pod_named),
                    ("egress_zone_rate", net.get("zone", 0.0) * 3600 / pod_named / GIB),
                    ("egress_region_rate", net.get("region", 0.0) * 3600 / pod_named / GIB),
                    ("egress_internet_rate", net.get("internet", 0.0) * 3600 / pod_named / GIB),
                ):
                    rows[column].append(total * share)
                ram_use = ram_req if unsampled else usage["ram"].get(by_name, {}).get(k, 0.0)
                ram_peak = usage["ram_max"].get(by_name, {}).get(k, ram_use)
                # OpenCost's exporter (when present): average of max(request, usage) per minute.
                exported_cpu = usage["alloc_cpu"].get(by_name, {}).get(k, 0.0)
                exported_ram = usage["alloc_ram"].get(by_name, {}).get(k, 0.0)
                for column, v in (
                    ("container", float(c_index)),
                    ("start", s0),
                    ("end", s1),
                    ("cpu_request", cpu_req),
                    ("cpu_usage", cpu_use),
                    ("cpu_allocation", max(cpu_req, cpu_use, exported_cpu)),
                    ("cpu_usage_max", cpu_use),
                    ("ram_request", ram_req),
                    ("ram_usage", ram_use),
                    ("ram_allocation", max(ram_req, ram_use, exported_ram)),
                    ("ram_usage_max", ram_peak),
                    ("gpu_request", gpu_req),
                ):
                    rows[column].append(v)
        usage_table = _segments(rows)
        coverage = coverage_span(nodes, usage_table, window)
        warnings.extend(missing_series(r, bool(nodes), bool(container_list), window))
        volumes, mounts = self._volumes(r, a, z, pod_keys)
        load_balancers, pod_list = self._services(r, a, z, pod_list)
        clusters = {n.cluster for n in nodes} | {p.cluster for p in pod_list}
        prices = NetworkPrices(
            self.pricing.zone_network_egress,
            self.pricing.region_network_egress,
            self.pricing.internet_network_egress,
        )
        return ClusterData(
            window=window,
            nodes=nodes,
            pods=pod_list,
            containers=container_list,
            usage=usage_table,
            volumes=volumes,
            mounts=mounts,
            load_balancers=load_balancers,
            cluster_management_hourly={c: self.pricing.cluster_management_price for c in clusters},
            network_prices={c: prices for c in clusters},
            namespace_labels=dict(namespace_labels),
            fallback_prices=(self.pricing.cpu, self.pricing.ram, self.pricing.gpu),
            currency=self.pricing.currency_code,
            warnings=warnings,
            coverage=coverage,
            notes={
                "containerStart": dict(sorted(basis.items())),
                **(
                    {"lifecycle": counts}
                    if (counts := lifecycle_counts([p.lifecycle for p in pod_list]))
                    else {}
                ),
            },
        )

    @staticmethod
    def _controller(
        facts: _PodFacts, replicaset_owner: Mapping[tuple[str, str, str], tuple[str, str]]
    ) -> tuple[str, str]:
        kind, name = facts.owner_kind, facts.owner_name
        if kind == "ReplicaSet":
            owner = replicaset_owner.get((facts.cluster, facts.namespace, name))
            if owner and owner[0] not in ("", "<none>"):
                kind, name = owner
        if kind == "Job":
            base, _, suffix = name.rpartition("-")
            if base and suffix.isdigit() and len(suffix) in (8, 10):
                name = base  # a CronJob's job: cost it to the CronJob (OpenCost's isCron rule)
        return CONTROLLER_KINDS.get(kind, kind.lower()), name

    @staticmethod
    def _recorded_pod(pods: dict[PodKey, _PodFacts], life: ContainerLife) -> None:
        """A pod only the Kubernetes API's records saw (between two scrapes)."""
        key = (life.cluster, life.namespace, life.pod, life.uid)
        facts = pods.setdefault(key, _PodFacts(*key))
        facts.node, facts.start = life.node, life.start
        facts.owner_kind, facts.owner_name = life.controller_kind, life.controller_name
        facts.labels.update(life.labels)

    async def close(self) -> None:
        """Close the HTTP session."""
        await self.client.close()


def _segments(rows: Mapping[str, list[float]]) -> UsageSegments:
    n = len(rows.get("container", []))
    columns = {
        name: np.asarray(rows.get(name, [0.0] * n), dtype=np.float64)
        for name in USAGE_FLOAT_COLUMNS
    }
    return UsageSegments(container=np.asarray(rows.get("container", []), dtype=np.int64), **columns)
