"""Operational endpoints: `/metrics`, `/healthz`, `/readyz`, `/openapi.json`."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from importlib import resources

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from costreport.api.auth import (
    Forbidden,
)
from costreport.api.budgets import BudgetLister, budget_row
from costreport.api.common import error_body, json_response, request_caller, request_now
from costreport.api.metrics import FIGURE_WINDOWS
from costreport.api.settings import METRICS_KEY, REPORTS_KEY, SETTINGS_KEY, SOURCE_KEY, STATE_KEY
from costreport.engine.params import parse_allocation_query
from costreport.model.errors import SourceUnavailable
from costreport.model.window import (
    Window,
)
from costreport.sources.billing.reconcile import unwrap
from costreport.sources.ledger import HybridSource, LedgerSource, LedgerStore
from costreport.sources.service import query_allocations

log = logging.getLogger("costreport.api")


def ledger_store_of(source: object) -> LedgerStore | None:
    """The ledger behind a source (ledger alone or in front of a live source), if any."""
    source = unwrap(source)
    if isinstance(source, LedgerSource):
        return source.store
    if isinstance(source, HybridSource):
        return source.ledger.store
    return None


async def handle_metrics(request: web.Request) -> web.Response:
    """Prometheus text exposition of the API's metrics and OpenCost's cost metrics."""
    if not request.app[SETTINGS_KEY].metrics_public and not request_caller(request).cluster_wide:
        raise Forbidden("/metrics needs cluster-wide access to allocations")
    metrics = request.app[METRICS_KEY]
    settings = request.app[SETTINGS_KEY]
    now = request_now(request)
    recent = Window(now - timedelta(hours=1), now)
    try:
        metrics.costs.snapshot = await request.app[SOURCE_KEY].cluster_data(
            recent, resolution_seconds=60
        )
        if metrics.stats.figures_due():
            end = int(now.timestamp())
            windows = {"24h": f"{end - 86400},{end}", "month": "month"}  # trailing, to date
            for window in FIGURE_WINDOWS:
                params = {"aggregate": "cluster,namespace", "includeIdle": "true"}
                query = parse_allocation_query(
                    {**params, "window": windows[window]},
                    now=now,
                    utc_offset=settings.utc_offset,
                )
                result = await query_allocations(
                    request.app[SOURCE_KEY], query, now=now.timestamp(), policy=settings.policy
                )
                metrics.stats.set_figures(window, result, settings.shared_namespaces)
    except SourceUnavailable as error:
        log.warning(
            "cost metrics stale: source unavailable", extra={"context": {"reason": error.reason}}
        )
    store = ledger_store_of(request.app[SOURCE_KEY])
    if store is not None and metrics.ledger.due():
        try:
            commits = await asyncio.to_thread(store.commits)
            size = await asyncio.to_thread(store.size_bytes)
        except SourceUnavailable as error:
            log.warning("ledger metrics stale", extra={"context": {"reason": error.reason}})
        else:
            last: dict[str, float] = {}
            for commit in commits:
                last[commit.cluster] = max(last.get(commit.cluster, 0.0), commit.end)
            metrics.ledger.update(last, float(size), now.timestamp())
    metrics.ledger.now = now.timestamp()  # the lag is of this scrape; commits and size cached
    lister = request.app[REPORTS_KEY]
    if isinstance(lister, BudgetLister) and metrics.budgets.due():
        try:
            metrics.budgets.update([budget_row(i) for i in await lister.list_budgets()])
        except Exception as error:  # budgets are optional: their absence never fails /metrics
            log.warning("budget metrics stale", extra={"context": {"error": str(error)[:200]}})
    body = generate_latest(metrics.registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


async def handle_healthz(request: web.Request) -> web.Response:
    """Liveness: the process serves requests."""
    return web.Response(text="ok")


async def handle_readyz(request: web.Request) -> web.Response:
    """Readiness: the source has answered at least once."""
    state = request.app[STATE_KEY]
    if state.get("ready"):
        return web.Response(text="ready")
    reason = state.get("reason", "waiting for the source's first answer")
    return json_response(error_body(503, f"not ready: {reason}"), status=503)


async def handle_openapi(request: web.Request) -> web.Response:
    """costreport's OpenAPI 3 document (a superset of OpenCost's swagger)."""
    body = resources.files("costreport.api").joinpath("openapi.json").read_bytes()
    return json_response(body)
