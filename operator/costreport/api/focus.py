"""`/allocation/focus`: the window's allocation as FOCUS 1.3 rows, streamed day by day.

`format=csv` (default) streams one day's rows at a time; `format=parquet` writes the days as
row groups of one file, then sends it. A caller who sees only some namespaces gets only their
pods' rows (no unallocated node rows: those are every tenant's idle).
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow.parquet as pq
from aiohttp import web

from costreport.api.auth import Forbidden
from costreport.api.common import (
    observe_request,
    request_auth,
    request_caller,
    request_now,
    request_params,
    window_param,
)
from costreport.api.settings import SETTINGS_KEY, SOURCE_KEY
from costreport.engine.focus_export import focus_rows
from costreport.engine.params import parse_cost_basis
from costreport.model.cluster import ClusterData, pod_column
from costreport.model.errors import InvalidParameter
from costreport.model.query import CostBasis
from costreport.model.window import Window, split_window
from costreport.sources.billing import focus_writer
from costreport.sources.service import fetch_for


def _day_rows(
    data: ClusterData, day: Window, now: float, basis: CostBasis, namespaces: list[str] | None
) -> list[dict[str, Any]]:
    return list(focus_rows(data, day, now=now, cost_basis=basis, namespaces=namespaces))


async def handle_focus(request: web.Request) -> web.StreamResponse:
    """The FOCUS export."""
    started = time.perf_counter()
    params = request_params(request)
    fmt = (params.get("format") or "csv").strip().lower()
    if fmt not in ("csv", "parquet"):
        raise InvalidParameter("format", params.get("format"), "csv (default) or parquet")
    basis = parse_cost_basis(params.get("costBasis"))
    asked = window_param(params, request)
    settings = request.app[SETTINGS_KEY]
    now = request_now(request).timestamp()
    start = datetime.fromtimestamp(asked.start_ts, tz=UTC).replace(hour=0, minute=0, second=0)
    days = split_window(Window(start, asked.end), timedelta(days=1))
    if len(days) > settings.max_window_days:
        raise InvalidParameter(
            "window", params.get("window"), f"at most {settings.max_window_days:g} days"
        )
    days = [d for d in days if d.end_ts <= now]  # closed days only
    caller = request_caller(request)
    source = request.app[SOURCE_KEY]
    namespaces: set[str] | None = None
    rows = 0
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/csv; charset=utf-8"
            if fmt == "csv"
            else "application/vnd.apache.parquet",
            "Content-Disposition": f'attachment; filename="focus.{fmt}"',
        }
    )
    first = True
    parquet_path = None
    writer = None
    try:
        for day in days:
            data = await fetch_for(source, day, None, timedelta(minutes=1), settings.policy)
            if not caller.cluster_wide:
                readable = await request_auth(request).readable(
                    caller, set(pod_column(data.pods, "namespace"))
                )
                namespaces = set(readable)
                if not namespaces and first:
                    raise Forbidden("no readable namespace in this window")
            allowed = None if namespaces is None else sorted(namespaces)
            day_rows = await asyncio.to_thread(_day_rows, data, day, now, basis, allowed)
            rows += len(day_rows)
            if fmt == "csv":
                if first:
                    await response.prepare(request)
                    await response.write(focus_writer.csv_header().encode())
                await response.write(
                    (await asyncio.to_thread(focus_writer.csv_rows, day_rows)).encode()
                )
            else:
                if writer is None:
                    handle, parquet_path = tempfile.mkstemp(suffix=".parquet")
                    os.close(handle)
                    writer = pq.ParquetWriter(parquet_path, focus_writer.SCHEMA, compression="zstd")
                if day_rows:
                    writer.write_table(await asyncio.to_thread(focus_writer.table, day_rows))
            first = False
        if fmt == "csv":
            if first:
                await response.prepare(request)
                await response.write(focus_writer.csv_header().encode())
        else:
            if writer is None:
                handle, parquet_path = tempfile.mkstemp(suffix=".parquet")
                os.close(handle)
                writer = pq.ParquetWriter(parquet_path, focus_writer.SCHEMA, compression="zstd")
            writer.close()
            writer = None
            await response.prepare(request)
            assert parquet_path is not None
            with open(parquet_path, "rb") as handle_in:
                while chunk := handle_in.read(1 << 20):
                    await response.write(chunk)
        await response.write_eof()
    finally:
        if writer is not None:
            writer.close()
        if parquet_path is not None:
            os.unlink(parquet_path)
    observe_request(request, "allocation/focus", started, rows)
    return response
