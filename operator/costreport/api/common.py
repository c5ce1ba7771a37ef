"""What every handler shares: envelopes, parameters, the clock, caching, declarations, callers."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import orjson
from aiohttp import web

from costreport.api.auth import (
    ANONYMOUS,
    Caller,
    KubernetesAuth,
    NoAuth,
)
from costreport.api.settings import (
    AUTH_KEY,
    CACHE_KEY,
    CALLER_KEY,
    JSON,
    METRICS_KEY,
    ROWS_KEY,
    SETTINGS_KEY,
)
from costreport.engine.params import WINDOW_REQUIRED
from costreport.model.errors import InvalidParameter
from costreport.model.query import AllocationQuery
from costreport.model.window import (
    Window,
    parse_window,
)


def json_response(
    body: bytes, status: int = 200, headers: Mapping[str, str] | None = None
) -> web.Response:
    """An already-encoded JSON body."""
    return web.Response(body=body, status=status, content_type=JSON, headers=headers)


def error_body(code: int, message: str) -> bytes:
    """OpenCost's error envelope with a meaningful `status`."""
    return orjson.dumps({"code": code, "status": "error", "data": None, "message": message})


def success_body(data: Any, **extra: Any) -> bytes:
    """OpenCost's success envelope; `extra` keys (e.g. `meta`) travel beside `data`."""
    return orjson.dumps({"code": 200, "status": "success", "data": data, **extra})


def utc_now() -> datetime:
    return datetime.now(tz=UTC)


def request_params(request: web.Request) -> dict[str, str]:
    """Query parameters; a repeated parameter takes its last value (never an error)."""
    return {k: request.query.getall(k)[-1] for k in request.query}


def idle_header(query: AllocationQuery) -> str:
    """`X-Costreport-Idle` value: the idle mode and whether it was by node."""
    idle = query.idle_handling()
    return f"{idle['mode']}; by-node={str(idle['byNode']).lower()}"


def sharing_header(query: AllocationQuery) -> str:
    """`X-Costreport-Shared-Costs` value: `none`, or the rules that applied."""
    policy = query.sharing_policy()
    if not policy["applied"]:
        return "none"
    parts = []
    if query.share_namespaces:
        parts.append("namespaces=" + ",".join(query.share_namespaces))
    if query.share_labels:
        parts.append("labels=" + ",".join(f"{k}:{v}" for k, v in query.share_labels))
    if query.share_cost:
        parts.append(f"monthly-cost={query.share_cost:g}")
    parts.append(f"split={query.share_split}")
    return "; ".join(parts)


def declaration_headers(query: AllocationQuery) -> dict[str, str]:
    return {
        "X-Costreport-Idle": idle_header(query),
        "X-Costreport-Shared-Costs": sharing_header(query),
    }


async def cached_body(
    request: web.Request,
    key: str,
    window: Window,
    compute: Callable[[], Awaitable[tuple[bytes, int]]],
) -> bytes:
    """The cached body for `key`, or compute, encode and cache it (final once the window ended)."""
    cache = request.app[CACHE_KEY]
    body = cache.get(key)
    if body is not None:
        return body
    body, _rows = await compute()
    cache.put(key, body, final=window.end_ts <= time.time())
    return body


def observe_request(request: web.Request, endpoint: str, started: float, rows: int) -> None:
    metrics = request.app[METRICS_KEY]
    elapsed = time.perf_counter() - started
    metrics.latency.labels(endpoint).observe(elapsed)
    metrics.rows.labels(endpoint).observe(rows)
    metrics.stats.observe_latency(elapsed)
    request[ROWS_KEY] = rows


def request_caller(request: web.Request) -> Caller:
    return request.get(CALLER_KEY) or ANONYMOUS


def request_auth(request: web.Request) -> KubernetesAuth | NoAuth:
    auth = request.app[AUTH_KEY]
    assert isinstance(auth, KubernetesAuth | NoAuth)
    return auth


def window_param(params: Mapping[str, str], request: web.Request) -> Window:
    text = params.get("window")
    if text is None or not text.strip():
        raise InvalidParameter("window", text or "", WINDOW_REQUIRED)
    return parse_window(
        text.strip(), now=utc_now(), utc_offset=request.app[SETTINGS_KEY].utc_offset
    )
