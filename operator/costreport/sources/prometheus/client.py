"""The Prometheus HTTP API client: bounded concurrency, timeouts, retries on 5xx only."""

from __future__ import annotations

import asyncio
import base64
import logging
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson

from costreport.model.errors import SourceUnavailable

log = logging.getLogger("costreport.prometheus")


@dataclass(frozen=True, slots=True)
class PrometheusConfig:
    """How to reach Prometheus and read its series."""

    url: str
    cluster_label: str = "cluster_id"
    default_cluster: str = "default-cluster"
    bearer_token: str | None = None
    basic_auth: tuple[str, str] | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    ca_file: str | None = None
    timeout_seconds: float = 60.0
    concurrency: int = 4
    retries: int = 3
    scrape_interval_seconds: float = 60.0


Sample = tuple[dict[str, str], float]
Series = tuple[dict[str, str], list[tuple[float, float]]]


class PrometheusClient:
    """The Prometheus HTTP API with bounded concurrency, timeouts and retries on 5xx only."""

    def __init__(self, config: PrometheusConfig) -> None:
        self.config = config
        self._semaphores: dict[int, asyncio.Semaphore] = {}
        self.queries = 0
        self._session: aiohttp.ClientSession | None = None
        headers = dict(config.headers)
        if config.bearer_token:
            headers["Authorization"] = f"Bearer {config.bearer_token}"
        self._headers = headers
        if config.basic_auth:
            pair = ":".join(config.basic_auth).encode()
            headers["Authorization"] = "Basic " + base64.b64encode(pair).decode()
        self._ssl: ssl.SSLContext | bool = True
        if config.ca_file:
            self._ssl = ssl.create_default_context(cafile=config.ca_file)

    def semaphore(self) -> asyncio.Semaphore:
        """The concurrency bound of the running event loop (a client may outlive a loop)."""
        loop = id(asyncio.get_running_loop())
        if loop not in self._semaphores:
            self._semaphores = {loop: asyncio.Semaphore(self.config.concurrency)}
        return self._semaphores[loop]

    async def _post(self, path: str, form: Mapping[str, str]) -> Any:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.config.timeout_seconds),
                headers=self._headers,
            )
        url = self.config.url.rstrip("/") + path
        delay = 0.5
        for attempt in range(self.config.retries + 1):
            async with self.semaphore():
                self.queries += 1
                try:
                    async with self._session.post(url, data=form, ssl=self._ssl) as response:
                        body = await response.read()
                        status = response.status
                except (TimeoutError, aiohttp.ClientConnectionError) as error:
                    reason = f"{url}: {type(error).__name__} {error}".strip()
                    status, body = 0, b""
                else:
                    reason = f"{url}: HTTP {status} {body[:300].decode(errors='replace')}"
            if status == 200:
                payload = orjson.loads(body)
                if payload.get("status") != "success":
                    raise SourceUnavailable(f"prometheus error: {payload.get('error')}")
                return payload["data"]
            if 400 <= status < 500:
                raise SourceUnavailable(f"prometheus rejected a query: {reason}")
            if attempt < self.config.retries:
                await asyncio.sleep(delay)
                delay *= 2
        raise SourceUnavailable(f"prometheus unavailable after retries: {reason}")

    async def query(self, expr: str, at: float) -> list[Sample]:
        """An instant query: (labels, value) per series."""
        data = await self._post("/api/v1/query", {"query": expr, "time": f"{at:.3f}"})
        return [(r["metric"], float(r["value"][1])) for r in data["result"]]

    async def query_range(self, expr: str, start: float, end: float, step: float) -> list[Series]:
        """A range query: (labels, [(t, value)]) per series."""
        form = {"query": expr, "start": f"{start:.3f}", "end": f"{end:.3f}", "step": f"{step:.3f}"}
        data = await self._post("/api/v1/query_range", form)
        return [
            (r["metric"], [(float(t), float(v)) for t, v in r["values"]]) for r in data["result"]
        ]

    async def close(self) -> None:
        """Close the HTTP session."""
        if self._session is not None:
            await self._session.close()
            self._session = None
