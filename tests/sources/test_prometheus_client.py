"""The Prometheus HTTP client: credentials, headers, retries on 5xx only."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from costreport.model.errors import SourceUnavailable
from costreport.sources.prometheus import PrometheusClient, PrometheusConfig


class Fake:
    def __init__(self, statuses: list[int]) -> None:
        self.statuses = statuses
        self.seen: list[dict[str, str]] = []
        self.app = web.Application()
        self.app.router.add_post("/api/v1/query", self.query)

    async def query(self, request: web.Request) -> web.Response:
        self.seen.append(dict(request.headers))
        status = self.statuses.pop(0) if self.statuses else 200
        if status != 200:
            return web.Response(status=status, text="overloaded")
        body: dict[str, Any] = {
            "status": "success",
            "data": {"resultType": "vector", "result": [{"metric": {"a": "b"}, "value": [0, "4"]}]},
        }
        return web.json_response(body)


async def client_for(fake: Fake, **options: Any) -> tuple[PrometheusClient, TestServer]:
    server = TestServer(fake.app)
    await server.start_server()
    config = PrometheusConfig(f"http://127.0.0.1:{server.port}", retries=2, **options)
    return PrometheusClient(config), server


async def test_bearer_token_and_extra_headers() -> None:
    fake = Fake([])
    client, server = await client_for(fake, bearer_token="t0k", headers={"X-Scope-OrgID": "acme"})
    assert await client.query("up", 0) == [({"a": "b"}, 4.0)]
    assert fake.seen[0]["Authorization"] == "Bearer t0k"
    assert fake.seen[0]["X-Scope-OrgID"] == "acme"
    await client.close()
    await server.close()


async def test_basic_auth() -> None:
    fake = Fake([])
    client, server = await client_for(fake, basic_auth=("u", "p"))
    await client.query("up", 0)
    assert fake.seen[0]["Authorization"] == "Basic dTpw"
    await client.close()
    await server.close()


async def test_5xx_is_retried_and_4xx_is_not() -> None:
    fake = Fake([503, 502])
    client, server = await client_for(fake)
    assert await client.query("up", 0) == [({"a": "b"}, 4.0)]
    assert len(fake.seen) == 3 and client.queries == 3
    fake.statuses = [400]
    with pytest.raises(SourceUnavailable, match=r"prometheus rejected a query: .* HTTP 400"):
        await client.query("up{", 0)
    assert len(fake.seen) == 4
    fake.statuses = [503, 503, 503]
    with pytest.raises(
        SourceUnavailable, match=r"prometheus unavailable after retries: .* HTTP 503"
    ):
        await client.query("up", 0)
    await client.close()
    await server.close()


def test_a_client_can_be_used_from_one_event_loop_after_another() -> None:
    import asyncio

    from costreport.model.errors import SourceUnavailable

    client = PrometheusClient(PrometheusConfig("http://127.0.0.1:1", retries=0, timeout_seconds=2))

    async def once() -> None:
        try:  # more queries than the concurrency bound, so some wait on the semaphore
            await asyncio.gather(*(client.query("up", 0.0) for _ in range(20)))
        finally:
            await client.close()

    for _ in range(2):  # the second loop used to fail: "bound to a different event loop"
        with pytest.raises(SourceUnavailable, match="prometheus unavailable after retries"):
            asyncio.run(once())
