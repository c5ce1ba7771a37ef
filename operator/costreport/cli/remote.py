"""The CLI against a running costreport (or OpenCost: same paths): `--api URL`.

Answers are read back into the same result objects local mode computes, so the output is the
same. A bearer token comes from `--token-file` or `COSTREPORT_TOKEN` (a service account token,
or `kubectl create token`); every call has a timeout; HTTP errors become the server's own JSON
message.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import orjson

from costreport.model.allocation import AllocationSetRange
from costreport.model.allocation_json import from_json
from costreport.model.errors import InvalidParameter, SourceUnavailable

TIMEOUT_SECONDS = 120.0
MAX_BODY = 256 << 20
"""Largest answer read (bytes)."""


def check_api_url(url: str) -> str:
    """The API's base URL, validated."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidParameter("api", url, "an http:// or https:// URL, e.g. http://127.0.0.1:9003")
    return url.rstrip("/")


def token(token_file: str | None) -> str | None:
    """The bearer token: `--token-file`, else `COSTREPORT_TOKEN`, else none."""
    if token_file:
        try:
            return Path(token_file).read_text().strip()
        except OSError as error:
            raise InvalidParameter(
                "token-file", token_file, f"a readable file ({error.strerror})"
            ) from None
    return os.environ.get("COSTREPORT_TOKEN") or None


def bearer_for(args: Any) -> str | None:
    """The token a remote command sends: the kubeconfig user's with `--kube` (none through
    the port-forward listener), else `--token-file`/`COSTREPORT_TOKEN`."""
    if getattr(args, "kube", False):
        found: str | None = getattr(args, "kube_bearer", None)
        return found
    return token(getattr(args, "token_file", None))


async def get_json(api: str, path: str, params: Mapping[str, str], bearer: str | None) -> Any:
    """GET a JSON answer; 4xx is the server's message (exit 2), others a source error (3)."""
    headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
    timeout = aiohttp.ClientTimeout(total=TIMEOUT_SECONDS)
    url = check_api_url(api) + path
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.get(url, params=dict(params), headers=headers) as response,
        ):
            body = await response.content.read(MAX_BODY + 1)
            status = response.status
    except (aiohttp.ClientError, TimeoutError) as error:
        raise SourceUnavailable(f"{url}: {type(error).__name__}: {error}") from None
    if len(body) > MAX_BODY:
        raise SourceUnavailable(f"{url}: answer larger than {MAX_BODY} bytes")
    try:
        decoded = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise SourceUnavailable(f"{url}: HTTP {status}, not JSON: {body[:200]!r}") from None
    if 400 <= status < 500:
        message = decoded.get("message") if isinstance(decoded, dict) else None
        raise InvalidParameter(
            "api", path, f"the server answered {status}: {message or body[:200]!r}"
        )
    if status >= 500:
        message = decoded.get("message") if isinstance(decoded, dict) else None
        raise SourceUnavailable(f"{url}: HTTP {status}: {message or ''}")
    return decoded


async def remote_allocations(
    api: str, params: Mapping[str, str], bearer: str | None
) -> AllocationSetRange:
    """`/allocation/compute` of a remote server as a result object."""
    body = await get_json(api, "/allocation/compute", params, bearer)
    if not isinstance(body, dict) or not isinstance(body.get("data"), list):
        raise SourceUnavailable(f"{api}: not an allocation answer")
    try:
        return from_json(body["data"], body.get("meta") or {})
    except (ValueError, TypeError) as error:
        raise SourceUnavailable(f"{api}: unreadable allocation answer: {error}") from None
