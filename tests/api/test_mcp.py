"""MCP through the SDK's own client, over HTTP (scoped like the API) and stdio."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import httpx2
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

from costreport.api.app import ApiSettings, create_app
from costreport.api.auth import KubernetesAuth
from costreport.sources.kubernetes import KubeClient
from tests.api.conftest import TINY_DAY, TinySource
from tests.api.fake_kube import FakeKubeApi

TOOLS = ["allocation_costs", "assets", "budgets", "cloud_costs", "cost_change", "efficiency"]


def text(result: Any) -> str:
    return "\n".join(c.text for c in result.content)


async def test_every_tool_over_http() -> None:
    server = TestServer(create_app(TinySource(), ApiSettings(), with_mcp=True))
    await server.start_server()
    try:
        async with Client(f"http://127.0.0.1:{server.port}/mcp") as client:
            listed = await client.list_tools()
            assert sorted(t.name for t in listed.tools) == TOOLS
            assert all(t.description and t.input_schema for t in listed.tools)
            schema = next(t for t in listed.tools if t.name == "allocation_costs").input_schema
            assert set(schema["properties"]) >= {"window", "aggregate", "filter", "include_idle"}
            costs = text(await client.call_tool("allocation_costs", {"window": TINY_DAY}))
            lines = costs.splitlines()
            assert lines[0].split() == ["NAME", "CPU", "RAM", "GPU", "PV", "TOTAL", "EFFICIENCY"]
            assert lines[3].split() == ["a", "1.20", "0.48", "0.00", "0.00", "2.40", "50%"]
            assert '"code":200' in costs  # the API's own JSON follows
            waste = text(
                await client.call_tool("efficiency", {"window": TINY_DAY, "aggregate": "pod"})
            )
            # web-1: CPU 1.20 at 50 % usage, RAM 0.48 at 50 %: 0.60 + 0.24 wasted.
            [web] = [line.split() for line in waste.splitlines() if line.startswith("web-1 ")]
            assert web == ["web-1", "50%", "50%", "2.40", "0.84"]
            change = text(
                await client.call_tool(
                    "cost_change",
                    {"before": "2026-10-31T00:00:00Z,2026-11-01T00:00:00Z", "after": TINY_DAY},
                )
            )
            [total] = [line.split() for line in change.splitlines() if line.startswith("TOTAL")]
            assert total == ["TOTAL", "0.00", "17.31", "+17.31"]  # no idle: 36.00 - 18.69
            assert text(await client.call_tool("budgets", {})).startswith("no budgets")
            assert text(await client.call_tool("cloud_costs", {"window": TINY_DAY})).startswith(
                "no bills"
            )
            assert "Node" in text(await client.call_tool("assets", {"window": TINY_DAY}))
    finally:
        await server.close()


async def test_a_tool_failure_says_why() -> None:
    server = TestServer(create_app(TinySource(), ApiSettings(), with_mcp=True))
    await server.start_server()
    try:
        async with Client(f"http://127.0.0.1:{server.port}/mcp") as client:
            bad = await client.call_tool("allocation_costs", {"window": "forever"})
    finally:
        await server.close()
    assert bad.is_error
    assert text(bad).startswith(
        "Error executing tool allocation_costs: the API answered 400: invalid 'window' "
        "parameter: 'forever'; accepted: "
    )


async def test_an_unreachable_api_is_a_tool_error_not_a_crash() -> None:
    from mcp.server.mcpserver.exceptions import ToolError

    from costreport.api.mcp import http_backend

    get = http_backend("http://127.0.0.1:9", None)  # nothing listens on the discard port
    with pytest.raises(ToolError) as refused:
        await get("/allocation", {"window": "1d"})
    assert str(refused.value).startswith("the costreport API did not answer: Cannot connect")


async def test_http_is_scoped_by_the_callers_token() -> None:
    fake = FakeKubeApi()
    kube_server = TestServer(fake.app)
    await kube_server.start_server()
    kube = KubeClient(f"http://127.0.0.1:{kube_server.port}", ssl_context=False)
    app: web.Application = create_app(
        TinySource(), ApiSettings(), None, KubernetesAuth(kube), with_mcp=True
    )
    server = TestServer(app)
    await server.start_server()
    url = f"http://127.0.0.1:{server.port}/mcp"
    try:
        headers = {"Authorization": "Bearer team-a-token"}
        async with (
            httpx2.AsyncClient(headers=headers) as http,
            Client(streamable_http_client(url, http_client=http)) as client,
        ):
            costs = text(await client.call_tool("allocation_costs", {"window": TINY_DAY}))
        names = [line.split()[0] for line in costs.split("\n\n")[0].splitlines()[1:]]
        assert names == ["a"]  # a namespace viewer's session sees only its namespace
        with pytest.raises(Exception):  # noqa: B017 - the SDK raises its own transport error for 401
            async with Client(url) as client:
                await client.list_tools()
    finally:
        await server.close()
        await kube.close()
        await kube_server.close()


async def test_stdio(tmp_path: Path) -> None:
    params = StdioServerParameters(
        command=str(Path(sys.executable).parent / "costreport"),
        args=["mcp", "--source", "sample", "--scale", "0.3"],
        cwd=str(tmp_path),
    )
    async with Client(params) as client:
        listed = await client.list_tools()
        assert sorted(t.name for t in listed.tools) == TOOLS
        costs = text(await client.call_tool("allocation_costs", {"window": "7d"}))
        assert costs.startswith("NAME") and "kube-system" in costs
