"""Month bundles: a month's days in one file per table, and retiring days from them.

A 90-day query over compacted days read ~700 small Parquet files (8 tables × a day each), and
opening a file and reading its footer cost more than its rows. A month bundle holds the engine
tables of every compacted day of one UTC month (grain "month"), or of every day of bundled
hours (grain "hours-month", with `day_segments`; finest step still 1 h), concatenated in day
order, and its marker lists each day with its row count per table: a day is a row range of
each file, so a query reads exactly the rows the days would have given
(`LedgerStore.read_each` slices them) and the answers do not change. Each day's `allocations`
file (for SQL engines) stays where it was.

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

from costreport.sources.ledger.schema import ENGINE_TABLES, SCHEMA_VERSION, TABLES
from costreport.sources.ledger.store import BUNDLED, Commit, LedgerStore

BUNDLE_TABLES = {"month": ENGINE_TABLES, "hours-month": (*ENGINE_TABLES, "day_segments")}
"""The tables of each kind of bundle (bundled hours also keep each container's day merged)."""


def month_of(ts: float) -> float:
    """The UTC midnight starting the month of `ts`."""
    moment = datetime.fromtimestamp(ts, tz=UTC)
    return moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0).timestamp()


def month_marker(cluster: str, month: float, grain: str = "month") -> str:
    """Relative path of a month bundle's marker."""
    return f"_commits/cluster={cluster}/{datetime.fromtimestamp(month, tz=UTC):%Y-%m}.{grain}.json"


def _month_dir(cluster: str, month: float) -> str:
    return f"cluster={cluster}/date={datetime.fromtimestamp(month, tz=UTC):%Y-%m-%d}"


def _sweep(store: LedgerStore, cluster: str, month: float, grain: str, keep: str | None) -> None:
    """Delete the month's bundle generations other than `keep` (older ones, crash leftovers)."""
    parent = _month_dir(cluster, month)
    for name in store.subdirectories(parent):
        if name.startswith(f"part={grain}-") and name != keep:
            store.delete_tree(f"{parent}/{name}")


def bundle_month(
    store: LedgerStore, cluster: str, month: float, days: Sequence[Commit], grain: str = "month"
) -> bool:
    """Write one `grain` bundle of `days` (days of its kind, `BUNDLED[grain]`, and days of the
    month's current bundle), then delete what it replaces: those days' own files (not their
    `allocations`) and markers, and the month's other bundle generations. False (and nothing
    deleted) when the marker read back is another writer's (a repair and housekeeping
    rewriting one month at once): the days it would have replaced stay as that one says."""
    ordered = sorted(days, key=lambda c: c.start)
    generation = f"part={grain}-{uuid.uuid4().hex[:12]}"
    directory = f"{_month_dir(cluster, month)}/{generation}"
    files: dict[str, str] = {}
    day_rows: list[dict[str, int]] = [{} for _ in ordered]
    for name in BUNDLE_TABLES[grain]:  # one table at a time: memory is the largest table's
        schema = TABLES[name]
        parts = [p.get(name) for p in store.read_each(ordered, [name])]
        pieces = [t.cast(schema) for t in parts if t is not None]
        files[name] = f"{directory}/{name}.parquet"
        store.write_table(files[name], pa.concat_tables(pieces) if pieces else schema.empty_table())
        for rows, t in zip(day_rows, parts, strict=True):
            if t is not None or name != "day_segments":  # `day_segments` only where it was
                rows[name] = t.num_rows if t is not None else 0
        del parts, pieces
    body = {
        "schemaVersion": SCHEMA_VERSION,
        "cluster": cluster,
        "start": ordered[0].start,
        "end": max(c.end for c in ordered),
        "grain": grain,
        "files": files,
        "days": [
            {
                "start": c.start,
                "end": c.end,
                "rows": rows,
                "allocations": c.files.get("allocations"),
            }
            for c, rows in zip(ordered, day_rows, strict=True)
        ],
        "written": datetime.now(tz=UTC).isoformat(),
    }
    marker = month_marker(cluster, month, grain)
    store.write_json(marker, body)  # the moment the bundle is visible
    current = store.read_json(marker)
    if current is None or current.get("files") != files:
        return False  # another writer's bundle won: what it lists or not stays as it is
    gathered = [c for c in ordered if c.grain == BUNDLED[grain]]
    store.delete(f for c in gathered for name, f in c.files.items() if name != "allocations")
    store.delete(c.marker for c in gathered)
    _sweep(store, cluster, month, grain, generation)
    return True


def retire(store: LedgerStore, commits: Iterable[Commit]) -> None:
    """Remove partitions: a plain one's files and marker; days of a month bundle by rewriting
    the bundle without them (or deleting it when none is left), and their `allocations`."""
    leaving: dict[str, list[Commit]] = {}
    for c in commits:
        if c.grain in BUNDLED:
            leaving.setdefault(c.marker, []).append(c)
        else:
            store.delete([*c.files.values(), c.marker])
    for marker, gone in leaving.items():
        cluster, month, grain = gone[0].cluster, month_of(gone[0].start), gone[0].grain
        starts = {c.start for c in gone}
        current = [c for c in store.commits(cluster) if c.marker == marker]
        keep = [c for c in current if c.start not in starts]
        if keep:
            if not bundle_month(store, cluster, month, keep, grain):
                continue  # another writer's bundle still lists them: they are not gone
        else:
            store.delete([marker])
            _sweep(store, cluster, month, grain, None)
        store.delete(c.files["allocations"] for c in gone if "allocations" in c.files)


def bundle_months(store: LedgerStore, cluster: str) -> dict[str, list[float]]:
    """Put every merged day of the cluster into its month's bundle, and every day of bundled
    hours into its month's hours bundle (per grain, the months written); delete days a crash
    left hidden under a bundle of their kind."""
    visible, hidden = store.listing(cluster)
    written: dict[str, list[float]] = {}
    for grain, kind in BUNDLED.items():
        by_month: dict[float, list[Commit]] = {}
        for c in visible:
            if c.grain in (grain, kind):
                by_month.setdefault(month_of(c.start), []).append(c)
        written[grain] = []
        for month, days in sorted(by_month.items()):
            if any(c.grain == kind for c in days) and bundle_month(
                store, cluster, month, days, grain
            ):
                written[grain].append(month)
    gathering = {kind: grain for grain, kind in BUNDLED.items()}
    kept = {(c.grain, c.day): set(c.files.values()) for c in store.commits(cluster)}
    for c in hidden:
        over = kept.get((gathering.get(c.grain, ""), c.day))
        if over is not None:  # its allocations file is the bundle's now
            store.delete(f for f in c.files.values() if f not in over)
            store.delete([c.marker])
    return written
