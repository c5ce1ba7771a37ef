"""The OpenCost-compatible HTTP API (aiohttp).

Every route answers both at its OpenCost path and under `/model` (the UI's prefix). Handlers
are thin: parse with the engine's parsers, compute through the source service, encode with
orjson, cache the encoded body. Bad input is a 400 in OpenCost's JSON envelope naming the
parameter; a failing source is a 503 with a reason and `Retry-After`; nothing else is a 5xx.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from importlib import resources
from typing import Any, Protocol, runtime_checkable

import numpy as np
import orjson
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from costreport.api.auth import (
    ANONYMOUS,
    Caller,
    Forbidden,
    KubernetesAuth,
    NoAuth,
    Unauthenticated,
)
from costreport.api.cache import ResponseCache
from costreport.api.limits import ClientLimiter, TooManyRequests
from costreport.api.metrics import ApiMetrics
from costreport.engine.aggregate import sanitize_key
from costreport.engine.assets import parse_asset_aggregate
from costreport.engine.filters import parse_filter
from costreport.engine.params import WINDOW_REQUIRED, parse_allocation_query
from costreport.engine.privacy import LabelPolicy
from costreport.model.allocation import AllocationSetRange, format_time
from costreport.model.asset import AssetSet
from costreport.model.cluster import ClusterData, ClusterSource
from costreport.model.errors import InvalidParameter, SourceUnavailable
from costreport.model.query import AllocationQuery, AssetQuery
from costreport.model.report import configmap_name
from costreport.model.window import (
    Window,
    parse_accumulate,
    parse_duration,
    parse_window,
)
from costreport.sources.service import (
    compute,
    covered_window,
    fetch_for_query,
    query_assets,
)

log = logging.getLogger("costreport.api")
audit = logging.getLogger("costreport.audit")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
JSON = "application/json"
AUTOCOMPLETE_FIELDS = (
    "cluster",
    "node",
    "namespace",
    "controllerKind",
    "controllerName",
    "pod",
    "container",
    "label",
    "label[<key>]",
    "annotation",
    "annotation[<key>]",
)


@runtime_checkable
class ConfigMapReader(Protocol):
    """Reads the operator's result ConfigMaps (a `KubeClient` in a cluster, a fake in tests)."""

    async def get_configmap(self, namespace: str, name: str) -> dict[str, Any] | None:
        """The ConfigMap, or None when absent."""
        ...


@dataclass(frozen=True, slots=True)
class ApiSettings:
    """Server behaviour that is configuration, not request input."""

    cors: bool = True
    operator_namespace: str = "default"
    policy: LabelPolicy = field(default_factory=LabelPolicy)
    metrics_public: bool = False
    max_query_length: int = 4096
    max_window_days: float = 400.0
    max_sets: int = 2000
    rate_per_second: float = 20.0
    rate_burst: int = 40
    client_concurrency: int = 8
    request_timeout_seconds: float = 60.0
    utc_offset: timedelta = timedelta(0)
    cache_bytes: int = 256 * 1024 * 1024
    cache_ttl_seconds: float = 60.0


SOURCE_KEY = web.AppKey("source", ClusterSource)
SETTINGS_KEY = web.AppKey("settings", ApiSettings)
CACHE_KEY = web.AppKey("cache", ResponseCache)
METRICS_KEY = web.AppKey("metrics", ApiMetrics)
STATE_KEY = web.AppKey("state", dict)
ROWS_KEY = web.RequestKey("rows", int)
CALLER_KEY = web.RequestKey("caller", Caller)
AUTH_KEY = web.AppKey("auth", object)
LIMITER_KEY = web.AppKey("limiter", ClientLimiter)
OPEN_PATHS = frozenset({"/healthz", "/readyz", "/openapi.json"})
CLUSTER_KEYS = frozenset({"cluster", "node"})
REPORTS_KEY = web.AppKey("reports", object)


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


def _now() -> datetime:
    return datetime.now(tz=UTC)


def _params(request: web.Request) -> dict[str, str]:
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


def _declaration_headers(query: AllocationQuery) -> dict[str, str]:
    return {
        "X-Costreport-Idle": idle_header(query),
        "X-Costreport-Shared-Costs": sharing_header(query),
    }


async def _cached(
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


def _observe(request: web.Request, endpoint: str, started: float, rows: int) -> None:
    metrics = request.app[METRICS_KEY]
    elapsed = time.perf_counter() - started
    metrics.latency.labels(endpoint).observe(elapsed)
    metrics.rows.labels(endpoint).observe(rows)
    metrics.stats.observe_latency(elapsed)
    request[ROWS_KEY] = rows


def _caller(request: web.Request) -> Caller:
    return request.get(CALLER_KEY) or ANONYMOUS


def _auth(request: web.Request) -> KubernetesAuth | NoAuth:
    auth = request.app[AUTH_KEY]
    assert isinstance(auth, KubernetesAuth | NoAuth)
    return auth


def check_limits(query: AllocationQuery, settings: ApiSettings) -> None:
    """Refuse windows and step counts that would make one request unbounded."""
    days = query.window.duration.total_seconds() / 86400
    if days > settings.max_window_days:
        raise InvalidParameter(
            "window",
            f"{query.window.to_json()['start']},{query.window.to_json()['end']}",
            f"a window of at most {settings.max_window_days:g} days",
        )
    step = query.step
    if step is not None and query.window.duration / step > settings.max_sets:
        raise InvalidParameter(
            "step", str(step), f"a step giving at most {settings.max_sets} sets for this window"
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
    check_limits(query, settings)
    caller = _caller(request)
    if caller.cluster_wide:
        return query, None
    if CLUSTER_KEYS & set(query.aggregate) or not query.aggregate:
        raise Forbidden("aggregating across namespaces needs cluster-wide access to allocations")
    if query.sharing_policy()["applied"]:
        raise Forbidden("shared costs need cluster-wide access to allocations")
    data = await fetch_for_query(request.app[SOURCE_KEY], query, settings.policy)
    readable = await _auth(request).readable(caller, {p.namespace for p in data.pods})
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


async def handle_allocation(request: web.Request) -> web.Response:
    """`/allocation` and `/allocation/compute`."""
    started = time.perf_counter()
    asked = parse_allocation_query(
        _params(request), now=_now(), utc_offset=request.app[SETTINGS_KEY].utc_offset
    )
    query, data = await scope(request, asked)
    row_count = 0

    async def run() -> tuple[bytes, int]:
        nonlocal row_count
        source_data = data or await fetch_for_query(
            request.app[SOURCE_KEY], query, request.app[SETTINGS_KEY].policy
        )
        result = await compute(source_data, query)
        request.app[METRICS_KEY].stats.observe_result(result)
        row_count = sum(len(s) for s in result.sets)
        meta = {**result.meta, "window": query.window.to_json()}
        return await asyncio.to_thread(success_body, result.to_json(), meta=meta), row_count

    key = "allocation:" + query.model_dump_json()
    body = await _cached(request, key, covered_window(query.window, query.step), run)
    _observe(request, "allocation", started, row_count)
    return json_response(body, headers=_declaration_headers(query))


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
        for k, v in _params(request).items()
        if k in ("window", "step", "resolution", "aggregate", "accumulate", "filter")
    }
    asked = parse_allocation_query(
        params, now=_now(), utc_offset=request.app[SETTINGS_KEY].utc_offset
    )
    query, data = await scope(request, asked)
    row_count = 0

    async def run() -> tuple[bytes, int]:
        nonlocal row_count
        source_data = data or await fetch_for_query(
            request.app[SOURCE_KEY], query, request.app[SETTINGS_KEY].policy
        )
        result = await compute(source_data, query)
        row_count = sum(len(s) for s in result.sets)
        return success_body(summary_data(result, query), meta=result.meta), row_count

    key = "summary:" + query.model_dump_json()
    body = await _cached(request, key, covered_window(query.window, query.step), run)
    _observe(request, "summary", started, row_count)
    return json_response(body, headers=_declaration_headers(query))


def _window_param(params: Mapping[str, str], request: web.Request) -> Window:
    text = params.get("window")
    if text is None or not text.strip():
        raise InvalidParameter("window", text or "", WINDOW_REQUIRED)
    return parse_window(text.strip(), now=_now(), utc_offset=request.app[SETTINGS_KEY].utc_offset)


def _limit(text: str | None) -> int:
    if text is None or text == "":
        return 100
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise InvalidParameter("limit", text, "a non-negative integer (0 = no limit)")
    return value


async def handle_autocomplete(request: web.Request) -> web.Response:
    """`/allocation/autocomplete`: distinct values of a field in the window (UI filter boxes)."""
    params = _params(request)
    window = _window_param(params, request)
    field = params.get("field", "")
    label_key = None
    for prefix in ("label", "annotation"):
        if field.startswith(prefix + "[") and field.endswith("]") and len(field) > len(prefix) + 2:
            label_key = (prefix, field[len(prefix) + 1 : -1])
    if label_key is None and field not in (*AUTOCOMPLETE_FIELDS[:9], "annotation"):
        raise InvalidParameter("field", field, ", ".join(AUTOCOMPLETE_FIELDS))
    search = params.get("search", "").lower()
    limit = _limit(params.get("limit"))
    settings = request.app[SETTINGS_KEY]
    if label_key is not None and not settings.policy.permits(label_key[1]):
        raise InvalidParameter("field", field, settings.policy.accepted(label_key[1]))
    data = settings.policy.apply(
        await request.app[SOURCE_KEY].cluster_data(window, resolution_seconds=300)
    )
    readable = await _auth(request).readable(_caller(request), {p.namespace for p in data.pods})
    values = _autocomplete_values(data, window, field, label_key, readable)
    matches = sorted(v for v in values if v and search in v.lower())
    if limit:
        matches = matches[:limit]
    return json_response(orjson.dumps({"code": 200, "data": matches}))


def _autocomplete_values(
    data: Any,
    window: Window,
    field: str,
    label_key: tuple[str, str] | None,
    readable: frozenset[str],
) -> set[str]:
    u = data.usage
    running = np.flatnonzero((u.start < window.end_ts) & (u.end > window.start_ts))
    containers = {int(c) for c in np.unique(u.container[running]).tolist()}
    values: set[str] = set()
    for c in containers:
        container = data.containers[c]
        pod = data.pods[container.pod]
        if pod.namespace not in readable:
            continue
        if label_key is not None:
            source = pod.labels if label_key[0] == "label" else pod.annotations
            value = source.get(sanitize_key(label_key[1]))
            if value:
                values.add(value)
            continue
        match field:
            case "cluster":
                values.add(pod.cluster)
            case "node":
                values.add(pod.node)
            case "namespace":
                values.add(pod.namespace)
            case "controllerKind":
                values.add(pod.controller_kind)
            case "controllerName":
                values.add(pod.controller_name)
            case "pod":
                values.add(pod.name)
            case "container":
                values.add(container.name)
            case "label":
                values.update(pod.labels)
            case "annotation":
                values.update(pod.annotations)
    return values


async def handle_assets(request: web.Request) -> web.Response:
    """`/assets`: one object of assets, or a list of them when several sets remain."""
    started = time.perf_counter()
    if not _caller(request).cluster_wide:
        raise Forbidden("assets need cluster-wide access to allocations")
    params = _params(request)
    window = _window_param(params, request)
    filter_text = params.get("filter") or ""
    parse_filter(filter_text, kind="asset")
    step = parse_duration(params["step"], parameter="step") if params.get("step") else None
    query = AssetQuery(
        window=window,
        step=step,
        accumulate=parse_accumulate(params.get("accumulate") or "true"),
        aggregate=parse_asset_aggregate(params.get("aggregate")),
        filter=filter_text,
    )
    row_count = 0

    async def compute() -> tuple[bytes, int]:
        nonlocal row_count
        sets: list[AssetSet] = await query_assets(request.app[SOURCE_KEY], query)
        row_count = sum(len(s.assets) for s in sets)
        data: Any = sets[0].to_json() if len(sets) == 1 else [s.to_json() for s in sets]
        return success_body(data), row_count

    key = "assets:" + query.model_dump_json()
    body = await _cached(request, key, covered_window(window, step), compute)
    _observe(request, "assets", started, row_count)
    return json_response(body)


async def handle_metrics(request: web.Request) -> web.Response:
    """Prometheus text exposition of the API's metrics and OpenCost's cost metrics."""
    if not request.app[SETTINGS_KEY].metrics_public and not _caller(request).cluster_wide:
        raise Forbidden("/metrics needs cluster-wide access to allocations")
    metrics = request.app[METRICS_KEY]
    now = _now()
    recent = Window(now - timedelta(hours=1), now)
    try:
        metrics.costs.snapshot = await request.app[SOURCE_KEY].cluster_data(
            recent, resolution_seconds=60
        )
    except SourceUnavailable as error:
        log.warning(
            "cost metrics stale: source unavailable", extra={"context": {"reason": error.reason}}
        )
    body = generate_latest(metrics.registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


CLUSTER_SCOPE = "_cluster"


async def handle_report(request: web.Request) -> web.Response:
    """`/reports/{namespace}/{name}`: a report's latest rows from the operator's ConfigMaps.

    ClusterCostReports are under the namespace `_cluster` (their ConfigMaps live in the
    operator's namespace).
    """
    namespace, name = request.match_info["namespace"], request.match_info["name"]
    cm_namespace = request.app[SETTINGS_KEY].operator_namespace
    caller = _caller(request)
    if namespace != CLUSTER_SCOPE:
        cm_namespace = namespace
        if namespace not in await _auth(request).readable(caller, [namespace]):
            raise Forbidden("not allowed to read this report")
    elif not caller.cluster_wide:
        raise Forbidden("cluster reports need cluster-wide access to allocations")
    reader = request.app[REPORTS_KEY]
    if reader is None:
        message = "reports are served only in a cluster: no Kubernetes API is configured"
        return json_response(error_body(404, message), status=404)
    assert isinstance(reader, ConfigMapReader)
    first = await reader.get_configmap(cm_namespace, configmap_name(name))
    if first is None:
        message = f"no result for report {namespace}/{name} yet"
        return json_response(error_body(404, message), status=404)
    data = first.get("data") or {}
    count = int(str(data.get("part", "1/1")).split("/")[1])
    parts = [first]
    for index in range(1, count):
        part = await reader.get_configmap(cm_namespace, configmap_name(name, index))
        if part is None:
            raise SourceUnavailable(f"report {namespace}/{name} part {index + 1} is missing")
        parts.append(part)
    rows: list[Any] = []
    for part in parts:
        rows.extend(orjson.loads((part.get("data") or {}).get("rows.json", "[]")))
    body = {
        "report": f"{namespace}/{name}",
        "parts": count,
        "summary": orjson.loads(data.get("summary.json", "{}")),
        "rows": rows,
    }
    return json_response(success_body(body))


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


@web.middleware
async def errors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Map bad input to 400 and source failures to 503, in OpenCost's JSON envelope."""
    try:
        return await handler(request)
    except InvalidParameter as error:
        return json_response(error_body(400, error.message), status=400)
    except SourceUnavailable as error:
        return json_response(
            error_body(503, f"source unavailable: {error.reason}"),
            status=503,
            headers={"Retry-After": str(error.retry_after_seconds)},
        )
    except Unauthenticated as error:
        return json_response(
            error_body(401, f"unauthenticated: {error}"),
            status=401,
            headers={"WWW-Authenticate": 'Bearer realm="costreport"'},
        )
    except Forbidden as error:
        return json_response(error_body(403, f"forbidden: {error}"), status=403)
    except TooManyRequests as error:
        return json_response(
            error_body(429, f"too many requests: {error}"),
            status=429,
            headers={"Retry-After": str(error.retry_after_seconds)},
        )
    except TimeoutError:
        seconds = request.app[SETTINGS_KEY].request_timeout_seconds
        return json_response(
            error_body(504, f"the request took longer than the {seconds:g} s server limit"),
            status=504,
        )
    except web.HTTPException as error:
        if error.status >= 400:
            return json_response(error_body(error.status, error.reason), status=error.status)
        raise
    except Exception:
        log.exception("internal error", extra={"context": {"path": request.path}})
        return json_response(error_body(500, "internal error; see the server log"), status=500)


@web.middleware
async def guard_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Authenticate, apply per-client limits and the per-request timeout."""
    settings = request.app[SETTINGS_KEY]
    if len(request.query_string) > settings.max_query_length:
        message = f"the query string is longer than {settings.max_query_length} characters"
        return json_response(error_body(414, message), status=414)
    if request.path in OPEN_PATHS or request.method == "OPTIONS":
        return await handler(request)
    caller = await _auth(request).authenticate(request.headers.get("Authorization"))
    request[CALLER_KEY] = caller
    client = caller.user if caller is not ANONYMOUS else (request.remote or "unknown")
    async with request.app[LIMITER_KEY].slot(client):
        return await asyncio.wait_for(handler(request), settings.request_timeout_seconds)


@web.middleware
async def access_log_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The audit line: who, what (path, normalised query), the decision, status and rows."""
    request_id = request.headers.get("X-Request-Id") or uuid.uuid4().hex[:16]
    started = time.perf_counter()
    response = await handler(request)
    response.headers["X-Request-Id"] = request_id
    if request.path not in ("/healthz", "/readyz"):
        status = response.status
        decision = {401: "unauthenticated", 403: "denied", 429: "throttled"}.get(
            status, "allowed" if status < 400 else "rejected" if status < 500 else "failed"
        )
        caller = request.get(CALLER_KEY)
        audit.info(
            "request",
            extra={
                "context": {
                    "request_id": request_id,
                    "user": caller.label if caller else None,
                    "decision": decision,
                    "method": request.method,
                    "path": request.path,
                    "query": "&".join(f"{k}={v}" for k, v in sorted(request.query.items())),
                    "status": status,
                    "ms": round((time.perf_counter() - started) * 1000, 2),
                    "rows": request.get(ROWS_KEY),
                }
            },
        )
    return response


def cors_middleware_factory(enabled: bool) -> Any:
    """Allow every origin (OpenCost's default) unless disabled."""

    @web.middleware
    async def cors(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not enabled:
            return await handler(request)
        if request.method == "OPTIONS":
            response: web.StreamResponse = web.Response(status=204)
        else:
            response = await handler(request)
        response.headers["Access-Control-Allow-Origin"] = "*"
        response.headers["Access-Control-Allow-Methods"] = "GET, OPTIONS"
        response.headers["Access-Control-Allow-Headers"] = "Authorization, Content-Type"
        return response

    return cors


ROUTES: tuple[tuple[str, Handler], ...] = (
    ("/allocation", handle_allocation),
    ("/allocation/compute", handle_allocation),
    ("/allocation/summary", handle_summary),
    ("/allocation/compute/summary", handle_summary),
    ("/allocation/autocomplete", handle_autocomplete),
    ("/assets", handle_assets),
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


def create_app(
    source: ClusterSource,
    settings: ApiSettings | None = None,
    reports: ConfigMapReader | None = None,
    auth: KubernetesAuth | NoAuth | None = None,
) -> web.Application:
    """The API over a source (and the operator's ConfigMaps when in a cluster).

    Without `auth` every caller is an anonymous cluster-wide reader: only for loopback demos
    and tests; `costreport serve` refuses it on other addresses unless told it is insecure.
    """
    settings = settings or ApiSettings()
    app = web.Application(
        middlewares=[
            cors_middleware_factory(settings.cors),
            access_log_middleware,
            errors_middleware,
            guard_middleware,
        ]
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
    for path, handler in ROUTES:
        app.router.add_get(path, handler)
        app.router.add_get("/model" + path, handler)
    app.router.add_get("/metrics", handle_metrics)
    app.router.add_get("/healthz", handle_healthz)
    app.router.add_get("/readyz", handle_readyz)
    app.router.add_get("/openapi.json", handle_openapi)
    app.router.add_get("/reports/{namespace}/{name}", handle_report)
    app.cleanup_ctx.append(_start_readiness)
    return app
