"""Middlewares: errors to JSON envelopes, authentication and limits, the access log, CORS."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from costreport.api.auth import (
    ANONYMOUS,
    Forbidden,
    Unauthenticated,
)
from costreport.api.common import error_body, json_response, request_auth
from costreport.api.limits import TooManyRequests
from costreport.api.settings import (
    CALLER_KEY,
    LIMITER_KEY,
    OPEN_PATHS,
    ROWS_KEY,
    SETTINGS_KEY,
)
from costreport.model.errors import InvalidParameter, SourceUnavailable

log = logging.getLogger("costreport.api")
audit = logging.getLogger("costreport.audit")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


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
    caller = await request_auth(request).authenticate(request.headers.get("Authorization"))
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
