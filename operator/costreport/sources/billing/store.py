"""Bills in the ledger: FOCUS files ingested incrementally, one normalised file per bill file.

Layout under the ledger:

    _billing/data/<file id>-<version>.parquet   the file's normalised rows (`focus.NORMALISED`)
    _billing/daily/<file id>-<version>.parquet  the same summed per UTC day (`daily`)
    _billing/files/<file id>.json               its manifest entry (the moment it is visible)

`<file id>` is a hash of the bill file's path under `--billing`; `<version>` of its size and
modification time. A new or changed file is read whole, written under a new data name, then
its manifest entry is replaced, then the old data files deleted: a crash at any point leaves
either the old rows or the new ones visible, never half of a file and never both. A file that
fails to read keeps its previous rows (if any) and records the error in its entry.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from costreport.model.errors import SourceUnavailable
from costreport.sources.billing import daily
from costreport.sources.billing.focus import NORMALISED, BillError, normalised_batches
from costreport.sources.ledger.store import LedgerStore, filesystem_for

log = logging.getLogger("costreport.billing")

PREFIX = "_billing"
SUFFIXES = (".csv", ".csv.gz", ".parquet")
CACHE_FILES = 16
"""Bill data files kept decoded in memory (oldest out first)."""
DAILY_BATCH_ROWS = 1 << 18
"""Lines turned into day rows at a time while ingesting (memory: one batch and the day rows)."""
MAX_FILE_BYTES = 50 << 30
"""Bill files larger than this are refused (a month of a large account is a few GB)."""


@dataclass(slots=True)
class BillingReport:
    """What one ingest pass did."""

    ingested: list[str] = field(default_factory=list)
    unchanged: int = 0
    failed: dict[str, str] = field(default_factory=dict)
    rows: int = 0
    seconds: float = 0.0


def _file_id(path: str) -> str:
    return hashlib.sha256(path.encode()).hexdigest()[:20]


class BillingStore:
    """The ledger's bills: ingest from a directory or bucket, read rows by time."""

    def __init__(self, ledger: LedgerStore) -> None:
        self.ledger = ledger
        self._cache: dict[tuple[str, tuple[str, ...], tuple[str, ...]], pa.Table] = {}

    # -- ingest ---------------------------------------------------------------------------
    def ingest(self, url: str) -> BillingReport:
        """Read every new or changed FOCUS file under `url` into the ledger."""
        began = time.perf_counter()
        report = BillingReport()
        fs, root = filesystem_for(url, "billing")
        try:
            infos = fs.get_file_info(pafs.FileSelector(root, allow_not_found=True, recursive=True))
        except (OSError, pa.ArrowException) as error:
            raise SourceUnavailable(f"billing {url}: cannot list files: {error}") from None
        for info in sorted(infos, key=lambda i: i.path):
            relative = info.path[len(root.rstrip("/")) + 1 :]
            if info.type != pafs.FileType.File or not relative.lower().endswith(SUFFIXES):
                continue
            if any(part.startswith((".", "_")) for part in relative.split("/")):
                continue  # hidden and bookkeeping files (e.g. a ledger inside the directory)
            stamp = f"{info.size}-{info.mtime_ns or 0}"
            entry_path = f"{PREFIX}/files/{_file_id(relative)}.json"
            entry = self.ledger.read_json(entry_path)
            if entry is not None and entry.get("stamp") == stamp:
                report.unchanged += 1
                if entry.get("data") and not entry.get("daily"):  # ingested before day rows
                    self._add_daily(entry_path, entry)
                continue
            version = hashlib.sha256(stamp.encode()).hexdigest()[:12]
            data_path = f"{PREFIX}/data/{_file_id(relative)}-{version}.parquet"
            daily_path = _daily_of(data_path)
            try:
                if (info.size or 0) > MAX_FILE_BYTES:
                    raise BillError(relative, f"{info.size} bytes; at most {MAX_FILE_BYTES}")
                written = self._write_streamed(fs, info.path, relative, data_path)
                self._write_daily(data_path, daily_path)
            except BillError as error:
                report.failed[relative] = str(error)
                log.warning("bill file refused", extra={"context": {"error": str(error)}})
                kept = dict(entry or {"path": relative, "data": None, "rows": 0})
                kept.update(stamp=stamp, error=str(error), checked=_now())
                self.ledger.write_json(entry_path, kept)
                continue
            self.ledger.write_json(
                entry_path,
                {
                    "path": relative,
                    "stamp": stamp,
                    "data": data_path,
                    "daily": daily_path,
                    **written,
                    "ingested": _now(),
                    "error": None,
                },
            )
            if entry is not None and entry.get("data") and entry["data"] != data_path:
                self.ledger.delete([p for p in (entry["data"], entry.get("daily")) if p])
            report.ingested.append(relative)
            report.rows += int(written["rows"])
        report.seconds = time.perf_counter() - began
        return report

    def _write_streamed(
        self, fs: pafs.FileSystem, path: str, display: str, data_path: str
    ) -> dict[str, Any]:
        """Normalise a bill file batch by batch into its data file (memory: one batch)."""
        rows, version = 0, "1.0"
        first: float | None = None
        last: float | None = None
        currencies: set[str] = set()
        with self.ledger.open_output(data_path) as stream:
            writer = pq.ParquetWriter(stream, NORMALISED, compression="zstd")
            try:
                for table, seen in normalised_batches(fs, path, display):
                    version = seen
                    if not table.num_rows:
                        continue
                    writer.write_table(table)
                    rows += table.num_rows
                    low, high = pc.min(table["start"]).as_py(), pc.max(table["end"]).as_py()
                    first = low if first is None else min(first, low)
                    last = high if last is None else max(last, high)
                    currencies.update(c for c in pc.unique(table["currency"]).to_pylist() if c)
            finally:
                writer.close()
        return {
            "rows": rows,
            "version": version,
            "start": first,
            "end": last,
            "currency": sorted(currencies),
        }

    def _add_daily(self, entry_path: str, entry: dict[str, Any]) -> None:
        """Day rows for a file ingested before they existed: written, then its entry."""
        data_path = str(entry["data"])
        daily_path = _daily_of(data_path)
        self._write_daily(data_path, daily_path)
        self.ledger.write_json(entry_path, {**entry, "daily": daily_path})

    def _write_daily(self, data_path: str, daily_path: str) -> None:
        """The data file's lines summed per UTC day (`daily`), read back batch by batch."""
        parts, offset = [], 0
        for batch in self.ledger.read_batches(data_path, daily.COLUMNS, DAILY_BATCH_ROWS):
            parts.append(daily.day_rows(pa.Table.from_batches([batch]), offset))
            offset += batch.num_rows
        table = (
            daily.merge(parts)
            if parts
            else pa.schema([NORMALISED.field(c) for c in daily.COLUMNS]).empty_table()
        )
        with self.ledger.open_output(daily_path) as stream:
            pq.write_table(table, stream, compression="zstd")

    # -- reading --------------------------------------------------------------------------
    def entries(self) -> list[dict[str, Any]]:
        """Every bill file's manifest entry."""
        out = []
        for relative in self.ledger.list_files(f"{PREFIX}/files"):
            entry = self.ledger.read_json(relative)
            if entry is not None:
                out.append(entry)
        return sorted(out, key=lambda e: str(e.get("path")))

    def read(
        self,
        start: float,
        end: float,
        entries: Iterable[dict[str, Any]] | None = None,
        columns: Sequence[str] | None = None,
        dictionary: Sequence[str] = (),
        kind: str = "data",
    ) -> pa.Table:
        """Every ingested bill row whose charge period overlaps [start, end) (only `columns`
        when given: a query that needs no label map does not decode one; `dictionary` columns
        as dictionary arrays, so a text repeated on a million lines is decoded once); `kind`
        "daily" reads the day rows instead (see `read_days`)."""
        wanted = tuple(columns) if columns else tuple(NORMALISED.names)
        encoded = tuple(c for c in dictionary if c in wanted)
        schema = pa.schema(
            [
                pa.field(c, pa.dictionary(pa.int32(), pa.string()))
                if c in encoded
                else NORMALISED.field(c)
                for c in wanted
            ]
        )
        parts = []
        for entry in _overlapping(self.entries() if entries is None else entries, start, end):
            data = entry.get(kind)
            if not data:
                continue
            table = self._cache.get((data, wanted, encoded))
            if table is None:
                table = self.ledger.read_file_table(data, wanted, encoded)
                if table is None:
                    continue  # replaced since the listing
                while len(self._cache) >= CACHE_FILES:
                    self._cache.pop(next(iter(self._cache)))
                self._cache[(data, wanted, encoded)] = table
            mask = pc.and_(pc.less(table["start"], end), pc.greater(table["end"], start))
            parts.append(table.filter(mask))
        return pa.concat_tables(parts) if parts else schema.empty_table()

    def read_days(
        self, start: float, end: float, dictionary: Sequence[str] = ()
    ) -> pa.Table | None:
        """The day rows (`daily.COLUMNS`) of every bill overlapping [start, end), or None when
        one was ingested before day rows existed (then only its lines can answer)."""
        entries = _overlapping(self.entries(), start, end)
        if any(not e.get("daily") for e in entries):
            return None
        return self.read(start, end, entries, daily.COLUMNS, dictionary, kind="daily")

    def has_bills(self) -> bool:
        """Whether any bill file was ingested."""
        return any(e.get("data") for e in self.entries())


def _daily_of(data_path: str) -> str:
    """Where a data file's day rows are kept (same file id and version)."""
    return data_path.replace(f"{PREFIX}/data/", f"{PREFIX}/daily/", 1)


def _overlapping(
    entries: Iterable[dict[str, Any]], start: float, end: float
) -> list[dict[str, Any]]:
    """The entries with rows whose charge periods reach into [start, end)."""
    return [
        e
        for e in entries
        if e.get("data") and e.get("start") is not None and e["start"] < end and e["end"] > start
    ]


def _now() -> str:
    return datetime.now(tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
