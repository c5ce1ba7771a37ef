"""Where the ledger lives: a directory or a bucket, laid out as Hive partitions, with commits.

Layout under the ledger's URL (a local path, `file://`, `s3://`, `gs://` or `az://` through
`pyarrow.fs`):

    cluster=<id>/date=YYYY-MM-DD/part=hHH/<table>.parquet     one closed hour
    cluster=<id>/date=YYYY-MM-DD/part=hours/<table>.parquet   a closed day's hours, bundled
    cluster=<id>/date=YYYY-MM-DD/part=day/<table>.parquet     a compacted (merged) day
    _commits/cluster=<id>/YYYY-MM-DDTHH.json                   an hour's commit marker
    _commits/cluster=<id>/YYYY-MM-DD.hours.json                a bundle's marker
    _commits/cluster=<id>/YYYY-MM-DD.json                      a compacted day's marker
    _lifecycle/cluster=<id>/date=YYYY-MM-DD/hHH.parquet         container lives recorded from
                                                               the Kubernetes API in that hour

A partition is visible only once its marker exists, and the marker is written after every
file of the partition: a crash in between leaves files no reader looks at, and the retry
writes the same paths again (every path is a function of cluster, hour and table), so an hour
is never lost and never doubled. Each file is written atomically (a temporary name then a
rename on a local disk; a single upload on object storage).
"""

from __future__ import annotations

import io
import json
import os
import threading
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
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


@dataclass(frozen=True, slots=True)
class Commit:
    """One visible partition: a closed hour or a compacted day of one cluster."""

    cluster: str
    start: float
    end: float
    grain: str  # "hour", "hours" (a day's hours bundled, finest step 1 h) or "day" (merged)
    files: Mapping[str, str]
    rows: Mapping[str, int]
    marker: str


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


class LedgerStore:
    """Reads and writes ledger partitions on a `pyarrow.fs` filesystem."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.fs, self.root = filesystem_for(url, "ledger", create=True)
        self.local = isinstance(self.fs, pafs.LocalFileSystem)
        # Parsed markers by path, with the (mtime, size) they were read at: a marker is read
        # again only when it changed, so a query lists the commits but does not re-read them.
        self._markers: dict[str, tuple[tuple[Any, int | None], Commit | None]] = {}
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
        """One Parquet file outside the partitions (e.g. lifecycle records), atomically."""
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
            if "not found" in str(error).lower() or "no such file" in str(error).lower():
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
            if "not found" in str(error).lower() or "no such file" in str(error).lower():
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
        commits = [c for _, c in sorted(current.items()) if c is not None]
        # Per day, the most compacted form wins: a merged day, else a bundle of its hours,
        # else the hours themselves (a crash between writing one and deleting the other
        # leaves both; readers see one).
        best: dict[tuple[str, float], int] = {}
        rank = {"day": 2, "hours": 1, "hour": 0}
        for c in commits:
            key = (c.cluster, c.start - c.start % DAY)
            best[key] = max(best.get(key, 0), rank[c.grain])
        return sorted(
            (c for c in commits if rank[c.grain] == best[(c.cluster, c.start - c.start % DAY)]),
            key=lambda c: (c.cluster, c.start),
        )

    def _read_marker(self, path: str) -> Commit | None:
        try:
            with self.fs.open_input_stream(path) as handle:
                body = json.loads(handle.read())
        except FileNotFoundError:
            return None
        except (OSError, ValueError, pa.ArrowException) as error:
            raise SourceUnavailable(
                f"ledger {self.url}: unreadable marker {path}: {error}"
            ) from None
        if body.get("schemaVersion") not in READABLE_VERSIONS:
            raise SourceUnavailable(
                f"ledger {self.url}: {path} has schema version {body.get('schemaVersion')}; "
                f"this costreport reads versions {', '.join(map(str, READABLE_VERSIONS))}"
            )
        relative = path[len(self.root.rstrip("/")) + 1 :]
        return Commit(
            body["cluster"],
            float(body["start"]),
            float(body["end"]),
            body["grain"],
            body["files"],
            body["rows"],
            relative,
        )

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
        swap = substitute or {}
        jobs = []
        for c in commits:
            for name in wanted:
                other = swap.get(name)
                if other is not None and other in c.files:
                    jobs.append((name, c.files[other]))
                elif name in c.files:
                    jobs.append((name, c.files[name]))
        with ThreadPoolExecutor(READ_THREADS) as pool:
            parts = list(pool.map(lambda job: (job[0], self._read_table(job[1])), jobs))
        out: dict[str, list[pa.Table]] = {name: [] for name in TABLES}
        for name, table in parts:
            out[name].append(table)
        return {
            name: pa.concat_tables(parts) if parts else TABLES[name].empty_table()
            for name, parts in out.items()
        }

    def _read_table(self, relative: str) -> pa.Table:
        try:
            with self.fs.open_input_file(self._path(relative)) as handle:
                return _upgrade(pq.ParquetFile(handle).read(), relative)
        except (OSError, pa.ArrowException) as error:
            raise SourceUnavailable(f"ledger {self.url}: cannot read {relative}: {error}") from None

    def size_bytes(self) -> int:
        """Bytes of every file under the ledger's root."""
        try:
            infos = self.fs.get_file_info(
                pafs.FileSelector(self.root, allow_not_found=True, recursive=True)
            )
        except (OSError, pa.ArrowException):
            return 0
        return sum(i.size or 0 for i in infos if i.type == pafs.FileType.File)
