"""`ClusterData` ↔ the ledger's Arrow tables.

`encode` turns one closed piece (an hour, already clipped) into one set of tables per cluster;
`decode` turns the tables of any number of partitions (concatenated) back into one
`ClusterData`, identifying pods by (cluster, namespace, name, uid), containers by pod and
name, nodes and volumes by (cluster, name) and load balancers by (cluster, namespace, service)
with vectorised keys, so reading 30 days costs little Python per row. Prices of an object seen
in several partitions are averaged by the time each covers (what Prometheus' `avg_over_time`
gives the live path over the same hours).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from costreport.engine.gcpause import paused_gc
from costreport.model.allocation import AllocationSetRange
from costreport.model.cluster import (
    POD_FIELDS,
    USAGE_FLOAT_COLUMNS,
    ClusterData,
    Container,
    LoadBalancer,
    NetworkPrices,
    Node,
    PersistentVolume,
    PodColumns,
    UsageSegments,
    VolumeMount,
    pod_column,
)
from costreport.model.window import Window
from costreport.sources.ledger.columns import (
    codes_in,
    combined,
    map_dicts,
    shared_strings,
    string_tuples,
    strings,
)
from costreport.sources.ledger.schema import TABLES

SEP = "\x1f"
"""Joins key parts (never part of a Kubernetes name, label or uid)."""

_POD_STRINGS = (
    "cluster",
    "namespace",
    "pod",
    "node",
    "controller_kind",
    "controller_name",
    "provider_id",
    "uid",
)
"""The pod table's plain string columns."""
DECODE_ORDER = (
    "pods",
    "segments",
    "nodes",
    "volumes",
    "mounts",
    "load_balancers",
    "namespaces",
    "cluster",
)
"""The engine's tables in the order `decode` first uses them (what a reader reads first)."""
_POD_UNIQUE = ("pod", "uid")
"""Of those, the ones (nearly) every pod life has its own value of: read row by row, the rest
with one string per distinct value."""


def _table(name: str, rows: Mapping[str, Sequence[Any]]) -> pa.Table:
    schema = TABLES[name]
    return pa.Table.from_pydict({f.name: rows.get(f.name, []) for f in schema}, schema=schema)


def _labels(mapping: Mapping[str, str]) -> list[tuple[str, str]]:
    return sorted(mapping.items())


def encode(
    data: ClusterData, start: float, end: float, allocations: AllocationSetRange | None = None
) -> dict[str, dict[str, pa.Table]]:
    """Tables per cluster for one clipped piece covering [start, end)."""
    pods = data.pods
    pod = {name: pod_column(pods, name) for name in POD_FIELDS}  # no Pod made from columns
    tables: dict[str, pa.Table] = {}
    tables["pods"] = _table(
        "pods",
        {
            "cluster": pod["cluster"],
            "namespace": pod["namespace"],
            "pod": pod["name"],
            "uid": pod["uid"],
            "node": pod["node"],
            "controller_kind": pod["controller_kind"],
            "controller_name": pod["controller_name"],
            "provider_id": pod["provider_id"],
            "labels": [_labels(m) for m in pod["labels"]],
            "annotations": [_labels(m) for m in pod["annotations"]],
            "services": [list(s) for s in pod["services"]],
            "lifecycle": pod["lifecycle"],
        },
    )
    u = data.usage
    pod_of_container = np.fromiter((c.pod for c in data.containers), np.int64, len(data.containers))
    seg_pod = (pod_of_container[u.container] if len(u) else np.zeros(0, np.int64)).tolist()
    columns: dict[str, Any] = {
        "cluster": [pod["cluster"][i] for i in seg_pod],
        "namespace": [pod["namespace"][i] for i in seg_pod],
        "pod": [pod["name"][i] for i in seg_pod],
        "uid": [pod["uid"][i] for i in seg_pod],
        "container": [data.containers[c].name for c in u.container.tolist()],
    }
    for name in USAGE_FLOAT_COLUMNS:
        columns[name] = getattr(u, name)
    tables["segments"] = _table("segments", columns)
    tables["nodes"] = _table(
        "nodes",
        {
            **{
                f: [getattr(n, f) for n in data.nodes]
                for f in (
                    "cluster",
                    "name",
                    "start",
                    "end",
                    "cpu_cores",
                    "ram_bytes",
                    "cpu_price",
                    "ram_price",
                    "gpu_count",
                    "gpu_price",
                    "cpu_allocatable",
                    "ram_allocatable",
                    "discount",
                    "spot",
                    "instance_type",
                    "provider_id",
                    "provider",
                )
            },
            "labels": [_labels(n.labels) for n in data.nodes],
        },
    )
    tables["volumes"] = _table(
        "volumes",
        {
            f: [getattr(v, f) for v in data.volumes]
            for f in (
                "cluster",
                "name",
                "start",
                "end",
                "bytes",
                "price_gib_hour",
                "storage_class",
                "provider_id",
                "claim_namespace",
                "claim_name",
                "claim_bytes",
            )
        },
    )
    tables["mounts"] = _table(
        "mounts",
        {
            "cluster": [pod["cluster"][m.pod] for m in data.mounts],
            "namespace": [pod["namespace"][m.pod] for m in data.mounts],
            "pod": [pod["name"][m.pod] for m in data.mounts],
            "uid": [pod["uid"][m.pod] for m in data.mounts],
            "claim_namespace": [m.claim_namespace for m in data.mounts],
            "claim_name": [m.claim_name for m in data.mounts],
        },
    )
    lbs = data.load_balancers
    tables["load_balancers"] = _table(
        "load_balancers",
        {
            **{
                f: [getattr(lb, f) for lb in lbs]
                for f in ("cluster", "namespace", "service", "start", "end", "price_hour", "ip")
            },
            "private": [lb.private for lb in lbs],
            "pods": [
                [
                    {"namespace": pod["namespace"][i], "name": pod["name"][i], "uid": pod["uid"][i]}
                    for i in lb.pods
                ]
                for lb in lbs
            ],
        },
    )
    keys = sorted(set(data.namespace_labels) | set(data.namespace_annotations))
    tables["namespaces"] = _table(
        "namespaces",
        {
            "cluster": [c for c, _ in keys],
            "namespace": [n for _, n in keys],
            "labels": [_labels(data.namespace_labels.get(k, {})) for k in keys],
            "annotations": [_labels(data.namespace_annotations.get(k, {})) for k in keys],
        },
    )
    tables["allocations"] = _allocations(allocations, start, end)
    clusters = sorted(
        set(pod["cluster"]) | {n.cluster for n in data.nodes} | set(data.cluster_management_hourly)
    )
    coverage = data.coverage
    tables["cluster"] = _table(
        "cluster",
        {
            "cluster": clusters,
            "start": [start] * len(clusters),
            "end": [end] * len(clusters),
            "coverage_start": [coverage[0] if coverage else None] * len(clusters),
            "coverage_end": [coverage[1] if coverage else None] * len(clusters),
            "cluster_management_hourly": [
                data.cluster_management_hourly.get(c, 0.0) for c in clusters
            ],
            "egress_zone_price": [
                data.network_prices.get(c, NetworkPrices()).zone for c in clusters
            ],
            "egress_region_price": [
                data.network_prices.get(c, NetworkPrices()).region for c in clusters
            ],
            "egress_internet_price": [
                data.network_prices.get(c, NetworkPrices()).internet for c in clusters
            ],
            "fallback_cpu_price": [data.fallback_prices[0]] * len(clusters),
            "fallback_ram_price": [data.fallback_prices[1]] * len(clusters),
            "fallback_gpu_price": [data.fallback_prices[2]] * len(clusters),
            "currency": [data.currency] * len(clusters),
            "warnings": [list(data.warnings)] * len(clusters),
        },
    )
    out: dict[str, dict[str, pa.Table]] = {}
    for cluster in clusters:
        out[cluster] = {
            name: table.filter(pc.equal(table["cluster"], cluster))
            for name, table in tables.items()
        }
    return out


def _allocations(result: AllocationSetRange | None, start: float, end: float) -> pa.Table:
    """Per-container costs of the hour, for SQL engines (DuckDB, Athena, BigQuery)."""
    rows: dict[str, list[Any]] = defaultdict(list)
    for s in result.sets if result is not None else []:
        for i in range(len(s)):
            props = s.properties[i]
            rows["cluster"].append(str(props.get("cluster", "")))
            rows["namespace"].append(str(props.get("namespace", "")))
            rows["pod"].append(str(props.get("pod", "")))
            rows["container"].append(str(props.get("container", "")))
            rows["node"].append(str(props.get("node", "")))
            rows["controller_kind"].append(str(props.get("controllerKind", "")))
            rows["controller"].append(str(props.get("controller", "")))
            rows["start"].append(start)
            rows["end"].append(end)
            c = s.columns
            for column, field in (
                ("cpu_core_hours", "cpuCoreHours"),
                ("ram_byte_hours", "ramByteHours"),
                ("gpu_hours", "gpuHours"),
                ("cpu_cost", "cpuCost"),
                ("ram_cost", "ramCost"),
                ("gpu_cost", "gpuCost"),
                ("pv_cost", "pvCost"),
                ("network_cost", "networkCost"),
                ("load_balancer_cost", "loadBalancerCost"),
                ("total_cost", "totalCost"),
            ):
                rows[column].append(float(c[field][i]))
    return _table("allocations", rows)


def _key(table: pa.Table, *names: str) -> pa.Array:
    """One string key per row joining the named columns."""
    parts = [pc.cast(table[n], pa.string()) for n in names]
    return pc.binary_join_element_wise(*parts, SEP)


def _last_rows(keys: pa.Array | pa.ChunkedArray) -> tuple[list[str], np.ndarray]:
    """Unique keys, latest last appearance first, and for each the row of that appearance."""
    unique, last, _ = _groups(keys)
    return unique, last


def _groups(keys: pa.Array | pa.ChunkedArray) -> tuple[list[str], np.ndarray, np.ndarray]:
    """`_last_rows`, and each row's position among the unique keys (one hash pass:
    dictionary-encoding the keys gives every row its key's code)."""
    n = len(keys)
    if n == 0:
        return [], np.zeros(0, np.int64), np.zeros(0, np.int64)
    encoded = pc.dictionary_encode(combined(keys), null_encoding="encode")
    codes = np.asarray(encoded.indices.to_numpy(zero_copy_only=False), np.int64)
    last = np.full(len(encoded.dictionary), -1, np.int64)
    np.maximum.at(last, codes, np.arange(n))
    order = np.argsort(-last, kind="stable")
    position = np.empty_like(order)
    position[order] = np.arange(len(order))
    return encoded.dictionary.take(pa.array(order)).to_pylist(), last[order], position[codes]


def _collapse(
    table: pa.Table, keys: Sequence[str], weighted: Sequence[str]
) -> tuple[list[dict[str, Any]], dict[str, np.ndarray]]:
    """One row per key: the last row's fields, the span's min start and max end, and the
    `weighted` columns averaged by each row's duration (what `pieces._merge_*` does, for many
    rows at once)."""
    unique, last, group = _groups(_key(table, *keys))
    if not unique:
        return [], {}
    start, end = _floats(table, "start"), _floats(table, "end")
    out = _spans(
        group,
        len(unique),
        start,
        end,
        np.maximum(end - start, 0.0),
        {name: _floats(table, name) for name in weighted},
        last,
    )
    return table.take(pa.array(last)).to_pylist(), out


def _floats(table: pa.Table, name: str) -> np.ndarray:
    return np.asarray(table[name].to_numpy(), np.float64)


def _spans(
    group: np.ndarray,
    size: int,
    start: np.ndarray,
    end: np.ndarray,
    seconds: np.ndarray,
    weighted: Mapping[str, np.ndarray],
    last: np.ndarray,
) -> dict[str, np.ndarray]:
    """Per group: the earliest start, the latest end, and each `weighted` column averaged by
    the rows' `seconds` (the `last` row's value where a group has no time at all)."""
    out = {"start": np.full(size, np.inf), "end": np.full(size, -np.inf)}
    np.minimum.at(out["start"], group, start)
    np.maximum.at(out["end"], group, end)
    total = np.bincount(group, seconds, size)
    for name, values in weighted.items():
        mean = np.bincount(group, values * seconds, size) / np.where(total > 0, total, 1.0)
        out[name] = np.where(total > 0, mean, values[last])
    return out


def _balancers(table: pa.Table, pod_keys: pa.Array) -> list[LoadBalancer]:
    """One load balancer per (cluster, namespace, service): its span, time-weighted price,
    last address, and every pod life any of its rows matched (one vectorised lookup)."""
    if table.num_rows == 0:
        return []
    refs = combined(table["pods"])
    parent = np.asarray(pc.list_parent_indices(refs).to_numpy(), np.int64)
    flat = refs.flatten()
    cluster_of_ref = table["cluster"].take(pa.array(parent, pa.int64()))
    ref_keys = pc.binary_join_element_wise(
        combined(cluster_of_ref),
        flat.field("namespace"),
        flat.field("name"),
        flat.field("uid"),
        SEP,
    )
    ref_pod = codes_in(ref_keys, pod_keys)
    group_key = _key(table, "cluster", "namespace", "service")
    distinct = pc.unique(group_key)  # in order of first appearance
    unique = distinct.to_pylist()
    group = codes_in(group_key, distinct)
    size = len(unique)
    last = np.full(size, -1, np.int64)
    np.maximum.at(last, group, np.arange(len(group)))
    start, end = _floats(table, "start"), _floats(table, "end")
    # Time-weighted price by each row's own duration (unclipped, as the ledger kept it).
    spans = _spans(
        group, size, start, end, end - start, {"price": _floats(table, "price_hour")}, last
    )
    first, final, mean = spans["start"], spans["end"], spans["price"]
    found = ref_pod >= 0
    pairs = np.unique(group[parent[found]] * (len(pod_keys) + 1) + ref_pod[found])
    members: list[list[int]] = [[] for _ in range(size)]
    for g, pod in zip(
        (pairs // (len(pod_keys) + 1)).tolist(), (pairs % (len(pod_keys) + 1)).tolist(), strict=True
    ):
        members[g].append(pod)
    ips = table["ip"].to_pylist()
    private = table["private"].to_pylist()
    out = []
    for g, key in enumerate(unique):
        cluster, namespace, service = key.split(SEP)
        row = int(last[g])
        out.append(
            LoadBalancer(
                cluster,
                namespace,
                service,
                float(first[g]),
                float(final[g]),
                float(mean[g]),
                ips[row],
                private[row],
                tuple(members[g]),
            )
        )
    return out


def decode(tables: Mapping[str, pa.Table], window: Window) -> ClusterData:
    """One `ClusterData` from the concatenated tables of any partitions."""
    with paused_gc():
        return _decode(tables, window)


def _decode(tables: Mapping[str, pa.Table], window: Window) -> ClusterData:
    pods_t = tables["pods"]
    pod_keys, pod_rows = _last_rows(_key(pods_t, "cluster", "namespace", "pod", "uid"))
    picked = pods_t.take(pa.array(pod_rows, pa.int64()))
    plain = {
        name: picked[name].to_pylist() if name in _POD_UNIQUE else shared_strings(picked[name])
        for name in _POD_STRINGS
    }
    pods = PodColumns(  # no object per pod life: the engine reads the columns
        {
            "cluster": plain["cluster"],
            "namespace": plain["namespace"],
            "name": plain["pod"],
            "node": plain["node"],
            "controller_kind": plain["controller_kind"],
            "controller_name": plain["controller_name"],
            "labels": map_dicts(picked["labels"]),
            "annotations": map_dicts(picked["annotations"]),
            "services": string_tuples(picked["services"]),
            "provider_id": plain["provider_id"],
            "uid": plain["uid"],
            "lifecycle": strings(picked["lifecycle"]),
        }
    )
    pod_key_array = pa.array(pod_keys, pa.string())  # for the vectorised lookups below

    seg = tables["segments"]
    # A segment's pod life by one vectorised lookup of its pod key; its container by the
    # distinct (pod, name) pairs.
    seg_pod = codes_in(_key(seg, "cluster", "namespace", "pod", "uid"), pod_key_array)
    if (seg_pod < 0).any():
        raise ValueError("the ledger holds segments of pods it has no record of")
    names = pc.dictionary_encode(combined(seg["container"]))
    name_code = np.asarray(names.indices.to_numpy(zero_copy_only=False), np.int64)
    width = max(len(names.dictionary), 1)
    pairs, seg_container = np.unique(seg_pod * width + name_code, return_inverse=True)
    name_text = names.dictionary.to_pylist()
    containers = [
        Container(pod, name_text[code])
        for pod, code in zip((pairs // width).tolist(), (pairs % width).tolist(), strict=True)
    ]
    usage = UsageSegments(
        container=np.asarray(seg_container, np.int64).reshape(-1),
        **{
            name: np.asarray(seg[name].to_numpy(zero_copy_only=False), np.float64)
            for name in USAGE_FLOAT_COLUMNS
        },
    )

    node_rows, node_values = _collapse(
        tables["nodes"], ("cluster", "name"), ("cpu_price", "ram_price", "gpu_price", "discount")
    )
    nodes = []
    for i, r in enumerate(node_rows):
        labels = dict(r.pop("labels") or [])
        r.update({k: float(v[i]) for k, v in node_values.items()})
        nodes.append(Node(**r, labels=labels))
    volume_rows, volume_values = _collapse(
        tables["volumes"], ("cluster", "name"), ("price_gib_hour",)
    )
    volumes = []
    for i, r in enumerate(volume_rows):
        r.update({k: float(v[i]) for k, v in volume_values.items()})
        volumes.append(PersistentVolume(**r))
    mounts: dict[tuple[int, str, str], VolumeMount] = {}
    mounts_t = tables["mounts"]
    mount_pod = codes_in(_key(mounts_t, "cluster", "namespace", "pod", "uid"), pod_key_array)
    for pod, claim_namespace, claim_name in zip(
        mount_pod.tolist(),
        mounts_t["claim_namespace"].to_pylist(),
        mounts_t["claim_name"].to_pylist(),
        strict=True,
    ):
        if pod >= 0:
            mounts[(pod, claim_namespace, claim_name)] = VolumeMount(
                pod, claim_namespace, claim_name
            )
    balancers = _balancers(tables["load_balancers"], pod_key_array)
    namespace_labels: dict[tuple[str, str], dict[str, str]] = {}
    namespace_annotations: dict[tuple[str, str], dict[str, str]] = {}
    for r in tables["namespaces"].to_pylist():
        key = (r["cluster"], r["namespace"])
        if r["labels"]:
            namespace_labels[key] = dict(r["labels"])
        if r["annotations"]:
            namespace_annotations[key] = dict(r["annotations"])
    management: dict[str, float] = {}
    network: dict[str, NetworkPrices] = {}
    warnings: list[str] = []
    starts: list[float] = []
    ends: list[float] = []
    fallback = (0.031611, 0.004237, 0.95)
    currency = "USD"
    for r in sorted(tables["cluster"].to_pylist(), key=lambda r: r["start"]):
        management[r["cluster"]] = r["cluster_management_hourly"]
        network[r["cluster"]] = NetworkPrices(
            r["egress_zone_price"], r["egress_region_price"], r["egress_internet_price"]
        )
        fallback = (r["fallback_cpu_price"], r["fallback_ram_price"], r["fallback_gpu_price"])
        currency = r["currency"]
        for w in r["warnings"] or []:
            if w not in warnings:
                warnings.append(w)
        if r["coverage_start"] is not None:
            starts.append(r["coverage_start"])
            ends.append(r["coverage_end"])
    return ClusterData(
        window=window,
        nodes=nodes,
        pods=pods,
        containers=containers,
        usage=usage,
        volumes=volumes,
        mounts=list(mounts.values()),
        load_balancers=balancers,
        cluster_management_hourly=management,
        network_prices=network,
        namespace_labels=namespace_labels,
        namespace_annotations=namespace_annotations,
        fallback_prices=fallback,
        currency=currency,
        warnings=warnings,
        coverage=(min(starts), max(ends)) if starts else None,
    )
