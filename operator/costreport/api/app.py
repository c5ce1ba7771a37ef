"""The OpenCost-compatible HTTP API (aiohttp).

Every route answers both at its OpenCost path and under `/model` (the UI's prefix). Handlers
are thin: parse with the engine's parsers, compute through the source service, encode with
orjson, cache the encoded body. Bad input is a 400 in OpenCost's JSON envelope naming the
parameter; a failing source is a 503 with a reason and `Retry-After`; nothing else is a 5xx.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from costreport.api.allocation import handle_allocation, handle_summary
from costreport.api.assets import handle_assets
from costreport.api.auth import (
    KubernetesAuth,
    NoAuth,
)
from costreport.api.autocomplete import handle_autocomplete
from costreport.api.budgets import handle_budgets
from costreport.api.cache import ResponseCache
from costreport.api.cloudcost import CLOUD_COSTS_KEY
from costreport.api.cloudcost import ROUTES as CLOUD_ROUTES
from costreport.api.common import error_body, json_response
from costreport.api.focus import handle_focus
from costreport.api.limits import ClientLimiter
from costreport.api.metrics import ApiMetrics
from costreport.api.middleware import (
    access_log_middleware,
    cors_middleware_factory,
    errors_middleware,
    guard_middleware,
)
from costreport.api.operational import handle_healthz, handle_metrics, handle_openapi, handle_readyz
from costreport.api.reports import handle_report
from costreport.api.settings import (
    AUTH_KEY,
    CACHE_KEY,
    LIMITER_KEY,
    METRICS_KEY,
    REPORTS_KEY,
    SETTINGS_KEY,
    SOURCE_KEY,
    STATE_KEY,
    ApiSettings,
    ConfigMapReader,
)
from costreport.model.cluster import ClusterSource
from costreport.model.errors import SourceUnavailable
from costreport.sources.billing.service import CloudCosts

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

__all__ = ["CACHE_KEY", "ApiSettings", "ConfigMapReader", "create_app"]

MAX_REQUEST_LINE = 65536
"""Longest request line or header aiohttp parses; the guard refuses long queries first."""

ROUTES: tuple[tuple[str, Handler], ...] = (
    ("/allocation", handle_allocation),
    ("/allocation/compute", handle_allocation),
    ("/allocation/summary", handle_summary),
    ("/allocation/compute/summary", handle_summary),
    ("/allocation/autocomplete", handle_autocomplete),
    ("/assets", handle_assets),
    ("/allocation/focus", handle_focus),
)


async def _wait_ready(app: web.Application) -> None:
    state = app[STATE_KEY]
    delay = 1.0
    while True:
        try:
            await app[SOURCE_KEY].check()
        except SourceUnavailable as error:
            state["reason"] = error.reason
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)
            continue
        state["ready"] = True
        return


async def _start_readiness(app: web.Application) -> Any:
    task = asyncio.create_task(_wait_ready(app))
    yield
    task.cancel()


@web.middleware
async def loopback_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The port-forward listener answers loopback peers only (a kubectl port-forward arrives
    from 127.0.0.1 inside the pod); anything else is refused before any handler runs."""
    peer = request.remote or ""
    if peer not in ("127.0.0.1", "::1", "::ffff:127.0.0.1"):
        return json_response(
            error_body(403, "forbidden: this listener serves loopback (port-forward) only"),
            status=403,
        )
    return await handler(request)


def create_app(
    source: ClusterSource,
    settings: ApiSettings | None = None,
    reports: ConfigMapReader | None = None,
    auth: KubernetesAuth | NoAuth | None = None,
    cloud_costs: CloudCosts | None = None,
    loopback_only: bool = False,
    with_mcp: bool = False,
) -> web.Application:
    """The API over a source (and the operator's ConfigMaps when in a cluster).

    Without `auth` every caller is an anonymous cluster-wide reader: only for loopback demos
    and tests; `costreport serve` refuses it on other addresses unless told it is insecure.
    """
    settings = settings or ApiSettings()
    app = web.Application(
        # Long request lines reach the guard, which answers the documented JSON 414 (aiohttp's
        # own limit, 8 KiB, would answer plain text before any middleware runs).
        handler_args={"max_line_size": MAX_REQUEST_LINE, "max_field_size": MAX_REQUEST_LINE},
        middlewares=[
            *([loopback_middleware] if loopback_only else []),
            cors_middleware_factory(settings.cors),
            access_log_middleware,
            errors_middleware,
            guard_middleware,
        ],
    )
    app[AUTH_KEY] = auth or NoAuth()
    app[LIMITER_KEY] = ClientLimiter(
        settings.rate_per_second, settings.rate_burst, settings.client_concurrency
    )
    app[SOURCE_KEY] = source
    app[SETTINGS_KEY] = settings
    app[CACHE_KEY] = ResponseCache(settings.cache_bytes, settings.cache_ttl_seconds)
    app[METRICS_KEY] = ApiMetrics()
    app[STATE_KEY] = {}
    app[REPORTS_KEY] = reports
    app[CLOUD_COSTS_KEY] = cloud_costs
    for path, handler in (*ROUTES, *CLOUD_ROUTES):
        app.router.add_get(path, handler)
        app.router.add_get("/model" + path, handler)
    app.router.add_get("/metrics", handle_metrics)
    app.router.add_get("/healthz", handle_healthz)
    app.router.add_get("/readyz", handle_readyz)
    app.router.add_get("/openapi.json", handle_openapi)
    app.router.add_get("/reports/{namespace}/{name}", handle_report)
    app.router.add_get("/budgets", handle_budgets)
    if with_mcp:
        from costreport.api.mcp import McpEndpoint

        endpoint = McpEndpoint()
        app.router.add_route("*", "/mcp", endpoint.handle)
        app.cleanup_ctx.append(endpoint.lifespan)
    app.cleanup_ctx.append(_start_readiness)
    return app
