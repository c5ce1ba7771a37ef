"""Housekeeping: closed days are bundled, days older than `hourly_days` merged, both gathered
into month bundles (`months.py`), old data dropped.

Every closed day's hours are first bundled (one file per table, rows unchanged, finest step
still 1 h). A day's 24 hour partitions merge into one, exactly for any set of a day or longer: every
container's segments of the day become one segment whose averages are weighted by time
(costs are rate × time, so the day's totals do not change), peaks stay peaks, and node,
volume and load-balancer prices are averaged by the time each hour covered. The finest step
such a day can be answered at is one day, and `meta.source.finestStep` says so. The
`allocations` table is summed per container and day.

Order makes it crash-safe: the day's files, then the day's marker (from then on readers use the
day and ignore its hours), then the hours' files and markers are deleted. A retry after a crash
rewrites the same paths.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
import pyarrow as pa

from costreport.model.cluster import USAGE_FLOAT_COLUMNS, ClusterData, UsageSegments
from costreport.model.window import Window
from costreport.sources.ledger.codec import _key, _last_rows, decode, encode
from costreport.sources.ledger.lifecycle import PREFIX as LIFECYCLE_PREFIX
from costreport.sources.ledger.months import bundle_months, retire
from costreport.sources.ledger.schema import TABLES
from costreport.sources.ledger.store import DAY, Commit, LedgerStore

PEAKS = ("cpu_usage_max", "ram_usage_max")
"""Columns merged by maximum; every other rate is merged by time-weighted mean."""
ALLOCATION_KEYS = [
    "cluster",
    "namespace",
    "pod",
    "container",
    "node",
    "controller_kind",
    "controller",
]
ALLOCATION_SUMS = [
    "cpu_core_hours", "ram_byte_hours", "gpu_hours", "cpu_cost", "ram_cost", "gpu_cost",
    "pv_cost", "network_cost", "load_balancer_cost", "total_cost",
]  # fmt: skip


@dataclass(slots=True)
class HousekeepingReport:
    """What one housekeeping run did."""

    compacted_days: list[float] = field(default_factory=list)
    bundled_days: list[float] = field(default_factory=list)
    bundled_months: list[float] = field(default_factory=list)
    bundled_hours_months: list[float] = field(default_factory=list)
    dropped: int = 0
    dropped_record_days: int = 0


def merge_segments(usage: UsageSegments, groups: np.ndarray | None = None) -> UsageSegments:
    """One segment per container (and group): bounds min/max, rates time-weighted over the span.

    `groups` (one integer per segment) keeps segments of different groups apart, e.g. the step
    sets of a query: merging the segments of one container within one set is exact for it.
    """
    if len(usage) == 0:
        return usage
    key = usage.container if groups is None else usage.container * (int(groups.max()) + 1) + groups
    order = np.argsort(key, kind="stable")
    container = usage.container[order]
    sorted_key = key[order]
    starts = np.flatnonzero(np.r_[True, sorted_key[1:] != sorted_key[:-1]])
    start = np.minimum.reduceat(usage.start[order], starts)
    end = np.maximum.reduceat(usage.end[order], starts)
    span = np.maximum(end - start, 1e-9)
    seconds = (usage.end - usage.start)[order]
    columns: dict[str, np.ndarray] = {"start": start, "end": end}
    for name in USAGE_FLOAT_COLUMNS:
        if name in ("start", "end"):
            continue
        values = getattr(usage, name)[order]
        if name in PEAKS:
            columns[name] = np.maximum.reduceat(values, starts)
        else:
            columns[name] = np.add.reduceat(values * seconds, starts) / span
    return UsageSegments(container=container[starts].astype(np.int64), **columns)


def _daily_allocations(table: pa.Table, day: float) -> pa.Table:
    grouped = table.group_by(ALLOCATION_KEYS).aggregate([(c, "sum") for c in ALLOCATION_SUMS])
    columns = {k: grouped[k] for k in ALLOCATION_KEYS}
    columns["start"] = pa.array([day] * grouped.num_rows, pa.float64())
    columns["end"] = pa.array([day + DAY] * grouped.num_rows, pa.float64())
    for c in ALLOCATION_SUMS:
        columns[c] = grouped[f"{c}_sum"]
    return pa.Table.from_pydict(columns).select(TABLES["allocations"].names)


def bundle_day(store: LedgerStore, cluster: str, day: float, hours: list[Commit]) -> Commit:
    """Put a closed day's hour partitions into one file per table (rows unchanged: the finest
    step stays one hour), plus `day_segments` (each container's day merged: what a query in
    whole days reads), then delete the hours: a month is then read from ~30 files per table
    instead of ~720."""
    first, last = min(h.start for h in hours), max(h.end for h in hours)
    tables = store.read(hours)
    # A pod's metadata and mounts repeat every hour: keep each once (its last version).
    for name, keys in (
        ("pods", ("cluster", "namespace", "pod", "uid")),
        ("mounts", ("cluster", "namespace", "pod", "uid", "claim_namespace", "claim_name")),
        ("namespaces", ("cluster", "namespace")),
    ):
        _, rows = _last_rows(_key(tables[name], *keys))
        tables[name] = tables[name].take(pa.array(np.sort(rows)))
    # And the day's segments merged per container, for queries in whole days.
    data = decode(tables, Window.from_timestamps(day, day + DAY))
    data.usage = merge_segments(data.usage)
    tables["day_segments"] = encode(data, day, day + DAY)[cluster]["segments"]
    commit = store.write_partition(cluster, first, last, "hours", tables)
    store.delete([f for h in hours for f in h.files.values()])
    store.delete([h.marker for h in hours])
    return commit


def compact_day(store: LedgerStore, cluster: str, day: float, hours: list[Commit]) -> Commit:
    """Merge a day's hour partitions (or its bundle) into one day partition, then remove them."""
    tables = store.read(hours)
    data: ClusterData = decode(tables, Window.from_timestamps(day, day + DAY))
    data.usage = merge_segments(data.usage)
    encoded = encode(data, day, day + DAY)[cluster]
    encoded["allocations"] = _daily_allocations(tables["allocations"], day)
    commit = store.write_partition(cluster, day, day + DAY, "day", encoded)
    retire(store, hours)  # (a day in a month bundle of hours leaves it)
    return commit


def housekeep(
    store: LedgerStore, now: float, *, hourly_days: float = 14.0, retention_days: float = 400.0
) -> HousekeepingReport:
    """Bundle each closed day's hours; merge days older than `hourly_days` and gather merged
    days into month bundles; drop partitions older than `retention_days` (days leave a month
    bundle one by one), and lifecycle records older than `hourly_days` (the closed hours hold
    what they gave; a repair of older days uses the live source alone)."""
    report = HousekeepingReport()
    cutoff = math.floor((now - hourly_days * DAY) / DAY) * DAY
    oldest_records = datetime.fromtimestamp(cutoff, tz=UTC).strftime("date=%Y-%m-%d")
    for cluster_dir in store.subdirectories(LIFECYCLE_PREFIX):
        for day_dir in store.subdirectories(f"{LIFECYCLE_PREFIX}/{cluster_dir}"):
            if day_dir.startswith("date=") and day_dir < oldest_records:
                store.delete_tree(f"{LIFECYCLE_PREFIX}/{cluster_dir}/{day_dir}")
                report.dropped_record_days += 1
    today = math.floor(now / DAY) * DAY
    horizon = now - retention_days * DAY
    commits = store.commits()
    for cluster in sorted({c.cluster for c in commits}):
        mine = [c for c in commits if c.cluster == cluster]
        old = [c for c in mine if c.end <= horizon]
        retire(store, old)
        report.dropped += len(old)
        by_day: dict[float, list[Commit]] = {}
        for c in mine:
            if c.grain in ("hour", "hours", "hours-month") and c.end > horizon:
                by_day.setdefault(c.day, []).append(c)
        for day, parts in sorted(by_day.items()):
            parts.sort(key=lambda c: c.start)
            if day + DAY <= cutoff:
                compact_day(store, cluster, day, parts)
                report.compacted_days.append(day)
            elif (
                all(c.grain == "hour" for c in parts)
                and day + DAY <= today
                and (len(parts) == 24 or day + 3 * DAY <= today)  # late hours get 2 days
            ):
                bundle_day(store, cluster, day, parts)
                report.bundled_days.append(day)
        written = bundle_months(store, cluster)
        report.bundled_months.extend(written["month"])
        report.bundled_hours_months.extend(written["hours-month"])
    return report
