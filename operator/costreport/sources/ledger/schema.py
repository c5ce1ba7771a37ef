"""The ledger's Parquet tables, versioned: every column with its type, unit and meaning.

`SCHEMA_VERSION` is written into every commit marker and every file's metadata; a reader
refuses a version it does not know. The README's column table is generated from `TABLES`.
"""

from __future__ import annotations

import pyarrow as pa

SCHEMA_VERSION = 3
"""Version of the table layout below; bumped on any incompatible change (2: `pods.lifecycle`;
3: month bundles, whose markers list days as row ranges; `day_segments` is an optional file
of a bundle, absent from older ones, not a new version)."""
READABLE_VERSIONS = (1, 2, 3)
"""Versions this code reads (a column added since is filled with its default)."""

LABELS = pa.map_(pa.string(), pa.string())
POD_REF = pa.struct([("namespace", pa.string()), ("name", pa.string()), ("uid", pa.string())])

Column = tuple[str, pa.DataType, str, str]
"""(name, type, unit, meaning)."""

POD_COLUMNS: list[Column] = [
    ("cluster", pa.string(), "", "cluster id"),
    ("namespace", pa.string(), "", "namespace"),
    ("pod", pa.string(), "", "pod name"),
    ("uid", pa.string(), "", "pod uid: one life of a pod name (empty when the source has none)"),
]

USAGE_COLUMNS: list[Column] = [
    ("start", pa.float64(), "unix s", "segment start, within the partition's hour"),
    ("end", pa.float64(), "unix s", "segment end, within the partition's hour"),
    ("cpu_request", pa.float64(), "cores", "average CPU request over the segment"),
    ("cpu_usage", pa.float64(), "cores", "average CPU usage over the segment"),
    ("cpu_allocation", pa.float64(), "cores", "average of max(request, usage) (cost basis)"),
    ("cpu_usage_max", pa.float64(), "cores", "peak CPU usage in the segment"),
    ("ram_request", pa.float64(), "bytes", "average memory request"),
    ("ram_usage", pa.float64(), "bytes", "average memory working set"),
    ("ram_allocation", pa.float64(), "bytes", "average of max(request, usage) (cost basis)"),
    ("ram_usage_max", pa.float64(), "bytes", "peak memory working set"),
    ("gpu_request", pa.float64(), "GPUs", "average GPU request"),
    ("gpu_usage", pa.float64(), "GPUs", "average GPU usage"),
    ("network_transfer_rate", pa.float64(), "bytes/s", "network bytes sent"),
    ("network_receive_rate", pa.float64(), "bytes/s", "network bytes received"),
    ("egress_zone_rate", pa.float64(), "GiB/h", "cross-zone egress"),
    ("egress_region_rate", pa.float64(), "GiB/h", "cross-region egress"),
    ("egress_internet_rate", pa.float64(), "GiB/h", "internet egress"),
]

TABLE_COLUMNS: dict[str, list[Column]] = {
    "segments": [
        *POD_COLUMNS,
        ("container", pa.string(), "", "container name"),
        *USAGE_COLUMNS,
    ],
    "day_segments": [
        *POD_COLUMNS,
        ("container", pa.string(), "", "container name"),
        *[
            (c, t, u, m.replace("within the partition's hour", "within the day"))
            for c, t, u, m in USAGE_COLUMNS
        ],
    ],
    "pods": [
        *POD_COLUMNS,
        ("node", pa.string(), "", "node the pod ran on"),
        ("controller_kind", pa.string(), "", "deployment, statefulset, daemonset, job, … or empty"),
        ("controller_name", pa.string(), "", "controller name"),
        ("provider_id", pa.string(), "", "node provider id"),
        ("labels", LABELS, "", "pod labels after the label policy (sanitised keys)"),
        ("annotations", LABELS, "", "pod annotations after the label policy"),
        ("services", pa.list_(pa.string()), "", "services selecting the pod"),
        (
            "lifecycle",
            pa.string(),
            "",
            "recorded: runtime from the Kubernetes API's records; only: seen by nothing else",
        ),
    ],
    "nodes": [
        ("cluster", pa.string(), "", "cluster id"),
        ("name", pa.string(), "", "node name"),
        ("start", pa.float64(), "unix s", "node seen from (within the hour)"),
        ("end", pa.float64(), "unix s", "node seen until (within the hour)"),
        ("cpu_cores", pa.float64(), "cores", "CPU capacity"),
        ("ram_bytes", pa.float64(), "bytes", "memory capacity"),
        ("cpu_price", pa.float64(), "$/core-h", "undiscounted CPU price in force in the hour"),
        ("ram_price", pa.float64(), "$/GiB-h", "undiscounted RAM price in force in the hour"),
        ("gpu_count", pa.float64(), "GPUs", "GPU capacity"),
        ("gpu_price", pa.float64(), "$/GPU-h", "GPU price in force in the hour"),
        ("cpu_allocatable", pa.float64(), "cores", "allocatable CPU"),
        ("ram_allocatable", pa.float64(), "bytes", "allocatable memory"),
        ("discount", pa.float64(), "fraction", "combined discount on CPU and RAM"),
        ("spot", pa.bool_(), "", "spot / preemptible"),
        ("instance_type", pa.string(), "", "instance type"),
        ("provider_id", pa.string(), "", "provider id (instance id)"),
        ("provider", pa.string(), "", "provider"),
        ("labels", LABELS, "", "allow-listed node labels"),
    ],
    "volumes": [
        ("cluster", pa.string(), "", "cluster id"),
        ("name", pa.string(), "", "persistent volume name"),
        ("start", pa.float64(), "unix s", "seen from (within the hour)"),
        ("end", pa.float64(), "unix s", "seen until (within the hour)"),
        ("bytes", pa.float64(), "bytes", "capacity"),
        ("price_gib_hour", pa.float64(), "$/GiB-h", "price in force in the hour"),
        ("storage_class", pa.string(), "", "storage class"),
        ("provider_id", pa.string(), "", "volume handle / provider id"),
        ("claim_namespace", pa.string(), "", "bound claim's namespace (empty: unbound)"),
        ("claim_name", pa.string(), "", "bound claim's name"),
        ("claim_bytes", pa.float64(), "bytes", "the claim's request (mounted pods pay it)"),
    ],
    "mounts": [
        *POD_COLUMNS,
        ("claim_namespace", pa.string(), "", "mounted claim's namespace"),
        ("claim_name", pa.string(), "", "mounted claim's name"),
    ],
    "load_balancers": [
        ("cluster", pa.string(), "", "cluster id"),
        ("namespace", pa.string(), "", "service namespace"),
        ("service", pa.string(), "", "service name"),
        ("start", pa.float64(), "unix s", "seen from (within the hour)"),
        ("end", pa.float64(), "unix s", "seen until (within the hour)"),
        ("price_hour", pa.float64(), "$/h", "price in force in the hour"),
        ("ip", pa.string(), "", "ingress IP"),
        ("private", pa.bool_(), "", "private address"),
        ("pods", pa.list_(POD_REF), "", "pods the selector matched"),
    ],
    "namespaces": [
        ("cluster", pa.string(), "", "cluster id"),
        ("namespace", pa.string(), "", "namespace"),
        ("labels", LABELS, "", "namespace labels after the label policy"),
        ("annotations", LABELS, "", "namespace annotations after the label policy"),
    ],
    "cluster": [
        ("cluster", pa.string(), "", "cluster id"),
        ("start", pa.float64(), "unix s", "the hour's start"),
        ("end", pa.float64(), "unix s", "the hour's end"),
        ("coverage_start", pa.float64(), "unix s", "first instant with data (null: none)"),
        ("coverage_end", pa.float64(), "unix s", "last instant with data (null: none)"),
        ("cluster_management_hourly", pa.float64(), "$/h", "cluster management fee"),
        ("egress_zone_price", pa.float64(), "$/GiB", "cross-zone egress price"),
        ("egress_region_price", pa.float64(), "$/GiB", "cross-region egress price"),
        ("egress_internet_price", pa.float64(), "$/GiB", "internet egress price"),
        ("fallback_cpu_price", pa.float64(), "$/core-h", "price for pods on unknown nodes"),
        ("fallback_ram_price", pa.float64(), "$/GiB-h", "price for pods on unknown nodes"),
        ("fallback_gpu_price", pa.float64(), "$/GPU-h", "price for pods on unknown nodes"),
        ("currency", pa.string(), "", "currency of every price"),
        ("warnings", pa.list_(pa.string()), "", "what the source warned about for the hour"),
    ],
    "allocations": [
        ("cluster", pa.string(), "", "cluster id"),
        ("namespace", pa.string(), "", "namespace (empty for cluster-wide buckets)"),
        ("pod", pa.string(), "", "pod name (or an unmounted-volume bucket)"),
        ("container", pa.string(), "", "container name"),
        ("node", pa.string(), "", "node"),
        ("controller_kind", pa.string(), "", "controller kind"),
        ("controller", pa.string(), "", "controller name"),
        ("start", pa.float64(), "unix s", "the hour's start"),
        ("end", pa.float64(), "unix s", "the hour's end"),
        ("cpu_core_hours", pa.float64(), "core-h", "CPU hours at max(request, usage)"),
        ("ram_byte_hours", pa.float64(), "byte-h", "memory byte-hours at max(request, usage)"),
        ("gpu_hours", pa.float64(), "GPU-h", "GPU hours"),
        ("cpu_cost", pa.float64(), "$", "CPU cost in the hour (discounted)"),
        ("ram_cost", pa.float64(), "$", "RAM cost in the hour (discounted)"),
        ("gpu_cost", pa.float64(), "$", "GPU cost in the hour"),
        ("pv_cost", pa.float64(), "$", "persistent-volume cost in the hour"),
        ("network_cost", pa.float64(), "$", "network egress cost in the hour"),
        ("load_balancer_cost", pa.float64(), "$", "load-balancer cost in the hour"),
        ("total_cost", pa.float64(), "$", "sum of the costs above (no idle, no sharing)"),
    ],
}
"""Every table of an hour (or a compacted day) partition. `day_segments` is only in a closed
day's bundle of hours: each container's segments of the day merged into one (time-weighted
rates), read instead of `segments` when every step set is whole UTC days."""

TABLES: dict[str, pa.Schema] = {
    name: pa.schema(
        [pa.field(c, t, metadata={"unit": u, "meaning": m}) for c, t, u, m in columns],
        metadata={"costreport.ledger.schema": str(SCHEMA_VERSION)},
    )
    for name, columns in TABLE_COLUMNS.items()
}

ENGINE_TABLES = tuple(t for t in TABLES if t not in ("allocations", "day_segments"))
"""What the engine reads (`allocations` is for SQL engines; `day_segments` stands in for
`segments` in queries of whole days), and what a month bundle of merged days holds."""
