"""Where the ledger lives: a directory or a bucket, laid out as Hive partitions, with commits.

Layout under the ledger's URL (a local path, `file://`, `s3://`, `gs://` or `az://` through
`pyarrow.fs`):

    cluster=<id>/date=YYYY-MM-DD/part=hHH/<table>.parquet     one closed hour
    cluster=<id>/date=YYYY-MM-DD/part=hours/<table>.parquet   a closed day's hours, bundled
    cluster=<id>/date=YYYY-MM-DD/part=day/<table>.parquet     a compacted (merged) day
    cluster=<id>/date=YYYY-MM-01/part=month-<g>/<table>.parquet a month's compacted days, one
                                                               file per table (generation g)
    cluster=<id>/date=YYYY-MM-01/part=hours-month-<g>/…        a month's days of bundled hours
    _commits/cluster=<id>/YYYY-MM-DDTHH.json                   an hour's commit marker
    _commits/cluster=<id>/YYYY-MM-DD.hours.json                a bundle's marker
    _commits/cluster=<id>/YYYY-MM-DD.json                      a compacted day's marker
    _commits/cluster=<id>/YYYY-MM.month.json                   a month bundle's marker
    _commits/cluster=<id>/YYYY-MM.hours-month.json             a month bundle of hours' marker
    _lifecycle/cluster=<id>/date=YYYY-MM-DD/hHH.parquet         container lives recorded from
                                                               the Kubernetes API in that hour

A partition is visible only once its marker exists, and the marker is written after every
file of the partition: a crash in between leaves files no reader looks at, and the retry
writes the same paths again (every path is a function of cluster, hour and table), so an hour
is never lost and never doubled. Each file is written atomically (a temporary name then a
rename on a local disk; a single upload on object storage). A month bundle (`months.py`) lists
its days and each day's row range in its files; it is listed here as one commit per day.
"""

from __future__ import annotations

import io
import json
import os
import threading
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from costreport.model.errors import InvalidParameter, SourceUnavailable
from costreport.sources.ledger.schema import READABLE_VERSIONS, SCHEMA_VERSION, TABLES

HOUR = 3600.0
DAY = 86400.0
READ_THREADS = 4
"""Files read in parallel (pyarrow releases the GIL while reading)."""


GRAINS = {"hour": 0, "hours": 1, "hours-month": 2, "day": 3, "month": 4}
"""Partition kinds, least to most compacted: an hour, a day's hours bundled, such a day inside
a month bundle (finest step 1 h), a merged day, a merged day inside a month bundle (finest
step 1 d). Where two cover one day (a crash between writing one and deleting the other), the
most compacted wins."""
MERGED = frozenset({"day", "month"})
"""Grains whose segments are merged per day (answerable at steps of whole days only)."""
BUNDLED = {"month": "day", "hours-month": "hours"}
"""Month-bundle grains, and the grain of the days each gathers (`months.py`)."""


@dataclass(frozen=True, slots=True)
class Commit:
    """One visible partition: a closed hour or a compacted day of one cluster.

    A day inside a month bundle (grain "month" or "hours-month") reads its rows of the
    bundle's files: `slices` gives each table's (first row, row count), and `marker` is the
    bundle's marker."""

    cluster: str
    start: float
    end: float
    grain: str  # one of GRAINS
    files: Mapping[str, str]
    rows: Mapping[str, int]
    marker: str
    slices: Mapping[str, tuple[int, int]] | None = None

    @property
    def day(self) -> float:
        """The UTC midnight starting the day this partition belongs to."""
        return self.start - self.start % DAY


def filesystem_for(
    url: str, parameter: str, *, create: bool = False
) -> tuple[pafs.FileSystem, str]:
    """A `pyarrow.fs` filesystem and root path for a directory, `file://`, `s3://`, `gs://` or
    `az://` URL (the same schemes everywhere: ledger, bills)."""
    try:
        if "://" not in url or url.startswith("file://"):
            local = urlsplit(url).path if url.startswith("file://") else url
            root = os.path.abspath(local)
            if create:
                os.makedirs(root, exist_ok=True)
            return pafs.LocalFileSystem(), root
        fs, root = pafs.FileSystem.from_uri(url)
        return fs, root
    except (OSError, ValueError, pa.ArrowException) as error:
        raise InvalidParameter(
            parameter, url, f"a directory or s3://, gs://, az:// URL pyarrow can open ({error})"
        ) from None


class StaleListing(SourceUnavailable):
    """A listed partition's file is gone: another process (housekeeping) rewrote or removed
    it between the listing and the read. Listing again and reading once more answers."""


def _missing(error: Exception) -> bool:
    """Whether a filesystem error says the file is absent (pyarrow's object stores raise a
    plain `OSError` for some calls; local disks and S3 raise `FileNotFoundError`)."""
    text = str(error).lower()
    return "not found" in text or "no such file" in text


def _upgrade(table: pa.Table, relative: str) -> pa.Table:
    """A table written by an older schema version, with the columns added since (nulls)."""
    name = relative.rsplit("/", 1)[-1].removesuffix(".parquet")
    schema = TABLES.get(name)
    if schema is None:
        return table
    for field in schema:
        if field.name not in table.column_names:
            table = table.append_column(field, pa.nulls(table.num_rows, field.type))
    return table


def _day(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%d")


def _hour(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%dT%H")


def month_days(body: Mapping[str, Any], marker: str) -> list[Commit]:
    """A month bundle's marker as one commit per day: each day's rows are a range of every
    file (days in order), and its `allocations` (for SQL engines) stays in the day's own file."""
    offsets = dict.fromkeys(body["files"], 0)
    out = []
    for day in body["days"]:
        rows = {name: int(n) for name, n in day["rows"].items()}
        slices = {}
        for name in body["files"]:
            slices[name] = (offsets[name], rows.get(name, 0))
            offsets[name] += rows.get(name, 0)
        # A table a day does not list it never had (e.g. `day_segments` of an old bundle).
        files = {name: path for name, path in body["files"].items() if name in rows}
        if day.get("allocations"):
            files["allocations"] = day["allocations"]
        out.append(
            Commit(
                body["cluster"],
                float(day["start"]),
                float(day["end"]),
                body["grain"],
                files,
                rows,
                marker,
                slices,
            )
        )
    return out


def _file_of(
    commit: Commit, name: str, substitute: Mapping[str, str] | None
) -> tuple[str, tuple[int, int] | None] | None:
    """The file a partition reads table `name` from (its substitute where it has one) and its
    row range there (None: the whole file); None if the partition has no such table."""
    other = substitute.get(name) if substitute else None
    source = other if other is not None and other in commit.files else name
    if source not in commit.files:
        return None
    return commit.files[source], commit.slices.get(source) if commit.slices else None


Queued = tuple[int, str, Future[pa.Table], tuple[int, int] | None]
"""A queued read: (partition index, table name, its file's read, row range or None: all)."""


def _rows(read: Future[pa.Table], span: tuple[int, int] | None) -> pa.Table:
    """A queued file's table, or its rows `span` (a zero-copy slice); a read error is raised."""
    table = read.result()
    return table if span is None else table.slice(*span)


class Tables(Mapping[str, pa.Table]):
    """The tables of a `LedgerStore.read_tables` call, each concatenated (in partition order)
    on first access from the files read for it; a file's read error is raised there."""

    def __init__(self, queued: list[Queued]):
        self._parts: dict[str, list[tuple[Future[pa.Table], tuple[int, int] | None]]] = {}
        for _, name, read, span in queued:
            self._parts.setdefault(name, []).append((read, span))
        self._done: dict[str, pa.Table] = {}

    def __getitem__(self, name: str) -> pa.Table:
        found = self._done.get(name)
        if found is None:
            if name not in TABLES:
                raise KeyError(name)
            pieces = [_rows(read, span) for read, span in self._parts.get(name, [])]
            found = pa.concat_tables(pieces) if pieces else TABLES[name].empty_table()
            self._done[name] = found
        return found

    def __iter__(self) -> Iterator[str]:
        return iter(TABLES)

    def __len__(self) -> int:
        return len(TABLES)


class LedgerStore:
    """Reads and writes ledger partitions on a `pyarrow.fs` filesystem."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.fs, self.root = filesystem_for(url, "ledger", create=True)
        self.local = isinstance(self.fs, pafs.LocalFileSystem)
        # Parsed markers by path, with the (mtime, size) they were read at: a marker is read
        # again only when it changed, so a query lists the commits but does not re-read them.
        self._markers: dict[str, tuple[tuple[Any, int | None], list[Commit]]] = {}
        self._markers_lock = threading.Lock()

    # -- paths ------------------------------------------------------------------------
    def _path(self, *parts: str) -> str:
        return "/".join([self.root.rstrip("/"), *parts])

    def partition_dir(self, cluster: str, start: float, grain: str) -> str:
        """Relative directory of an hour's or a day's files."""
        if grain in ("day", "hours"):
            part = grain
        else:
            part = f"h{datetime.fromtimestamp(start, tz=UTC):%H}"
        return f"cluster={cluster}/date={_day(start)}/part={part}"

    def marker_name(self, cluster: str, start: float, grain: str) -> str:
        """Relative path of a partition's commit marker."""
        stamp = {"day": _day(start), "hours": f"{_day(start)}.hours"}.get(grain, _hour(start))
        return f"_commits/cluster={cluster}/{stamp}.json"

    # -- writing ----------------------------------------------------------------------
    def _write_bytes(self, relative: str, data: bytes) -> None:
        path = self._path(relative)
        directory = path.rsplit("/", 1)[0]
        try:
            self.fs.create_dir(directory, recursive=True)
            if self.local:
                temporary = f"{path}.{uuid.uuid4().hex}.tmp"
                with self.fs.open_output_stream(temporary) as out:
                    out.write(data)
                self.fs.move(temporary, path)
            else:
                with self.fs.open_output_stream(path) as out:
                    out.write(data)
        except (OSError, pa.ArrowException) as error:
            raise SourceUnavailable(
                f"ledger {self.url}: cannot write {relative}: {error}"
            ) from None

    def write_partition(
        self,
        cluster: str,
        start: float,
        end: float,
        grain: str,
        tables: Mapping[str, pa.Table],
        hook: Any = None,
    ) -> Commit:
        """Write a partition's files, then its marker (the moment it becomes visible).

        `hook`, when given, is called between the files and the marker (crash tests).
        """
        directory = self.partition_dir(cluster, start, grain)
        files: dict[str, str] = {}
        rows: dict[str, int] = {}
        for name, table in tables.items():
            sink = io.BytesIO()
            pq.write_table(table.cast(TABLES[name]), sink, compression="zstd")
            files[name] = f"{directory}/{name}.parquet"
            rows[name] = table.num_rows
            self._write_bytes(files[name], sink.getvalue())
        if hook is not None:
            hook()
        marker = self.marker_name(cluster, start, grain)
        body = {
            "schemaVersion": SCHEMA_VERSION,
            "cluster": cluster,
            "start": start,
            "end": end,
            "grain": grain,
            "files": files,
            "rows": rows,
            "written": datetime.now(tz=UTC).isoformat(),
        }
        self._write_bytes(marker, json.dumps(body, sort_keys=True).encode())
        return Commit(cluster, start, end, grain, files, rows, marker)

    @contextmanager
    def open_output(self, relative: str) -> Iterator[Any]:
        """A stream to write one file, visible under its name only once closed without error
        (a temporary name then a rename on a local disk; a multipart upload on object
        storage, which the store completes only on close)."""
        path = self._path(relative)
        try:
            self.fs.create_dir(path.rsplit("/", 1)[0], recursive=True)
            target = f"{path}.{uuid.uuid4().hex}.tmp" if self.local else path
            stream = self.fs.open_output_stream(target)
        except (OSError, pa.ArrowException) as error:
            raise SourceUnavailable(
                f"ledger {self.url}: cannot write {relative}: {error}"
            ) from None
        try:
            yield stream
        except BaseException:
            stream.close()
            if self.local:
                self.delete([target[len(self.root.rstrip("/")) + 1 :]])
            raise
        stream.close()
        if self.local:
            self.fs.move(target, path)

    def write_table(self, relative: str, table: pa.Table) -> None:
        """One Parquet file (lifecycle records, a month bundle's tables), atomically."""
        sink = io.BytesIO()
        pq.write_table(table, sink, compression="zstd")
        self._write_bytes(relative, sink.getvalue())

    def write_json(self, relative: str, body: Mapping[str, Any]) -> None:
        """A small JSON document (a manifest), atomically."""
        self._write_bytes(relative, json.dumps(body, sort_keys=True).encode())

    def read_json(self, relative: str) -> dict[str, Any] | None:
        """A JSON document by relative path (None when absent)."""
        try:
            with self.fs.open_input_stream(self._path(relative)) as handle:
                body: dict[str, Any] = json.loads(handle.read())
                return body
        except FileNotFoundError:
            return None
        except (OSError, ValueError, pa.ArrowException) as error:
            if _missing(error):
                return None
            raise SourceUnavailable(f"ledger {self.url}: cannot read {relative}: {error}") from None

    def list_files(self, relative: str) -> list[str]:
        """Relative paths of the files right under a relative directory."""
        try:
            infos = self.fs.get_file_info(
                pafs.FileSelector(self._path(relative), allow_not_found=True)
            )
        except (OSError, pa.ArrowException) as error:
            raise SourceUnavailable(f"ledger {self.url}: cannot list {relative}: {error}") from None
        base = self.root.rstrip("/") + "/"
        return sorted(i.path[len(base) :] for i in infos if i.type == pafs.FileType.File)

    def read_file_table(
        self,
        relative: str,
        columns: Sequence[str] | None = None,
        dictionary: Sequence[str] = (),
    ) -> pa.Table | None:
        """A Parquet file by relative path, optionally only some columns (None when absent);
        `dictionary` columns come as dictionary arrays (each distinct text decoded once)."""
        try:
            with self.fs.open_input_file(self._path(relative)) as handle:
                file = pq.ParquetFile(handle, read_dictionary=list(dictionary) or None)
                return file.read(columns=list(columns) if columns else None)
        except FileNotFoundError:
            return None
        except (OSError, pa.ArrowException) as error:
            if _missing(error):
                return None
            raise SourceUnavailable(f"ledger {self.url}: cannot read {relative}: {error}") from None

    def read_batches(
        self, relative: str, columns: Sequence[str], rows: int
    ) -> Iterator[pa.RecordBatch]:
        """A Parquet file's columns, `rows` at a time."""
        try:
            with self.fs.open_input_file(self._path(relative)) as handle:
                yield from pq.ParquetFile(handle).iter_batches(rows, columns=list(columns))
        except (OSError, pa.ArrowException) as error:
            raise SourceUnavailable(f"ledger {self.url}: cannot read {relative}: {error}") from None

    def subdirectories(self, relative: str) -> list[str]:
        """Names of the directories right under a relative path (none when it is absent)."""
        try:
            infos = self.fs.get_file_info(
                pafs.FileSelector(self._path(relative), allow_not_found=True)
            )
        except (OSError, pa.ArrowException) as error:
            raise SourceUnavailable(f"ledger {self.url}: cannot list {relative}: {error}") from None
        return sorted(
            i.path.rstrip("/").rsplit("/", 1)[-1]
            for i in infos
            if i.type == pafs.FileType.Directory
        )

    def delete_tree(self, relative: str) -> None:
        """Delete a directory and everything under it (absent is fine)."""
        try:
            self.fs.delete_dir(self._path(relative))
        except (FileNotFoundError, OSError):
            return

    def delete(self, relatives: Iterable[str]) -> None:
        """Delete files (absent is fine)."""
        for relative in relatives:
            try:
                self.fs.delete_file(self._path(relative))
            except (FileNotFoundError, OSError):
                continue

    # -- reading ----------------------------------------------------------------------
    def clusters(self) -> list[str]:
        """Every cluster with at least one commit."""
        try:
            infos = self.fs.get_file_info(pafs.FileSelector(self._path("_commits"), True))
        except (OSError, pa.ArrowException) as error:
            raise SourceUnavailable(f"ledger {self.url}: cannot list commits: {error}") from None
        names = {i.path.rsplit("/", 2)[-2] for i in infos if i.path.endswith(".json")}
        return sorted(n.removeprefix("cluster=") for n in names if n.startswith("cluster="))

    def commits(self, cluster: str | None = None) -> list[Commit]:
        """Visible partitions (a compacted day hides the hour markers it replaced)."""
        return self.listing(cluster)[0]

    def listing(self, cluster: str | None = None) -> tuple[list[Commit], list[Commit]]:
        """Visible partitions, and the hidden ones (covered by a more compacted form of their
        day: left by a crash between writing one and deleting the other, or the hours a
        repair is writing while the day they replace is still visible)."""
        try:
            infos = self.fs.get_file_info(
                pafs.FileSelector(self._path("_commits"), allow_not_found=True, recursive=True)
            )
        except (OSError, pa.ArrowException) as error:
            raise SourceUnavailable(f"ledger {self.url}: cannot list commits: {error}") from None
        markers = {
            i.path: (i.mtime_ns, i.size)
            for i in infos
            if i.path.endswith(".json") and (cluster is None or f"/cluster={cluster}/" in i.path)
        }
        with self._markers_lock:
            known = dict(self._markers)
        stale = sorted(
            p
            for p, stamp in markers.items()
            if stamp[0] is None or known.get(p, (None,))[0] != stamp  # no mtime: always read
        )
        with ThreadPoolExecutor(READ_THREADS) as pool:
            fresh = dict(zip(stale, pool.map(self._read_marker, stale), strict=True))
        with self._markers_lock:
            for path in stale:
                self._markers[path] = (markers[path], fresh[path])
            if cluster is None:  # a full listing: forget markers that are gone
                for path in set(self._markers) - set(markers):
                    del self._markers[path]
            current = {path: self._markers[path][1] for path in markers}
        commits = [c for _, listed in sorted(current.items()) for c in listed]
        # Per day, the most compacted form wins: a month bundle, a merged day, a bundle of its
        # hours, the hours themselves (readers see one).
        best: dict[tuple[str, float], int] = {}
        for c in commits:
            key = (c.cluster, c.day)
            best[key] = max(best.get(key, 0), GRAINS[c.grain])
        visible: list[Commit] = []
        hidden: list[Commit] = []
        for c in sorted(commits, key=lambda c: (c.cluster, c.start)):
            (visible if GRAINS[c.grain] == best[(c.cluster, c.day)] else hidden).append(c)
        return visible, hidden

    def _read_marker(self, path: str) -> list[Commit]:
        try:
            with self.fs.open_input_stream(path) as handle:
                body = json.loads(handle.read())
        except FileNotFoundError:
            return []
        except (OSError, ValueError, pa.ArrowException) as error:
            raise SourceUnavailable(
                f"ledger {self.url}: unreadable marker {path}: {error}"
            ) from None
        if body.get("schemaVersion") not in READABLE_VERSIONS:
            raise SourceUnavailable(
                f"ledger {self.url}: {path} has schema version {body.get('schemaVersion')}; "
                f"this costreport reads versions {', '.join(map(str, READABLE_VERSIONS))}"
            )
        if body.get("grain") not in GRAINS:
            raise SourceUnavailable(
                f"ledger {self.url}: {path} has grain {body.get('grain')!r}; "
                f"this costreport reads {', '.join(GRAINS)}"
            )
        relative = path[len(self.root.rstrip("/")) + 1 :]
        if body["grain"] in BUNDLED:
            return month_days(body, relative)
        return [
            Commit(
                body["cluster"],
                float(body["start"]),
                float(body["end"]),
                body["grain"],
                body["files"],
                body["rows"],
                relative,
            )
        ]

    def read(
        self,
        commits: Iterable[Commit],
        tables: Iterable[str] | None = None,
        substitute: Mapping[str, str] | None = None,
    ) -> dict[str, pa.Table]:
        """The given tables (default: all) of the partitions, concatenated table by table;
        `substitute` reads another table under a table's name where a partition has it (e.g.
        `day_segments` as `segments`)."""
        wanted = list(tables) if tables is not None else list(TABLES)
        with ThreadPoolExecutor(READ_THREADS) as pool:
            reading = self.read_tables(commits, wanted, pool, substitute)
            return {name: reading[name] for name in TABLES}

    def read_tables(
        self,
        commits: Iterable[Commit],
        tables: Sequence[str],
        pool: ThreadPoolExecutor,
        substitute: Mapping[str, str] | None = None,
    ) -> Tables:
        """`read`, in the background: every file is queued on `pool` at once, table by table
        in the order of `tables`, and a table is concatenated when first asked for, waiting
        only for its own files — so a caller can decode the first tables while the rest are
        still being read. Other names are empty tables. The pool must outlive the reading."""
        return Tables(self._queue(list(commits), tables, pool, substitute))

    def read_each(
        self,
        commits: Iterable[Commit],
        tables: Iterable[str],
        substitute: Mapping[str, str] | None = None,
    ) -> list[dict[str, pa.Table]]:
        """Per partition, its tables (those it has). Each file is read once, in parallel: the
        days of a month bundle are row ranges (zero-copy slices) of its files."""
        listed = list(commits)
        out: list[dict[str, pa.Table]] = [{} for _ in listed]
        with ThreadPoolExecutor(READ_THREADS) as pool:
            for index, name, read, span in self._queue(listed, list(tables), pool, substitute):
                out[index][name] = _rows(read, span)
        return out

    def _queue(
        self,
        listed: list[Commit],
        tables: Sequence[str],
        pool: ThreadPoolExecutor,
        substitute: Mapping[str, str] | None,
    ) -> list[Queued]:
        """Every file the partitions read `tables` from, queued once on `pool`, table by table
        in the order given (partitions in theirs)."""
        reads: dict[str, Future[pa.Table]] = {}
        queued: list[Queued] = []
        for name in tables:
            for index, c in enumerate(listed):
                found = _file_of(c, name, substitute)
                if found is not None:
                    path, span = found
                    if path not in reads:
                        reads[path] = pool.submit(self._read_table, path)
                    queued.append((index, name, reads[path], span))
        return queued

    def _read_table(self, relative: str) -> pa.Table:
        try:
            with self.fs.open_input_file(self._path(relative)) as handle:
                return _upgrade(pq.ParquetFile(handle).read(), relative)
        except (OSError, pa.ArrowException) as error:
            if isinstance(error, FileNotFoundError) or _missing(error):
                self.forget()  # the next listing reads every marker again
                raise StaleListing(
                    f"ledger {self.url}: {relative} is gone (rewritten or removed by "
                    "housekeeping since it was listed)"
                ) from None
            raise SourceUnavailable(f"ledger {self.url}: cannot read {relative}: {error}") from None

    def forget(self) -> None:
        """Drop the parsed markers: the next listing reads them all again."""
        with self._markers_lock:
            self._markers.clear()

    def size_bytes(self) -> int:
        """Bytes of every file under the ledger's root."""
        try:
            infos = self.fs.get_file_info(
                pafs.FileSelector(self.root, allow_not_found=True, recursive=True)
            )
        except (OSError, pa.ArrowException):
            return 0
        return sum(i.size or 0 for i in infos if i.type == pafs.FileType.File)
