"""MCP (Model Context Protocol) for AI clients: `/mcp` on the API port and `costreport mcp`.

Built with the official `mcp` SDK (`MCPServer`, streamable HTTP in stateless JSON mode and
stdio). Every tool is a thin adapter over the HTTP API: it asks the API with the caller's own
bearer token, so an MCP session is scoped exactly like `/allocation` — TokenReview and
SubjectAccessReview, a namespace viewer sees only their namespaces, no token is HTTP 401 (what
the SDK's clients treat as unauthorised). Results are a compact table plus the API's JSON.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import aiohttp
import orjson
from aiohttp import web

from costreport.model.errors import InvalidParameter

Backend = Callable[[str, Mapping[str, str]], Awaitable[Any]]
BACKEND: contextvars.ContextVar[Backend] = contextvars.ContextVar("costreport_mcp_backend")
MAX_BODY = 4 << 20
TIMEOUT = aiohttp.ClientTimeout(total=120)


def http_backend(base: str, authorization: str | None) -> Backend:
    """GET the API at `base` with the caller's `Authorization` header.

    What goes wrong is a `ToolError`, the SDK's deliberate tool failure, so the model reads the
    API's own message (`the API answered 400: invalid 'window' parameter: …`) instead of the
    SDK's generic "Error executing tool", and nothing is logged as a crash."""
    from mcp.server.mcpserver.exceptions import ToolError

    async def get(path: str, params: Mapping[str, str]) -> Any:
        headers = {"Authorization": authorization} if authorization else {}
        try:
            async with (
                aiohttp.ClientSession(timeout=TIMEOUT) as session,
                session.get(
                    base.rstrip("/") + path, params=dict(params), headers=headers, ssl=False
                ) as response,
            ):
                raw = await response.read()
                status = response.status
        except (aiohttp.ClientError, TimeoutError) as error:
            reason = str(error) or type(error).__name__
            raise ToolError(f"the costreport API did not answer: {reason}") from None
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            body = raw.decode("utf-8", "replace")
        if status >= 400:
            message = body.get("message") if isinstance(body, dict) else str(body)[:300]
            raise ToolError(f"the API answered {status}: {message}")
        return body

    return get


def _table(rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows
    )


def _rows(body: Any) -> list[tuple[str, dict[str, Any]]]:
    sets = body.get("data") or [] if isinstance(body, dict) else []
    out: list[tuple[str, dict[str, Any]]] = []
    for s in sets:
        out.extend(sorted(s.items(), key=lambda kv: -float(kv[1].get("totalCost") or 0)))
    return out


def _result(table: str, body: Any) -> str:
    return f"{table}\n\nJSON (as the API answers):\n{orjson.dumps(body).decode()}"


def build_mcp() -> Any:
    """The MCP server and its tools."""
    from mcp.server.mcpserver import MCPServer

    server = MCPServer(
        "costreport",
        instructions="Kubernetes costs from costreport: allocations by namespace, workload, label; "
        "assets; cloud bills; budgets; efficiency and waste; what changed between two windows. "
        "Windows use OpenCost's grammar: 7d, 24h, month, lastmonth, or 'RFC3339,RFC3339'.",
    )

    @server.tool(
        description="Cost allocation over a window, grouped by `aggregate` (namespace, "
        "controller, pod, label:team, …), with OpenCost's v2 `filter`, idle and sharing."
    )
    async def allocation_costs(
        window: str,
        aggregate: str = "namespace",
        filter: str = "",
        include_idle: bool = True,
        share_idle: bool = False,
        share_namespaces: str = "",
    ) -> str:
        params = {
            "window": window,
            "aggregate": aggregate,
            "accumulate": "true",
            "includeIdle": str(include_idle).lower(),
            "shareIdle": str(share_idle).lower(),
        }
        if filter:
            params["filter"] = filter
        if share_namespaces:
            params["shareNamespaces"] = share_namespaces
        body = await BACKEND.get()("/allocation/compute", params)
        rows = [["NAME", "CPU", "RAM", "GPU", "PV", "TOTAL", "EFFICIENCY"]]
        fields = ("cpuCost", "ramCost", "gpuCost", "pvCost", "totalCost")
        for name, r in _rows(body):
            costs = [f"{float(r.get(k) or 0):.2f}" for k in fields]
            rows.append([name or "(all)", *costs, f"{float(r.get('totalEfficiency') or 0):.0%}"])
        return _result(_table(rows), body)

    @server.tool(
        description="Assets (nodes, disks, load balancers, cluster management) over a "
        "window, grouped by `aggregate` (type, cluster, category, providerID, …)."
    )
    async def assets(window: str, aggregate: str = "type") -> str:
        body = await BACKEND.get()("/assets", {"window": window, "aggregate": aggregate})
        data = body.get("data") or {}
        items = data if isinstance(data, dict) else (data[0] if data else {})
        rows = [["NAME", "TOTAL"]] + [
            [k, f"{float(v.get('totalCost') or 0):.2f}"] for k, v in sorted(items.items())
        ]
        return _result(_table(rows), body)

    @server.tool(
        description="Cloud costs from the ingested FOCUS bills, grouped by `aggregate` "
        "(service, accountID, providerID, category, label:…); costMetric AmortizedNetCost "
        "by default."
    )
    async def cloud_costs(
        window: str, aggregate: str = "service", cost_metric: str = "AmortizedNetCost"
    ) -> str:
        params = {"window": window, "aggregate": aggregate, "costMetric": cost_metric}
        body = await BACKEND.get()("/cloudCost/view/table", params)
        rows = [["NAME", "COST", "KUBERNETES %"]] + [
            [
                str(r["name"]),
                f"{float(r.get('cost') or 0):.2f}",
                f"{float(r.get('kubernetesPercent') or 0):.0%}",
            ]
            for r in body.get("data") or []
        ]
        return _result(_table(rows) if len(rows) > 1 else "no bills for this window", body)

    @server.tool(
        description="CostBudgets and ClusterCostBudgets the caller may read, with spend "
        "and forecast of the current period."
    )
    async def budgets() -> str:
        body = await BACKEND.get()("/budgets", {})
        rows = [["BUDGET", "PERIOD", "AMOUNT", "SPENT", "FORECAST", "%"]]
        for r in body.get("data") or []:
            name = f"{r.get('namespace') or '(cluster)'}/{r.get('name')}"
            values = [r.get(k) for k in ("period", "amount", "spent", "forecast", "percentSpent")]
            rows.append([name, *("-" if v is None else str(v) for v in values)])
        return _result(_table(rows) if len(rows) > 1 else "no budgets", body)

    @server.tool(
        description="Efficiency and waste per workload: CPU and RAM usage against "
        "requests (real usage, not 100 % by default), and the dollars paid for requested "
        "but unused capacity at the allocation's own prices."
    )
    async def efficiency(
        window: str, aggregate: str = "namespace,controller", filter: str = ""
    ) -> str:
        params = {"window": window, "aggregate": aggregate, "accumulate": "true"}
        if filter:
            params["filter"] = filter
        body = await BACKEND.get()("/allocation/compute", params)
        rows = [["WORKLOAD", "CPU EFF", "RAM EFF", "COST", "WASTE"]]
        for name, r in _rows(body):
            if name.startswith("__"):
                continue
            cpu_eff, ram_eff = (
                float(r.get("cpuEfficiency") or 0),
                float(r.get("ramEfficiency") or 0),
            )
            waste = max(float(r.get("cpuCost") or 0) * (1 - cpu_eff), 0) + max(
                float(r.get("ramCost") or 0) * (1 - ram_eff), 0
            )
            rows.append(
                [
                    name,
                    f"{cpu_eff:.0%}",
                    f"{ram_eff:.0%}",
                    f"{float(r.get('totalCost') or 0):.2f}",
                    f"{waste:.2f}",
                ]
            )
        rows[1:] = sorted(rows[1:], key=lambda r: -float(r[4]))
        return _result(_table(rows), body)

    @server.tool(
        description="Why did cost change: the difference between two windows by "
        "`aggregate`, biggest contributors first."
    )
    async def cost_change(
        before: str, after: str, aggregate: str = "namespace", top: int = 10
    ) -> str:
        bodies = []
        totals: list[dict[str, float]] = []
        for window in (before, after):
            body = await BACKEND.get()(
                "/allocation/compute",
                {"window": window, "aggregate": aggregate, "accumulate": "true"},
            )
            bodies.append(body)
            totals.append({name: float(r.get("totalCost") or 0) for name, r in _rows(body)})
        names = set(totals[0]) | set(totals[1])
        changes = sorted(
            ((n, totals[0].get(n, 0.0), totals[1].get(n, 0.0)) for n in names),
            key=lambda c: -abs(c[2] - c[1]),
        )
        rows = [["NAME", "BEFORE", "AFTER", "CHANGE"]] + [
            [n, f"{a:.2f}", f"{b:.2f}", f"{b - a:+.2f}"] for n, a, b in changes[: max(1, top)]
        ]
        total = [sum(t.values()) for t in totals]
        rows.append(["TOTAL", f"{total[0]:.2f}", f"{total[1]:.2f}", f"{total[1] - total[0]:+.2f}"])
        return _result(_table(rows), {"before": bodies[0], "after": bodies[1]})

    return server


class McpEndpoint:
    """`/mcp` on the aiohttp app: the SDK's ASGI app behind a small ASGI bridge."""

    def __init__(self) -> None:
        from mcp.server.transport_security import TransportSecuritySettings

        self.server = build_mcp()
        self.asgi = self.server.streamable_http_app(
            stateless_http=True,
            json_response=True,
            max_request_body_size=MAX_BODY,
            transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
        )

    async def lifespan(self, app: web.Application) -> Any:
        """aiohttp cleanup context running the SDK's session manager in a task of its own
        (its task group must be entered and left by one task)."""
        ready, stop = asyncio.Event(), asyncio.Event()

        async def run() -> None:
            async with self.server.session_manager.run():
                ready.set()
                await stop.wait()

        task = asyncio.create_task(run())
        await ready.wait()
        yield
        stop.set()
        await task

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """Forward one HTTP request to the SDK with the caller's token as the tools' backend."""
        sockname = request.transport.get_extra_info("sockname") if request.transport else None
        port = sockname[1] if sockname else 9003
        scheme = "https" if request.secure else "http"
        backend = http_backend(f"{scheme}://127.0.0.1:{port}", request.headers.get("Authorization"))
        token = BACKEND.set(backend)
        try:
            return await self._asgi(request)
        finally:
            BACKEND.reset(token)

    async def _asgi(self, request: web.Request) -> web.StreamResponse:
        body = await request.content.read(MAX_BODY + 1)
        if len(body) > MAX_BODY:
            raise InvalidParameter("body", f"{len(body)} bytes", f"at most {MAX_BODY} bytes")
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": request.method,
            "scheme": "http",
            "path": "/mcp",
            "raw_path": b"/mcp",
            "root_path": "",
            "query_string": request.query_string.encode(),
            "headers": [(k.lower().encode(), v.encode()) for k, v in request.headers.items()],
            "client": (request.remote or "", 0),
            "server": ("127.0.0.1", 0),
        }
        sent = False
        response: web.StreamResponse | None = None

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return {"type": "http.disconnect"}

        async def send(message: Mapping[str, Any]) -> None:
            nonlocal response
            if message["type"] == "http.response.start":
                response = web.StreamResponse(status=int(message["status"]))
                for key, value in message.get("headers") or []:
                    name = key.decode()
                    if name.lower() not in ("content-length", "transfer-encoding"):
                        response.headers.add(name, value.decode())
                await response.prepare(request)
            elif message["type"] == "http.response.body" and response is not None:
                await response.write(message.get("body") or b"")

        await self.asgi(scope, receive, send)
        if response is None:
            return web.Response(status=500)
        await response.write_eof()
        return response
