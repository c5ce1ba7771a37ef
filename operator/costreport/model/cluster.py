"""Cluster data as a source hands it to the engine: nodes, pods, usage segments, volumes.

The engine never talks to Prometheus or to the sample generator: every source turns what it
knows into a `ClusterData`. Usage is a columnar table of *segments*: a segment is a stretch of
one container's life, `[start, end)` in unix seconds, over which its request, usage and
allocation averages are known. A source with exact timestamps (kube-state-metrics start and
completion times, or a generator) emits one segment per container; a source that only has
per-step averages emits one segment per container and step. Because costs are linear in the
overlap between a segment and a step set, step sets, accumulation and short-lived pods all come
out exact, whatever the query resolution.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields
from operator import attrgetter
from typing import Any, Protocol, overload

import numpy as np
from numpy.typing import NDArray

from costreport.model.window import Window

GIB = float(1 << 30)

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class Node:
    """A node over the part of the window it existed, with its capacity and unit prices.

    Prices are undiscounted $/core-hour, $/GiB-hour and $/GPU-hour; `discount` is the combined
    discount applied to CPU and RAM (never GPU), as OpenCost does.
    """

    cluster: str
    name: str
    start: float
    end: float
    cpu_cores: float
    ram_bytes: float
    cpu_price: float
    ram_price: float
    gpu_count: float = 0.0
    gpu_price: float = 0.0
    cpu_allocatable: float = 0.0
    ram_allocatable: float = 0.0
    discount: float = 0.0
    spot: bool = False
    instance_type: str = ""
    provider_id: str = ""
    provider: str = "custom"
    labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(slots=True)  # not frozen: a frozen __init__ is 6× slower, and there is one per pod
class Pod:
    """A pod's identity and metadata; its running time comes from its containers' segments.

    `controller_kind` is lower-case (`deployment`, `statefulset`, `daemonset`, `job`,
    `replicaset`, `rollout`) or empty for a bare pod. Labels and annotations use sanitised keys
    (Prometheus form) and already include the node allow-list and namespace overlays.
    """

    cluster: str
    namespace: str
    name: str
    node: str
    controller_kind: str = ""
    controller_name: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    services: tuple[str, ...] = ()
    provider_id: str = ""
    uid: str = ""
    lifecycle: str = (
        ""  # "recorded": a Kubernetes API record gave its runtime; "only": nothing else saw it
    )


POD_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(Pod))
"""`Pod`'s fields, in its constructor's order."""


class PodColumns(Sequence[Pod]):
    """Pods held as one list per `Pod` field; a `Pod` is made only when one is asked for.

    What a source of many pod lives (the ledger's decoder: ~100,000 over 90 days of a
    10k-pod cluster) hands the engine, which reads whole fields through `pod_column` and so
    makes no object per pod. Its pods are read-only: a changed field is a new `PodColumns`
    (`replaced`), as a changed `Pod` is a new `Pod`.
    """

    __slots__ = ("_columns", "_size")

    def __init__(self, columns: Mapping[str, Sequence[object]]) -> None:
        self._columns = {name: columns[name] for name in POD_FIELDS}
        sizes = {len(values) for values in self._columns.values()}
        if len(sizes) != 1:
            raise ValueError(f"pod columns of different lengths: {sorted(sizes)}")
        self._size = sizes.pop()

    def __len__(self) -> int:
        return self._size

    @overload
    def __getitem__(self, index: int) -> Pod: ...

    @overload
    def __getitem__(self, index: slice) -> list[Pod]: ...

    def __getitem__(self, index: int | slice) -> Pod | list[Pod]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(self._size))]
        return Pod(*(self._columns[name][index] for name in POD_FIELDS))  # type: ignore[arg-type]

    def __iter__(self) -> Iterator[Pod]:
        return map(Pod, *(self._columns[name] for name in POD_FIELDS))

    def column(self, name: str) -> Sequence[Any]:
        """One field of every pod, as held (not a copy: do not change it)."""
        return self._columns[name]

    def replaced(self, **columns: Sequence[object]) -> PodColumns:
        """The same pods with some fields' columns swapped for others."""
        return PodColumns({**self._columns, **columns})


def pod_column(pods: Sequence[Pod], name: str) -> Sequence[Any]:
    """One `Pod` field of every pod, in order: the column itself for `PodColumns`, else read
    off each pod."""
    if isinstance(pods, PodColumns):
        return pods.column(name)
    return list(map(attrgetter(name), pods))


@dataclass(slots=True)  # not frozen, like Pod: one per container
class Container:
    """One container of one pod (index into `ClusterData.pods`)."""

    pod: int
    name: str


@dataclass(slots=True)
class UsageSegments:
    """Columnar usage: one row per (container, segment of constant averages).

    Rates are averages over the segment: cores, bytes and GPUs. `*_allocation` is OpenCost's
    allocation basis, the average of max(request, usage); network rates are bytes per second
    and egress rates GiB per hour per traffic class.
    """

    container: IntArray
    start: FloatArray
    end: FloatArray
    cpu_request: FloatArray
    cpu_usage: FloatArray
    cpu_allocation: FloatArray
    cpu_usage_max: FloatArray
    ram_request: FloatArray
    ram_usage: FloatArray
    ram_allocation: FloatArray
    ram_usage_max: FloatArray
    gpu_request: FloatArray
    gpu_usage: FloatArray
    network_transfer_rate: FloatArray
    network_receive_rate: FloatArray
    egress_zone_rate: FloatArray
    egress_region_rate: FloatArray
    egress_internet_rate: FloatArray

    def __len__(self) -> int:
        return int(self.container.shape[0])

    @classmethod
    def from_rows(cls, rows: Sequence[Mapping[str, float]]) -> UsageSegments:
        """Build the table from per-segment mappings; missing rates default to 0.

        `cpu_allocation`/`ram_allocation` default to max(request, usage) and the maxima to the
        averages, so hand-written fixtures stay short.
        """
        n = len(rows)
        columns: dict[str, FloatArray] = {}
        for name in USAGE_FLOAT_COLUMNS:
            columns[name] = np.fromiter(
                (float(r.get(name, 0.0)) for r in rows), dtype=np.float64, count=n
            )
        for kind in ("cpu", "ram"):
            explicit = np.fromiter(
                (float(r.get(f"{kind}_allocation", -1.0)) for r in rows), np.float64, n
            )
            fallback = np.maximum(columns[f"{kind}_request"], columns[f"{kind}_usage"])
            columns[f"{kind}_allocation"] = np.where(explicit < 0, fallback, explicit)
            peak = np.fromiter(
                (float(r.get(f"{kind}_usage_max", -1.0)) for r in rows), np.float64, n
            )
            columns[f"{kind}_usage_max"] = np.where(peak < 0, columns[f"{kind}_usage"], peak)
        container = np.fromiter((int(r["container"]) for r in rows), dtype=np.int64, count=n)
        return cls(container=container, **columns)

    @classmethod
    def concatenate(cls, parts: Sequence[UsageSegments]) -> UsageSegments:
        """Join several tables (e.g. chunks fetched separately) into one."""
        return cls(
            container=np.concatenate([p.container for p in parts]).astype(np.int64),
            **{
                name: np.concatenate([getattr(p, name) for p in parts])
                for name in USAGE_FLOAT_COLUMNS
            },
        )


USAGE_FLOAT_COLUMNS: tuple[str, ...] = (
    "start",
    "end",
    "cpu_request",
    "cpu_usage",
    "cpu_allocation",
    "cpu_usage_max",
    "ram_request",
    "ram_usage",
    "ram_allocation",
    "ram_usage_max",
    "gpu_request",
    "gpu_usage",
    "network_transfer_rate",
    "network_receive_rate",
    "egress_zone_rate",
    "egress_region_rate",
    "egress_internet_rate",
)


@dataclass(frozen=True, slots=True)
class PersistentVolume:
    """A PV over its life, with the PVC bound to it (empty claim fields when unbound).

    `claim_bytes` is the PVC's request, which OpenCost bills mounted pods by; the PV's own
    capacity `bytes` bills the unmounted remainder and the Disk asset.
    """

    cluster: str
    name: str
    start: float
    end: float
    bytes: float
    price_gib_hour: float
    storage_class: str = ""
    provider_id: str = ""
    claim_namespace: str = ""
    claim_name: str = ""
    claim_bytes: float = 0.0


@dataclass(frozen=True, slots=True)
class VolumeMount:
    """A pod mounting a PVC; the mount lasts as long as the pod runs."""

    pod: int
    claim_namespace: str
    claim_name: str


@dataclass(frozen=True, slots=True)
class LoadBalancer:
    """A LoadBalancer service, its hourly price and the pods its selector matches."""

    cluster: str
    namespace: str
    service: str
    start: float
    end: float
    price_hour: float
    ip: str = ""
    private: bool = False
    pods: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class NetworkPrices:
    """Egress prices in $ per GiB for one cluster."""

    zone: float = 0.01
    region: float = 0.01
    internet: float = 0.12


@dataclass(frozen=True, slots=True)
class ResourceBill:
    """A resource's usage lines on the cloud bill: charge periods and their effective cost
    (commitments amortised), in the bill's currency."""

    start: FloatArray
    end: FloatArray
    cost: FloatArray
    list_cost: FloatArray
    billed: FloatArray  # BilledCost (0 for usage a commitment covers)


@dataclass(slots=True, repr=False)
class ClusterData:
    """Everything the engine needs for one query window, from one source.

    Its repr is a one-line summary: a full dataclass repr of a large cluster takes seconds,
    and asyncio and loggers do call repr on results.
    """

    window: Window
    nodes: list[Node]
    pods: Sequence[Pod]
    """A list, or `PodColumns` (read fields in bulk with `pod_column`)."""
    containers: list[Container]
    usage: UsageSegments
    volumes: list[PersistentVolume] = field(default_factory=list)
    mounts: list[VolumeMount] = field(default_factory=list)
    load_balancers: list[LoadBalancer] = field(default_factory=list)
    cluster_management_hourly: Mapping[str, float] = field(default_factory=dict)
    network_prices: Mapping[str, NetworkPrices] = field(default_factory=dict)
    namespace_labels: Mapping[tuple[str, str], Mapping[str, str]] = field(default_factory=dict)
    namespace_annotations: Mapping[tuple[str, str], Mapping[str, str]] = field(default_factory=dict)
    fallback_prices: tuple[float, float, float] = (0.031611, 0.004237, 0.95)
    currency: str = "USD"
    warnings: list[str] = field(default_factory=list)
    query_count: int = 0
    coverage: tuple[float, float] | None = None
    """[start, end) unix seconds of the window the source holds data for; None: all of it."""
    notes: Mapping[str, object] = field(default_factory=dict)
    """How the source derived its data (e.g. container start bases), declared in `meta`."""
    bills: Mapping[str, ResourceBill] = field(default_factory=dict)
    """Bill lines by resource key (`engine.reconcile.resource_key`), for reconciled costs."""

    def __repr__(self) -> str:
        return (
            f"ClusterData({self.window.to_json()['start']}..{self.window.to_json()['end']}, "
            f"{len(self.nodes)} nodes, {len(self.pods)} pods, {len(self.usage)} segments)"
        )


class ClusterSource(Protocol):
    """Where cluster data comes from: the embedded sample cluster, Prometheus, …"""

    name: str

    async def cluster_data(
        self, window: Window, *, resolution_seconds: float, step_seconds: float | None = None
    ) -> ClusterData:
        """The cluster's data covering `window`, for step sets of `step_seconds` (None: one).

        Raises SourceUnavailable when the backend fails.
        """
        ...

    async def check(self) -> None:
        """Raise SourceUnavailable unless the source can answer queries (readiness)."""
        ...
