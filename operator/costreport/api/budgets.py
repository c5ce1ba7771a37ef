"""`/budgets`: CostBudgets and ClusterCostBudgets with their latest evaluation, scoped.

A cluster-wide reader sees every budget; anyone else the CostBudgets of the namespaces they
may read (ClusterCostBudgets count across namespaces, so they need cluster-wide access).
Outside a cluster (no Kubernetes API) the list is empty and `meta.warnings` says why.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

from aiohttp import web

from costreport.api.common import (
    json_response,
    observe_request,
    request_auth,
    request_caller,
    success_body,
)
from costreport.api.settings import REPORTS_KEY


@runtime_checkable
class BudgetLister(Protocol):
    """Lists budget objects (`KubeClient`, or a fake)."""

    async def list_budgets(self) -> list[dict[str, Any]]:
        """Every budget object."""
        ...


def budget_row(item: Mapping[str, Any]) -> dict[str, Any]:
    """One budget as a row (what `costreport budgets` prints)."""
    meta, spec, status = (
        item.get("metadata") or {},
        item.get("spec") or {},
        item.get("status") or {},
    )
    conditions = {c.get("type"): c for c in status.get("conditions") or []}
    return {
        "kind": item.get("kind"),
        "namespace": meta.get("namespace"),
        "name": meta.get("name"),
        "amount": spec.get("amount"),
        "currency": spec.get("currency", "USD"),
        "period": spec.get("period", "month"),
        "spent": status.get("spent"),
        "forecast": status.get("forecast"),
        "percentSpent": status.get("percentSpent"),
        "percentForecast": status.get("percentForecast"),
        "periodWindow": status.get("period"),
        "partial": status.get("partial", False),
        "thresholdsReached": status.get("thresholdsReached") or [],
        "ready": (conditions.get("Ready") or {}).get("status", "Unknown"),
        "withinBudget": (conditions.get("WithinBudget") or {}).get("status", "Unknown"),
        "message": (conditions.get("Ready") or {}).get("message", ""),
    }


async def visible_budgets(request: web.Request, lister: BudgetLister) -> list[dict[str, Any]]:
    """The budgets the caller may read, as rows."""
    items = await lister.list_budgets()
    caller = request_caller(request)
    if caller.cluster_wide:
        return [budget_row(i) for i in items]
    namespaced = {
        (i.get("metadata") or {}).get("namespace") for i in items if i.get("kind") == "CostBudget"
    }
    readable = await request_auth(request).readable(caller, {n for n in namespaced if n})
    return [
        budget_row(i)
        for i in items
        if i.get("kind") == "CostBudget" and (i.get("metadata") or {}).get("namespace") in readable
    ]


async def handle_budgets(request: web.Request) -> web.Response:
    """`/budgets`."""
    started = time.perf_counter()
    lister = request.app[REPORTS_KEY]
    if not isinstance(lister, BudgetLister):
        warning = "budgets are served only in a cluster: no Kubernetes API is configured"
        return json_response(success_body([], meta={"warnings": [warning]}))
    rows = await visible_budgets(request, lister)
    observe_request(request, "budgets", started, len(rows))
    return json_response(success_body(rows))
