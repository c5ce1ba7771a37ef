"""Confining a query to what the caller may read, and the per-request size limits."""

from __future__ import annotations

from aiohttp import web

from costreport.api.auth import (
    Forbidden,
)
from costreport.api.common import request_auth, request_caller, request_params
from costreport.api.settings import CLUSTER_KEYS, SETTINGS_KEY, SOURCE_KEY
from costreport.engine.params import check_limits
from costreport.model.cluster import ClusterData, pod_column
from costreport.model.query import AllocationQuery
from costreport.sources.service import (
    fetch_for_query,
)


async def scope(
    request: web.Request, query: AllocationQuery
) -> tuple[AllocationQuery, ClusterData | None]:
    """Confine a query to what the caller may read.

    A cluster-wide reader gets the query as asked. Anyone else gets only the rows of the
    namespaces they may read (a filter added before aggregation), idle only as the share
    already distributed to their rows, and a 403 for cluster and node aggregation and for
    shared costs, which would fold other tenants' costs into the answer.
    """
    settings = request.app[SETTINGS_KEY]
    settings.policy.check(query)
    check_limits(query, request_params(request), settings.limits)
    caller = request_caller(request)
    if caller.cluster_wide:
        return query, None
    if CLUSTER_KEYS & set(query.aggregate) or not query.aggregate:
        raise Forbidden("aggregating across namespaces needs cluster-wide access to allocations")
    if query.sharing_policy()["applied"]:
        raise Forbidden("shared costs need cluster-wide access to allocations")
    data = await fetch_for_query(request.app[SOURCE_KEY], query, settings.policy)
    readable = await request_auth(request).readable(caller, set(pod_column(data.pods, "namespace")))
    if not readable:
        raise Forbidden("no readable namespace in this window")
    own = "|".join(f'namespace:"{n}"' for n in sorted(readable))
    confined = f"({own})" + (f"+({query.filter})" if query.filter.strip() else "")
    update = {
        "filter": confined,
        "include_idle": query.include_idle and query.share_idle,
        "hide_idle_remainder": True,
    }
    return query.model_copy(update=update), data
