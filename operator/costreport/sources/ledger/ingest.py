"""Closing hours into the ledger: from a live source, hour by hour, resumable, idempotent.

`close_hours` asks the live source for each hour not yet committed (or every hour of a
range, for `repair`), clips it to the hour, prices it with the engine (the `allocations`
table that SQL engines read), and writes its partition. An hour the source has no data for
(before its history) is skipped. Progress is reported through a callback (the CLI draws a
progress bar with it).
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from costreport.engine.allocation import compute_allocations
from costreport.engine.privacy import LabelPolicy
from costreport.model.cluster import ClusterSource
from costreport.model.errors import NoData
from costreport.model.query import AllocationQuery
from costreport.model.window import Window
from costreport.sources.ledger.codec import encode
from costreport.sources.ledger.months import retire
from costreport.sources.ledger.pieces import clip
from costreport.sources.ledger.store import DAY, HOUR, LedgerStore

log = logging.getLogger("costreport.ledger")

GRACE_SECONDS = 300.0
"""An hour is closed this long after it ended (the source's last scrapes have arrived)."""
ALLOCATION_KEYS = ("cluster", "namespace", "pod", "container")


@dataclass(slots=True)
class IngestReport:
    """What one run of `close_hours` did."""

    written: list[float] = field(default_factory=list)
    skipped_no_data: list[float] = field(default_factory=list)
    already: int = 0
    seconds: float = 0.0
    interrupted: bool = False
    """Stopped before the end: the operator's replica lost leadership part-way."""

    def extend(self, later: IngestReport) -> None:
        """Add a later run's hours and time to this one (one report over consecutive ranges)."""
        self.written += later.written
        self.skipped_no_data += later.skipped_no_data
        self.already += later.already
        self.seconds += later.seconds
        self.interrupted = self.interrupted or later.interrupted

    @property
    def hours_per_second(self) -> float:
        """Throughput of the hours written."""
        return len(self.written) / self.seconds if self.seconds > 0 else 0.0


def last_closable_hour(now: float, grace: float = GRACE_SECONDS) -> float:
    """End of the last hour that can be closed at `now`."""
    return math.floor((now - grace) / HOUR) * HOUR


def cluster_of(live: ClusterSource) -> str | None:
    """The one cluster a live source writes (None: it may write several)."""
    cluster = getattr(live, "cluster_id", None)
    return cluster if isinstance(cluster, str) and cluster else None


def hours_between(start: float, end: float) -> list[float]:
    """Starts of the whole hours in [start, end)."""
    first = math.ceil(start / HOUR) * HOUR
    return [first + k * HOUR for k in range(max(0, int((end - first) // HOUR)))]


async def close_hours(
    live: ClusterSource,
    store: LedgerStore,
    start: float,
    end: float,
    *,
    policy: LabelPolicy | None = None,
    rewrite: bool = False,
    progress: Callable[[int, int], None] | None = None,
    hook: Callable[[], None] | None = None,
) -> IngestReport:
    """Commit every whole hour in [start, end) that is not committed yet (all with `rewrite`).

    "Committed" is judged for the live source's own cluster (`cluster_id`) when it names
    one: in a fleet's bucket, other clusters' hours are not this one's.
    """
    began = time.perf_counter()
    report = IngestReport()
    commits = store.commits(cluster_of(live))
    done = set() if rewrite else {(c.start) for c in commits if c.grain == "hour"}
    days = {c.day for c in commits if c.grain != "hour"}
    superseded = []
    if rewrite:
        # A bundled or compacted day is rewritten whole: its hours exist only in the bundle.
        touched = {h - h % DAY for h in hours_between(start, end)}
        superseded = [c for c in commits if c.grain != "hour" and c.day in touched]
        if superseded:
            start = min(start, min(c.start for c in superseded))
            end = max(end, max(c.end for c in superseded))
    hours = hours_between(start, end)
    for index, hour in enumerate(hours):
        if hour in done or (not rewrite and hour - hour % DAY in days):
            report.already += 1
        else:
            try:
                written = await close_hour(live, store, hour, policy=policy, hook=hook)
            except NoData:
                report.skipped_no_data.append(hour)
            else:
                if written:
                    report.written.append(hour)
                else:
                    report.skipped_no_data.append(hour)
        if progress is not None:
            progress(index + 1, len(hours))
    # The rewritten hours become visible once what they replace is gone; a day the source
    # gave no hour of keeps what the ledger had (a repair never turns history into nothing).
    rewritten = {h - h % DAY for h in report.written}
    retire(store, [c for c in superseded if c.day in rewritten])
    report.seconds = time.perf_counter() - began
    return report


async def close_hour(
    live: ClusterSource,
    store: LedgerStore,
    hour: float,
    *,
    policy: LabelPolicy | None = None,
    hook: Callable[[], None] | None = None,
) -> bool:
    """Write one hour's partitions (one per cluster); False when the source had nothing."""
    window = Window.from_timestamps(hour, hour + HOUR)
    data = await live.cluster_data(window, resolution_seconds=60, step_seconds=HOUR)
    if policy is not None:
        data = policy.apply(data)
    piece = clip(data, hour, hour + HOUR)
    if piece.coverage is None and not piece.nodes and not len(piece.usage):
        return False
    query = AllocationQuery(window=window, aggregate=ALLOCATION_KEYS)
    priced = await asyncio.to_thread(compute_allocations, piece, query, now=hour + HOUR)
    for cluster, tables in encode(piece, hour, hour + HOUR, priced).items():
        await asyncio.to_thread(
            store.write_partition, cluster, hour, hour + HOUR, "hour", tables, hook
        )
        log.info(
            "ledger hour closed",
            extra={"context": {"cluster": cluster, "hour": window.to_json()["start"]}},
        )
    return True
