"""What every handler shares: envelopes, parameters, the clock, caching, declarations, callers."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Any
from urllib.parse import unquote, unquote_plus

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


CSV = "text/csv"


def response_format(params: Mapping[str, str]) -> str:
    """`format`: `json` (default) or `csv` (Kubecost's CSV export)."""
    value = (params.get("format") or "json").strip().lower()
    if value not in ("json", "csv"):
        raise InvalidParameter("format", params.get("format"), "json (default) or csv")
    return value


def body_response(body: bytes, fmt: str, headers: Mapping[str, str] | None = None) -> web.Response:
    """A JSON or CSV body with its content type (CSV as an attachment-free inline table)."""
    if fmt == "csv":
        return web.Response(body=body, content_type=CSV, charset="utf-8", headers=headers)
    return json_response(body, headers=headers)


def request_now(request: web.Request) -> datetime:
    """The server's clock (`ApiSettings.clock`), which relative windows resolve against."""
    return request.app[SETTINGS_KEY].clock()


def request_params(request: web.Request) -> dict[str, str]:
    """Query parameters; a repeated parameter takes its first value, like OpenCost's Go server.

    `filter` is decoded without turning `+` into a space: `+` is the v2 filter's AND, so a
    literal `+` and `%2B` mean the same (a `+` that was a space still means AND).
    """
    params = {k: request.query.getone(k) for k in request.query}
    if "filter" in params:
        for item in request.rel_url.raw_query_string.split("&"):
            name, _, value = item.partition("=")
            if unquote_plus(name) == "filter":
                params["filter"] = unquote(value)
                break
    return params


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
    cache.put(key, body, final=window.end_ts <= request_now(request).timestamp())
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
        text.strip(), now=request_now(request), utc_offset=request.app[SETTINGS_KEY].utc_offset
    )
