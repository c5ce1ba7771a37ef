"""Container lives recorded from the Kubernetes API, kept in the ledger one file per hour.

`_lifecycle/cluster=<id>/date=YYYY-MM-DD/hHH.parquet` holds every container life that overlapped
that hour, as the recorder knew it when the hour ended (a container still running then has no
end and `observed` = the hour's end). A life spanning hours is in each; readers keep one record
per life, the latest observation (`model.lifecycle.merge_lives`). Files are written atomically
before the hour is closed from the live source, so the closed hour already includes them.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Sequence
from datetime import UTC, datetime

import pyarrow as pa

from costreport.model.lifecycle import ContainerLife, merge_lives
from costreport.sources.ledger.store import HOUR, LedgerStore

PREFIX = "_lifecycle"
LABELS = pa.map_(pa.string(), pa.string())
LIFECYCLE_SCHEMA = pa.schema(
    [
        pa.field("cluster", pa.string(), metadata={"meaning": "cluster id"}),
        pa.field("namespace", pa.string(), metadata={"meaning": "namespace"}),
        pa.field("pod", pa.string(), metadata={"meaning": "pod name"}),
        pa.field("uid", pa.string(), metadata={"meaning": "pod uid"}),
        pa.field("container", pa.string(), metadata={"meaning": "container name"}),
        pa.field("node", pa.string(), metadata={"meaning": "node (spec.nodeName)"}),
        pa.field("start", pa.float64(), metadata={"unit": "unix s", "meaning": "startedAt"}),
        pa.field(
            "end",
            pa.float64(),
            metadata={"unit": "unix s", "meaning": "finishedAt (null: running)"},
        ),
        pa.field(
            "observed", pa.float64(), metadata={"unit": "unix s", "meaning": "state known until"}
        ),
        pa.field(
            "cpu_request", pa.float64(), metadata={"unit": "cores", "meaning": "spec request"}
        ),
        pa.field(
            "ram_request", pa.float64(), metadata={"unit": "bytes", "meaning": "spec request"}
        ),
        pa.field("gpu_request", pa.float64(), metadata={"unit": "GPUs", "meaning": "spec request"}),
        pa.field("controller_kind", pa.string(), metadata={"meaning": "owner kind"}),
        pa.field("controller_name", pa.string(), metadata={"meaning": "owner name"}),
        pa.field("labels", LABELS, metadata={"meaning": "after the label policy"}),
        pa.field("annotations", LABELS, metadata={"meaning": "after the label policy"}),
    ],
    metadata={"costreport.lifecycle.schema": "1"},
)


def hour_path(cluster: str, hour: float) -> str:
    """Relative path of one cluster's records of one hour."""
    stamp = datetime.fromtimestamp(hour, tz=UTC)
    return f"{PREFIX}/cluster={cluster}/date={stamp:%Y-%m-%d}/h{stamp:%H}.parquet"


def to_table(lives: Sequence[ContainerLife]) -> pa.Table:
    """Records as a table (nan ends become nulls)."""
    columns = {
        name: [getattr(life, name) for life in lives]
        for name in LIFECYCLE_SCHEMA.names
        if name not in ("labels", "annotations", "end")
    }
    columns["end"] = [life.end if math.isfinite(life.end) else None for life in lives]
    columns["labels"] = [sorted(life.labels.items()) for life in lives]
    columns["annotations"] = [sorted(life.annotations.items()) for life in lives]
    return pa.table(columns, schema=LIFECYCLE_SCHEMA)


def from_table(table: pa.Table) -> list[ContainerLife]:
    """Records from a table."""
    out = []
    for r in table.to_pylist():
        end = r["end"]
        out.append(
            ContainerLife(
                r["cluster"],
                r["namespace"],
                r["pod"],
                r["uid"],
                r["container"],
                r["node"] or "",
                float(r["start"]),
                float(end) if end is not None else math.nan,
                float(r["observed"]),
                float(r["cpu_request"] or 0.0),
                float(r["ram_request"] or 0.0),
                float(r["gpu_request"] or 0.0),
                r["controller_kind"] or "",
                r["controller_name"] or "",
                dict(r["labels"] or []),
                dict(r["annotations"] or []),
            )
        )
    return out


class LifecycleFiles:
    """The ledger's lifecycle records (a `LifecycleSource`)."""

    def __init__(self, store: LedgerStore, clusters: Sequence[str] | None = None) -> None:
        self.store = store
        self.clusters = list(clusters) if clusters is not None else None

    def write_hour(self, cluster: str, hour: float, lives: Sequence[ContainerLife]) -> str:
        """Write one cluster's records of one hour, merged with what the file already holds
        (a restarted recorder knows less than the one before it: nothing is forgotten)."""
        relative = hour_path(cluster, hour)
        held = self.store.read_file_table(relative)
        if held is not None:
            lives = list(merge_lives([*from_table(held), *lives]).values())
        self.store.write_table(relative, to_table(lives))
        return relative

    def _clusters(self) -> list[str]:
        if self.clusters is not None:
            return self.clusters
        names = self.store.subdirectories(PREFIX)
        return [n.removeprefix("cluster=") for n in names if n.startswith("cluster=")]

    def read(self, start: float, end: float) -> list[ContainerLife]:
        """Every recorded life overlapping [start, end), one record per life."""
        first = math.floor(start / HOUR) * HOUR
        hours = [first + k * HOUR for k in range(max(0, math.ceil((end - first) / HOUR)))]
        found: list[ContainerLife] = []
        for cluster in self._clusters():
            for hour in hours:
                table = self.store.read_file_table(hour_path(cluster, hour))
                if table is not None:
                    found.extend(from_table(table))
        return [
            life
            for life in merge_lives(found).values()
            if life.start < end and life.known_end > start
        ]

    async def lives(self, start: float, end: float) -> list[ContainerLife]:
        """`read` in a worker thread."""
        return await asyncio.to_thread(self.read, start, end)
