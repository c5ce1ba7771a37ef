"""The assets endpoint, `/assets`."""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web

from costreport.api.auth import (
    Forbidden,
)
from costreport.api.common import (
    body_response,
    cached_body,
    observe_request,
    request_caller,
    request_now,
    request_params,
    response_format,
    success_body,
    window_param,
)
from costreport.api.settings import SETTINGS_KEY, SOURCE_KEY
from costreport.engine.assets import parse_asset_aggregate
from costreport.engine.export import asset_csv
from costreport.engine.filters import parse_filter
from costreport.engine.legacy_filters import (
    LEGACY_ASSET_FILTERS,
    asset_filter_params,
    with_legacy_filters,
)
from costreport.engine.params import check_limits, parse_cost_basis
from costreport.model.asset import AssetSet
from costreport.model.query import AssetQuery
from costreport.model.window import (
    parse_accumulate,
    parse_duration,
)
from costreport.sources.service import (
    covered_window,
    query_assets,
)


async def handle_assets(request: web.Request) -> web.Response:
    """`/assets`: one object of assets, or a list of them when several sets remain (always a
    list for Kubecost's form of the request)."""
    started = time.perf_counter()
    if not request_caller(request).cluster_wide:
        raise Forbidden("assets need cluster-wide access to allocations")
    params = request_params(request)
    fmt = response_format(params)
    window = window_param(params, request)
    filter_text = with_legacy_filters(asset_filter_params(params), LEGACY_ASSET_FILTERS)
    parse_filter(filter_text, kind="asset")
    # Kubecost's form of the request (its pre-v2 filter parameters, as kubectl-cost's `node`
    # sends) gets Kubecost's form of the answer: always a list of sets.
    kubecost = any(parameter in params for parameter in LEGACY_ASSET_FILTERS)
    step = parse_duration(params["step"], parameter="step") if params.get("step") else None
    query = AssetQuery(
        window=window,
        step=step,
        accumulate=parse_accumulate(params.get("accumulate") or "true"),
        aggregate=parse_asset_aggregate(params.get("aggregate")),
        filter=filter_text,
        cost_basis=parse_cost_basis(params.get("costBasis")),
    )
    check_limits(query, params, request.app[SETTINGS_KEY].limits)
    row_count = 0

    async def compute() -> tuple[bytes, int]:
        nonlocal row_count
        sets: list[AssetSet] = await query_assets(
            request.app[SOURCE_KEY], query, now=request_now(request).timestamp()
        )
        row_count = sum(len(s.assets) for s in sets)
        if fmt == "csv":
            return asset_csv(sets).encode(), row_count
        data: Any = [s.to_json() for s in sets]
        if len(sets) == 1 and not kubecost:
            data = data[0]
        return success_body(data, meta=sets[0].meta if sets else {}), row_count

    key = f"assets:{fmt}:{'list' if kubecost else 'auto'}:" + query.model_dump_json()
    body = await cached_body(request, key, covered_window(window, step), compute)
    observe_request(request, "assets", started, row_count)
    return body_response(body, fmt)
