"""A CostReport's `output.focus`: the run's FOCUS 1.3 rows written to a directory or bucket."""

from __future__ import annotations

import asyncio
import io
import uuid
from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from costreport.controller.spec import FocusOutputSpec
from costreport.engine.focus_export import focus_rows
from costreport.engine.privacy import LabelPolicy
from costreport.model.cluster import ClusterData, ClusterSource
from costreport.model.errors import SourceUnavailable
from costreport.model.query import CostBasis
from costreport.model.report import ReportRef
from costreport.model.window import Window, split_window
from costreport.sources.billing import focus_writer
from costreport.sources.ledger.store import filesystem_for
from costreport.sources.service import fetch_for


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


async def write_focus(
    source: ClusterSource,
    ref: ReportRef,
    window: Window,
    output: FocusOutputSpec,
    *,
    now: datetime,
    basis: CostBasis = "auto",
    policy: LabelPolicy | None = None,
) -> str:
    """Write the closed days of `window` as one file; returns its path (atomic: a temporary
    name then a rename on a local disk, a single upload on object storage)."""
    start = window.start.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    days = [d for d in split_window(Window(start, window.end), timedelta(days=1)) if d.end <= now]
    namespaces = [ref.namespace] if ref.namespace else None
    rows: list[dict[str, object]] = []
    for day in days:
        data = await fetch_for(source, day, None, timedelta(minutes=1), policy)
        rows.extend(
            await asyncio.to_thread(
                lambda data=data, day=day: list(  # type: ignore[misc]
                    focus_rows(
                        data, day, now=now.timestamp(), cost_basis=basis, namespaces=namespaces
                    )
                )
            )
        )
    scope = ref.namespace or "_cluster"
    first, last = (days[0].start, days[-1].end) if days else (start, start)
    fs, root = filesystem_for(output.url, "output.focus.url", create=True)
    name = f"focus-{_stamp(first)}_{_stamp(last)}.{output.format}"
    path = f"{root.rstrip('/')}/{scope}/{ref.name}/{name}"
    if output.format == "csv":
        body = (focus_writer.csv_header() + focus_writer.csv_rows(rows)).encode()
    else:
        sink = io.BytesIO()
        pq.write_table(focus_writer.table(rows), sink, compression="zstd")
        body = sink.getvalue()
    await asyncio.to_thread(_write, fs, path, body, output.url)
    return path


def _day(
    data: ClusterData, day: Window, now: datetime, basis: CostBasis, namespaces: list[str] | None
) -> list[dict[str, object]]:
    return list(focus_rows(data, day, now=now.timestamp(), cost_basis=basis, namespaces=namespaces))


def _write(fs: pafs.FileSystem, path: str, body: bytes, url: str) -> None:
    local = isinstance(fs, pafs.LocalFileSystem)
    try:
        fs.create_dir(path.rsplit("/", 1)[0], recursive=True)
        target = f"{path}.{uuid.uuid4().hex}.tmp" if local else path
        with fs.open_output_stream(target) as out:
            out.write(body)
        if local:
            fs.move(target, path)
    except (OSError, pa.ArrowException) as error:
        raise SourceUnavailable(f"output.focus {url}: cannot write {path}: {error}") from None
