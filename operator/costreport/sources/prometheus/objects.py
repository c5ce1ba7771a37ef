"""Nodes, network traffic, services and volumes from kube-state-metrics and OpenCost series."""

from __future__ import annotations

import ipaddress
import logging
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from costreport.engine.aggregate import sanitize_key
from costreport.model.cluster import (
    GIB,
    LoadBalancer,
    Node,
    PersistentVolume,
    Pod,
    VolumeMount,
)
from costreport.model.pricing import PricingConfig
from costreport.model.window import Window
from costreport.sources.prometheus.client import PrometheusConfig

log = logging.getLogger("costreport.prometheus")

SPOT_LABELS = {
    "label_node_kubernetes_io_lifecycle": "spot",
    "label_eks_amazonaws_com_capacitytype": "SPOT",
    "label_karpenter_sh_capacity_type": "spot",
    "label_cloud_google_com_gke_spot": "true",
    "label_cloud_google_com_gke_preemptible": "true",
    "label_kubernetes_azure_com_scalesetpriority": "spot",
}
INSTANCE_TYPE_LABELS = (
    "label_node_kubernetes_io_instance_type",
    "label_beta_kubernetes_io_instance_type",
)
NODE_LABEL_ALLOW = (
    "label_node_kubernetes_io_instance_type",
    "label_topology_kubernetes_io_region",
    "label_topology_kubernetes_io_zone",
    "label_kubernetes_io_arch",
    "label_eks_amazonaws_com_nodegroup",
    "label_cloud_google_com_gke_nodepool",
    "label_kubernetes_azure_com_agentpool",
)
CONTROLLER_KINDS = {
    "Deployment": "deployment",
    "StatefulSet": "statefulset",
    "DaemonSet": "daemonset",
    "Job": "job",
    "ReplicaSet": "replicaset",
    "Rollout": "rollout",
}


PodKey = tuple[str, str, str, str]
"""(cluster, namespace, pod name, uid): one life of a pod."""
ContainerKey = tuple[str, str, str, str, str]
"""(cluster, namespace, pod name, uid, container): one container of one life."""
NameKey = tuple[str, str, str, str]
"""(cluster, namespace, pod name, container): what uid-less series (cAdvisor) are keyed by."""


class LabelReader:
    """What reading series needs: the config (cluster label, scrape interval) and prices."""

    config: PrometheusConfig
    pricing: PricingConfig

    def _by(self, *labels: str) -> str:
        return ", ".join((self.config.cluster_label, *labels))

    def _cluster(self, labels: Mapping[str, str]) -> str:
        return labels.get(self.config.cluster_label) or self.config.default_cluster


class SeriesObjects(LabelReader):
    """Nodes, network, services and volumes read from instant and range query results."""

    def _nodes(
        self, r: Mapping[str, Any], sets: Sequence[Window], warnings: list[str]
    ) -> list[Node]:
        a, z = sets[0].start_ts, sets[-1].end_ts
        s = sets[0].duration.total_seconds()
        facts: dict[tuple[str, str], dict[str, Any]] = defaultdict(dict)
        for labels, value in r["nodes"]:
            key = (self._cluster(labels), labels.get("node", ""))
            kind = labels.get("cr_kind", "")
            if kind == "info":
                facts[key]["provider_id"] = labels.get("provider_id", "")
            elif kind in ("capacity", "allocatable"):
                facts[key][f"{kind}:{labels.get('resource', '')}"] = value
            else:
                facts[key][kind] = value
        for labels, _ in r["node_labels"]:
            key = (self._cluster(labels), labels.get("node", ""))
            facts[key]["labels"] = labels
        seen: dict[tuple[str, str], list[int]] = defaultdict(list)
        for labels, values in r["node_seen"]:
            key = (self._cluster(labels), labels.get("node", ""))
            seen[key] = [round((t - a) / s) - 1 for t, v in values if v > 0]
        has_prices = any("price_cpu" in f for f in facts.values())
        if facts and not has_prices:
            warnings.append(
                "no node_cpu_hourly_cost series: node prices come from the pricing config "
                "by instance type"
            )
        nodes = []
        interval = self.config.scrape_interval_seconds
        for (cluster, name), f in sorted(facts.items()):
            if not name or ("provider_id" not in f and "capacity:cpu" not in f):
                continue
            raw_labels: Mapping[str, str] = f.get("labels", {})
            instance_type = next(
                (raw_labels[k] for k in INSTANCE_TYPE_LABELS if raw_labels.get(k)), ""
            )
            spot = bool(f.get("spot", 0) > 0) or any(
                raw_labels.get(k) == v for k, v in SPOT_LABELS.items()
            )
            cpus = f.get("capacity:cpu", 0.0)
            ram = f.get("capacity:memory", 0.0)
            gpus = f.get("capacity:nvidia_com_gpu", 0.0)
            configured = self.pricing.node_prices(
                instance_type or None, spot=spot, cpus=cpus, ram_gib=ram / GIB, gpus=gpus
            )
            start = max(a, f.get("created", a))
            sets_seen = seen.get((cluster, name), [])
            end = z
            if sets_seen and sets_seen[-1] < len(sets) - 1:
                end = a + (sets_seen[-1] + 1) * s
            if not sets_seen:
                end = start + interval
            labels = {k[6:]: v for k, v in raw_labels.items() if k in NODE_LABEL_ALLOW and v}
            nodes.append(
                Node(
                    cluster=cluster,
                    name=name,
                    start=start,
                    end=end,
                    cpu_cores=cpus,
                    ram_bytes=ram,
                    cpu_price=f.get("price_cpu", configured.cpu),
                    ram_price=f.get("price_ram", configured.ram),
                    gpu_count=gpus,
                    gpu_price=f.get("price_gpu", configured.gpu),
                    cpu_allocatable=f.get("allocatable:cpu", 0.0),
                    ram_allocatable=f.get("allocatable:memory", 0.0),
                    discount=self.pricing.combined_discount,
                    spot=spot,
                    instance_type=instance_type,
                    provider_id=f.get("provider_id", ""),
                    labels={sanitize_key(k): v for k, v in labels.items()},
                )
            )
        return nodes

    def _network(
        self, r: Mapping[str, Any], a: float, s: float
    ) -> dict[tuple[str, str, str, int], dict[str, float]]:
        """Bytes per (cluster, namespace, pod, set): tx, rx and egress per class."""
        out: dict[tuple[str, str, str, int], dict[str, float]] = defaultdict(dict)
        for name, kind in (("net_tx", "tx"), ("net_rx", "rx"), ("egress", "")):
            for labels, values in r[name]:
                pod = labels.get("pod") or labels.get("pod_name", "")
                cls = kind
                if not cls:
                    if labels.get("internet") == "true":
                        cls = "internet"
                    elif labels.get("same_zone") == "true":
                        continue  # in-zone traffic is free (OpenCost's classes)
                    elif labels.get("same_region") == "true":
                        cls = "zone"
                    else:
                        cls = "region"
                for t, v in values:
                    key = (
                        self._cluster(labels),
                        labels.get("namespace", ""),
                        pod,
                        round((t - a) / s) - 1,
                    )
                    out[key][cls] = out[key].get(cls, 0.0) + v
        return out

    def _services(
        self, r: Mapping[str, Any], a: float, z: float, pods: list[Pod]
    ) -> tuple[list[LoadBalancer], list[Pod]]:
        """Services whose selectors match pods, and load balancers priced by OpenCost's series."""
        selectors: dict[tuple[str, str, str], dict[str, str]] = {}
        prices: dict[tuple[str, str, str], tuple[float, str]] = {}
        for labels, value in r["services"]:
            key = (self._cluster(labels), labels.get("namespace", ""), "")
            if labels.get("cr_kind") == "selector":
                key = (key[0], key[1], labels.get("service", ""))
                selectors[key] = {k[6:]: v for k, v in labels.items() if k.startswith("label_")}
            else:
                key = (key[0], key[1], labels.get("service_name", ""))
                prices[key] = (value, labels.get("ingress_ip", ""))
        by_namespace: dict[tuple[str, str], list[int]] = defaultdict(list)
        for i, p in enumerate(pods):
            by_namespace[(p.cluster, p.namespace)].append(i)
        matched: dict[tuple[str, str, str], list[int]] = {}
        services: dict[int, list[str]] = defaultdict(list)
        for (cluster, namespace, service), selector in sorted(selectors.items()):
            if not selector:
                continue
            hits = [
                i
                for i in by_namespace.get((cluster, namespace), [])
                if all(pods[i].labels.get(k) == v for k, v in selector.items())
            ]
            matched[(cluster, namespace, service)] = hits
            for i in hits:
                services[i].append(service)
        pods = [
            replace(p, services=tuple(services[i])) if i in services else p
            for i, p in enumerate(pods)
        ]
        balancers = []
        for (cluster, namespace, service), (price, ip) in sorted(prices.items()):
            private = False
            try:
                private = ipaddress.ip_address(ip).is_private if ip else False
            except ValueError:
                private = False
            balancers.append(
                LoadBalancer(
                    cluster,
                    namespace,
                    service,
                    a,
                    z,
                    price,
                    ip,
                    private,
                    tuple(matched.get((cluster, namespace, service), [])),
                )
            )
        return balancers, pods

    def _volumes(
        self,
        r: Mapping[str, Any],
        a: float,
        z: float,
        pod_keys: Mapping[PodKey, int],
    ) -> tuple[list[PersistentVolume], list[VolumeMount]]:
        pv: dict[tuple[str, str], dict[str, Any]] = defaultdict(dict)
        claim_bytes: dict[tuple[str, str, str], float] = {}
        mounts: list[VolumeMount] = []
        for labels, value in r["volumes"]:
            kind = labels.get("cr_kind")
            cluster = self._cluster(labels)
            if kind == "claim_request":
                claim_bytes[(cluster, labels["namespace"], labels["persistentvolumeclaim"])] = value
            elif kind == "mount":
                pod = pod_keys.get(
                    (cluster, labels["namespace"], labels["pod"], labels.get("uid", ""))
                )
                if pod is not None:
                    mounts.append(
                        VolumeMount(pod, labels["namespace"], labels["persistentvolumeclaim"])
                    )
            else:
                entry = pv[(cluster, labels.get("persistentvolume", ""))]
                if kind == "claim_ref":
                    entry["claim"] = (labels.get("claim_namespace", ""), labels.get("name", ""))
                elif kind == "info":
                    entry["storage_class"] = labels.get("storageclass", "")
                else:
                    entry[str(kind)] = value
        volumes = []
        for (cluster, name), entry in sorted(pv.items()):
            if "capacity" not in entry:
                continue
            namespace, claim = entry.get("claim", ("", ""))
            volumes.append(
                PersistentVolume(
                    cluster=cluster,
                    name=name,
                    start=a,
                    end=z,
                    bytes=entry["capacity"],
                    price_gib_hour=entry.get("price", self.pricing.storage),
                    storage_class=entry.get("storage_class", ""),
                    claim_namespace=namespace,
                    claim_name=claim,
                    claim_bytes=claim_bytes.get((cluster, namespace, claim), entry["capacity"]),
                )
            )
        return volumes, mounts
