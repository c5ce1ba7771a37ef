"""Month bundles: a month's compacted days in one file per table, and retiring days from them.

A 90-day query over compacted days read ~700 small Parquet files (8 tables × a day each), and
opening a file and reading its footer cost more than its rows. A month bundle holds the engine
tables of every compacted day of one UTC month, concatenated in day order, and its marker
lists each day with its row count per table: a day is a row range of each file, so a query
reads exactly the rows the days would have given (`LedgerStore.read_each` slices them) and the
answers do not change. Each day's `allocations` file (for SQL engines) stays where it was.

Writes are atomic the same way as a partition's: the new files under a fresh generation's
directory, then the marker (from then on readers use the bundle and ignore the days it
lists), then the days' own files and older generations are deleted. A crash before the
marker leaves files nobody reads (the next rewrite sweeps them); after it, leftover day
markers are hidden (the bundle ranks above a day) and `housekeep` deletes them.

Days leave a bundle by rewriting it without them (`retire`): retention, and `ledger repair`
of a bundled day (its new hours become visible the moment the bundle stops listing it).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

import pyarrow as pa

from costreport.sources.ledger.schema import SCHEMA_VERSION, TABLES
from costreport.sources.ledger.store import Commit, LedgerStore

MONTH_TABLES = tuple(t for t in TABLES if t not in ("allocations", "day_segments"))
"""What a bundle holds: what the engine reads (a merged day needs no `day_segments`)."""


def month_of(ts: float) -> float:
    """The UTC midnight starting the month of `ts`."""
    moment = datetime.fromtimestamp(ts, tz=UTC)
    return moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0).timestamp()


def month_marker(cluster: str, month: float) -> str:
    """Relative path of a month bundle's marker."""
    return f"_commits/cluster={cluster}/{datetime.fromtimestamp(month, tz=UTC):%Y-%m}.month.json"


def _month_dir(cluster: str, month: float) -> str:
    return f"cluster={cluster}/date={datetime.fromtimestamp(month, tz=UTC):%Y-%m-%d}"


def _sweep(store: LedgerStore, cluster: str, month: float, keep: str | None) -> None:
    """Delete the month's bundle generations other than `keep` (older ones, crash leftovers)."""
    parent = _month_dir(cluster, month)
    for name in store.subdirectories(parent):
        if name.startswith("part=month-") and name != keep:
            store.delete_tree(f"{parent}/{name}")


def bundle_month(store: LedgerStore, cluster: str, month: float, days: Sequence[Commit]) -> bool:
    """Write one bundle of `days` (merged days and days of the month's current bundle), then
    delete what it replaces: the merged days' own files (not their `allocations`) and
    markers, and the month's other bundle generations. False (and nothing deleted) when the
    marker read back is another writer's (a repair and housekeeping rewriting one month at
    once): the days this bundle would have replaced stay visible or hidden as that one says."""
    ordered = sorted(days, key=lambda c: c.start)
    parts = store.read_each(ordered, MONTH_TABLES)
    generation = f"part=month-{uuid.uuid4().hex[:12]}"
    directory = f"{_month_dir(cluster, month)}/{generation}"
    files: dict[str, str] = {}
    for name in MONTH_TABLES:
        schema = TABLES[name]
        pieces = [p[name].cast(schema) for p in parts if name in p]
        files[name] = f"{directory}/{name}.parquet"
        store.write_table(files[name], pa.concat_tables(pieces) if pieces else schema.empty_table())
    body = {
        "schemaVersion": SCHEMA_VERSION,
        "cluster": cluster,
        "start": ordered[0].start,
        "end": max(c.end for c in ordered),
        "grain": "month",
        "files": files,
        "days": [
            {
                "start": c.start,
                "end": c.end,
                "rows": {name: p[name].num_rows if name in p else 0 for name in MONTH_TABLES},
                "allocations": c.files.get("allocations"),
            }
            for c, p in zip(ordered, parts, strict=True)
        ],
        "written": datetime.now(tz=UTC).isoformat(),
    }
    marker = month_marker(cluster, month)
    store.write_json(marker, body)  # the moment the bundle is visible
    current = store.read_json(marker)
    if current is None or current.get("files") != files:
        return False  # another writer's bundle won: what it lists or not stays as it is
    merged = [c for c in ordered if c.grain == "day"]
    store.delete(f for c in merged for name, f in c.files.items() if name != "allocations")
    store.delete(c.marker for c in merged)
    _sweep(store, cluster, month, generation)
    return True


def retire(store: LedgerStore, commits: Iterable[Commit]) -> None:
    """Remove partitions: a plain one's files and marker; days of a month bundle by rewriting
    the bundle without them (or deleting it when none is left), and their `allocations`."""
    leaving: dict[str, list[Commit]] = {}
    for c in commits:
        if c.grain == "month":
            leaving.setdefault(c.marker, []).append(c)
        else:
            store.delete([*c.files.values(), c.marker])
    for marker, gone in leaving.items():
        cluster, month = gone[0].cluster, month_of(gone[0].start)
        starts = {c.start for c in gone}
        current = [c for c in store.commits(cluster) if c.marker == marker]
        keep = [c for c in current if c.start not in starts]
        if keep:
            if not bundle_month(store, cluster, month, keep):
                continue  # another writer's bundle still lists them: they are not gone
        else:
            store.delete([marker])
            _sweep(store, cluster, month, None)
        store.delete(c.files["allocations"] for c in gone if "allocations" in c.files)


def bundle_months(store: LedgerStore, cluster: str) -> list[float]:
    """Put every merged day of the cluster into its month's bundle (the months written), and
    delete merged days a crash left hidden under a bundle."""
    visible, hidden = store.listing(cluster)
    by_month: dict[float, list[Commit]] = {}
    for c in visible:
        if c.grain in ("day", "month"):
            by_month.setdefault(month_of(c.start), []).append(c)
    written = []
    for month, days in sorted(by_month.items()):
        if any(c.grain == "day" for c in days) and bundle_month(store, cluster, month, days):
            written.append(month)
    kept = {c.day: set(c.files.values()) for c in visible if c.grain == "month"}
    for c in hidden:
        if c.grain == "day" and c.day in kept:  # its allocations file is the bundle's now
            store.delete(f for f in c.files.values() if f not in kept[c.day])
            store.delete([c.marker])
    return written
