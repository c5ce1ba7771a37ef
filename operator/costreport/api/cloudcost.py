"""OpenCost's cloud-cost and custom-cost endpoints, answered from the ledger's FOCUS bills.

`/cloudCost`, `/cloudCost/view/graph|totals|table`, `/cloudCost/status`, `/customCost/total`,
`/customCost/timeseries` (each also under `/model`), with OpenCost's parameters and JSON
envelope (`{"code": 200, "data": …}`). Bills are account-wide, so these need cluster-wide
access. Without bills every endpoint answers a valid, empty result (the OpenCost UI renders
empty cards instead of errors).
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import numpy as np
import orjson
from aiohttp import web

from costreport.api.auth import Forbidden
from costreport.api.common import (
    body_response,
    json_response,
    observe_request,
    request_caller,
    request_now,
    request_params,
)
from costreport.engine.cloudcost import (
    CloudCostQuery,
    CloudCostSet,
    parse_cloud_cost_query,
)
from costreport.engine.cloudcost_render import (
    cloud_cost_json,
    table_csv,
    view_graph,
    view_table,
    view_totals,
)
from costreport.model.allocation import round_for_response
from costreport.model.errors import InvalidParameter
from costreport.model.window import Window, accumulation_groups, split_window
from costreport.sources.billing.service import CloudCosts

CLOUD_COSTS_KEY = web.AppKey("cloud_costs", object)

CUSTOM_AGGREGATES = {
    "zone": "availabilityZone",
    "accountName": "accountName",
    "chargeCategory": None,
    "description": None,
    "resourceName": None,
    "resourceType": None,
    "providerId": "providerID",
    "usageUnit": None,
    "domain": "provider",
    "costSource": None,
}
COST_TYPES = {"blended": "netCost", "list": "listCost", "billed": "netCost"}


def _envelope(data: Any) -> web.Response:
    return json_response(orjson.dumps({"code": 200, "data": data}))


def _service(request: web.Request) -> CloudCosts | None:
    if not request_caller(request).cluster_wide:
        raise Forbidden("cloud costs are account-wide: they need cluster-wide access")
    service = request.app.get(CLOUD_COSTS_KEY)
    return service if isinstance(service, CloudCosts) else None


async def _sets(request: web.Request) -> tuple[CloudCostQuery, list[CloudCostSet]]:
    params = request_params(request)
    query = parse_cloud_cost_query(params, now=request_now(request))
    service = _service(request)
    if service is None:
        return query, []
    return query, await service.sets(query)


async def handle_cloud_cost(request: web.Request) -> web.Response:
    """`/cloudCost`: a CloudCostSetRange."""
    started = time.perf_counter()
    query, sets = await _sets(request)
    observe_request(request, "cloudCost", started, sum(len(s.names) for s in sets))
    return _envelope(cloud_cost_json(sets, query))


async def handle_view_graph(request: web.Request) -> web.Response:
    """`/cloudCost/view/graph`."""
    started = time.perf_counter()
    query, sets = await _sets(request)
    observe_request(request, "cloudCost/view/graph", started, len(sets))
    return _envelope(view_graph(sets, query.cost_metric))


async def handle_view_totals(request: web.Request) -> web.Response:
    """`/cloudCost/view/totals`."""
    started = time.perf_counter()
    query, sets = await _sets(request)
    observe_request(request, "cloudCost/view/totals", started, 1)
    return _envelope(view_totals(sets, query.cost_metric))


async def handle_view_table(request: web.Request) -> web.Response:
    """`/cloudCost/view/table` (`format=csv` for OpenCost's CSV)."""
    started = time.perf_counter()
    params = request_params(request)
    fmt = (params.get("format") or "json").strip().lower()
    if fmt not in ("json", "csv"):
        raise InvalidParameter("format", params.get("format"), "json (default) or csv")
    query, sets = await _sets(request)
    rows = view_table(sets, query)
    observe_request(request, "cloudCost/view/table", started, len(rows))
    if fmt == "csv":
        window = query.window.to_json()
        return body_response(table_csv(rows, f"{window['start']},{window['end']}").encode(), "csv")
    return _envelope(rows)


async def handle_cloud_cost_status(request: web.Request) -> web.Response:
    """`/cloudCost/status`: one entry per ingested bill file."""
    service = _service(request)
    return _envelope(await service.status() if service is not None else [])


def _custom_params(params: dict[str, str]) -> tuple[list[str], str, str, bool]:
    aggregate = [a.strip() for a in (params.get("aggregate") or "").split(",") if a.strip()]
    for item in aggregate:
        if item not in CUSTOM_AGGREGATES:
            raise InvalidParameter(
                "aggregate", item, "a comma-separated list of " + ", ".join(CUSTOM_AGGREGATES)
            )
    cost_type = params.get("costType", "blended")
    if cost_type not in COST_TYPES:
        raise InvalidParameter("costType", cost_type, "blended, list or billed")
    sort_by = params.get("sortBy", "cost")
    if sort_by not in ("cost", "aggregate", "costType"):
        raise InvalidParameter("sortBy", sort_by, "cost, aggregate or costType")
    direction = params.get("sortDirection", "desc")
    if direction not in ("asc", "desc"):
        raise InvalidParameter("sortDirection", direction, "asc or desc")
    return aggregate, cost_type, sort_by, direction == "desc"


async def _custom(request: web.Request, series: bool) -> web.Response:
    started = time.perf_counter()
    params = request_params(request)
    aggregate, cost_type, sort_by, descending = _custom_params(params)
    query = parse_cloud_cost_query(
        {k: v for k, v in params.items() if k in ("window", "filter")}
        | {"accumulate": params.get("accumulate", "day") if series else "all"},
        now=request_now(request),
    )
    service = _service(request)
    lines = (
        await service.custom_lines(query.window.start_ts, query.window.end_ts) if service else None
    )
    days = split_window(query.window, timedelta(days=1))
    groups = accumulation_groups(days, query.accumulate) if series else [list(range(len(days)))]
    responses: list[dict[str, Any]] = []
    for group in groups:
        window = Window(days[group[0]].start, days[group[-1]].end)
        costs = _custom_costs(lines, window, aggregate, cost_type, sort_by, descending)
        total = round_for_response(np.array([sum(c["cost"] or 0.0 for c in costs)]))[0]
        responses.append(
            {
                "window": window.to_json(),
                "totalCost": total,
                "totalCostType": cost_type,
                "customCosts": costs,
            }
        )
    observe_request(request, "customCost", started, sum(len(r["customCosts"]) for r in responses))
    if series:
        return _envelope({"window": query.window.to_json(), "timeseries": responses})
    return _envelope(responses[0])


def _custom_costs(
    lines: Any, window: Window, aggregate: list[str], cost_type: str, sort_by: str, descending: bool
) -> list[dict[str, Any]]:
    if lines is None or not len(lines):
        return []
    a, z = window.start_ts, window.end_ts
    duration = np.maximum(lines.end - lines.start, 0.0)
    overlap = np.clip(np.minimum(lines.end, z) - np.maximum(lines.start, a), 0, None)
    share = np.where(
        duration > 0,
        overlap / np.where(duration > 0, duration, 1),
        ((lines.start >= a) & (lines.start < z)).astype(float),
    )
    billed = lines.costs["netCost"] * share
    listed = lines.costs["listCost"] * share
    out: dict[str, dict[str, Any]] = {}
    for i in np.flatnonzero(share > 0).tolist():
        if cost_type == "list":
            cost, kind = listed[i], "list"
        elif cost_type == "billed" or billed[i] > 0:
            cost, kind = billed[i], "billed"
        else:
            cost, kind = listed[i], "list"
        if cost == 0:
            continue
        props = {k: lines.properties[k][i] for k in lines.properties}
        key_parts = [
            (props.get(CUSTOM_AGGREGATES[a_]) or "") if CUSTOM_AGGREGATES[a_] else ""
            for a_ in aggregate
        ]
        key = (
            "/".join(p or "__unallocated__" for p in key_parts)
            if aggregate
            else f"{props['providerID']}#{i}"
        )
        held = out.get(key)
        if held is None:
            out[key] = {
                "id": props["providerID"],
                "zone": props["availabilityZone"],
                "account_name": props["accountName"],
                "charge_category": "",
                "description": "",
                "resource_name": "",
                "resource_type": "",
                "provider_id": props["providerID"],
                "cost": float(cost),
                "list_unit_price": 0.0,
                "usage_quantity": 0.0,
                "usage_unit": "",
                "domain": props["provider"],
                "cost_source": "focus",
                "aggregate": key if aggregate else "",
                "cost_type": kind,
            }
        else:
            held["cost"] += float(cost)
    rows = list(out.values())
    for row, value in zip(
        rows, round_for_response(np.array([r["cost"] for r in rows])), strict=True
    ):
        row["cost"] = value
    field = {"cost": "cost", "aggregate": "aggregate", "costType": "cost_type"}[sort_by]
    rows.sort(key=lambda r: r[field] or 0, reverse=descending)
    return rows


async def handle_custom_total(request: web.Request) -> web.Response:
    """`/customCost/total`."""
    return await _custom(request, series=False)


async def handle_custom_timeseries(request: web.Request) -> web.Response:
    """`/customCost/timeseries`."""
    return await _custom(request, series=True)


ROUTES = (
    ("/cloudCost", handle_cloud_cost),
    ("/cloudCost/view/graph", handle_view_graph),
    ("/cloudCost/view/totals", handle_view_totals),
    ("/cloudCost/view/table", handle_view_table),
    ("/cloudCost/status", handle_cloud_cost_status),
    ("/customCost/total", handle_custom_total),
    ("/customCost/timeseries", handle_custom_timeseries),
)
