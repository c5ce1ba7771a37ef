"""The allocation endpoints: `/allocation`, `/allocation/compute` and their summaries."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from aiohttp import web

from costreport.api.common import (
    body_response,
    cached_body,
    declaration_headers,
    json_response,
    observe_request,
    request_now,
    request_params,
    response_format,
    success_body,
)
from costreport.api.scope import scope
from costreport.api.settings import SETTINGS_KEY, SOURCE_KEY
from costreport.engine.export import allocation_csv
from costreport.engine.params import parse_allocation_query
from costreport.model.allocation import AllocationSetRange, format_time
from costreport.model.query import AllocationQuery
from costreport.sources.service import (
    compute,
    covered_window,
    fetch_for_query,
)


async def handle_allocation(request: web.Request) -> web.Response:
    """`/allocation` and `/allocation/compute`."""
    started = time.perf_counter()
    params = request_params(request)
    fmt = response_format(params)
    asked = parse_allocation_query(
        params,
        now=request_now(request),
        utc_offset=request.app[SETTINGS_KEY].utc_offset,
    )
    query, data = await scope(request, asked)
    row_count = 0

    async def run() -> tuple[bytes, int]:
        nonlocal row_count
        source_data = data or await fetch_for_query(
            request.app[SOURCE_KEY], query, request.app[SETTINGS_KEY].policy
        )
        result = await compute(source_data, query, now=request_now(request).timestamp())
        row_count = sum(len(s) for s in result.sets)
        if fmt == "csv":
            return (await asyncio.to_thread(allocation_csv, result)).encode(), row_count
        meta = {**result.meta, "window": query.window.to_json()}
        return await asyncio.to_thread(success_body, result.to_json(), meta=meta), row_count

    key = f"allocation:{fmt}:" + query.model_dump_json()
    body = await cached_body(request, key, covered_window(query.window, query.step), run)
    observe_request(request, "allocation", started, row_count)
    return body_response(body, fmt, headers=declaration_headers(query))


SUMMARY_FIELDS = (
    "cpuCoreRequestAverage",
    "cpuCoreUsageAverage",
    "cpuCost",
    "cpuCostIdle",
    "gpuRequestAverage",
    "gpuUsageAverage",
    "gpuCost",
    "gpuCostIdle",
    "networkCost",
    "loadBalancerCost",
    "pvCost",
    "ramByteRequestAverage",
    "ramByteUsageAverage",
    "ramCost",
    "ramCostIdle",
    "sharedCost",
    "externalCost",
)


def summary_data(result: AllocationSetRange, query: AllocationQuery) -> dict[str, Any]:
    """OpenCost's `/allocation/summary` shape (reference §1.10): raw floats, nanosecond step."""
    sets = []
    for s in result.sets:
        allocations = {}
        columns = {f: s.columns[f].tolist() for f in (*SUMMARY_FIELDS, "totalEfficiency")}
        for i, name in enumerate(s.names):
            row: dict[str, Any] = {
                "name": name,
                "start": format_time(float(s.start[i])),
                "end": format_time(float(s.end[i])),
            }
            row.update({f: columns[f][i] for f in SUMMARY_FIELDS})
            row["efficiency"] = columns["totalEfficiency"][i]
            allocations[name] = row
        sets.append({"allocations": allocations, "window": s.window.to_json()})
    step = query.step or query.window.duration
    return {
        "step": int(step.total_seconds() * 1e9),
        "sets": sets,
        "window": query.window.to_json(),
    }


async def handle_summary(request: web.Request) -> web.Response:
    """`/allocation/summary` and `/allocation/compute/summary` (no idle, no sharing)."""
    started = time.perf_counter()
    params = {
        k: v
        for k, v in request_params(request).items()
        if k in ("window", "step", "resolution", "aggregate", "accumulate", "filter")
    }
    asked = parse_allocation_query(
        params, now=request_now(request), utc_offset=request.app[SETTINGS_KEY].utc_offset
    )
    query, data = await scope(request, asked)
    row_count = 0

    async def run() -> tuple[bytes, int]:
        nonlocal row_count
        source_data = data or await fetch_for_query(
            request.app[SOURCE_KEY], query, request.app[SETTINGS_KEY].policy
        )
        result = await compute(source_data, query, now=request_now(request).timestamp())
        row_count = sum(len(s) for s in result.sets)
        return success_body(summary_data(result, query), meta=result.meta), row_count

    key = "summary:" + query.model_dump_json()
    body = await cached_body(request, key, covered_window(query.window, query.step), run)
    observe_request(request, "summary", started, row_count)
    return json_response(body, headers=declaration_headers(query))
