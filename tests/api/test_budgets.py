"""`/budgets` scoped to the caller, the budget gauges on `/metrics`, and the CLI table."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer

from costreport.api.app import ApiSettings, create_app
from costreport.api.auth import KubernetesAuth
from costreport.cli.budgets import bar, render_budgets
from costreport.sources.kubernetes import KubeClient
from tests.api.conftest import ClientFactory, TinySource
from tests.api.fake_kube import FakeKubeApi
from tests.api.test_auth import bearer


def item(kind: str, name: str, namespace: str | None, spent: str, percent: float) -> dict[str, Any]:
    meta = {"name": name, **({"namespace": namespace} if namespace else {})}
    return {
        "kind": kind,
        "metadata": meta,
        "spec": {"amount": "100", "period": "month"},
        "status": {
            "spent": spent,
            "forecast": "150.00",
            "percentSpent": percent,
            "percentForecast": 150.0,
            "conditions": [{"type": "Ready", "status": "True", "message": "evaluated"}],
        },
    }


class Lister:
    async def list_budgets(self) -> list[dict[str, Any]]:
        return [
            item("CostBudget", "monthly", "a", "40.00", 40.0),
            item("CostBudget", "monthly", "b", "90.00", 90.0),
            item("ClusterCostBudget", "payments", None, "10.00", 10.0),
        ]

    async def get_configmap(self, namespace: str, name: str) -> dict[str, Any] | None:
        return None


async def test_budgets_are_scoped_and_exported_as_gauges(aiohttp_client: ClientFactory) -> None:
    fake = FakeKubeApi()
    server = TestServer(fake.app)
    await server.start_server()
    kube = KubeClient(f"http://127.0.0.1:{server.port}", ssl_context=False)
    app: web.Application = create_app(TinySource(), ApiSettings(), Lister(), KubernetesAuth(kube))  # type: ignore[arg-type]
    client = await aiohttp_client(app)
    try:
        admin = await (await client.get("/budgets", headers=bearer("admin-token"))).json()
        assert [(r["kind"], r["namespace"], r["name"]) for r in admin["data"]] == [
            ("CostBudget", "a", "monthly"),
            ("CostBudget", "b", "monthly"),
            ("ClusterCostBudget", None, "payments"),
        ]
        team = await (await client.get("/budgets", headers=bearer("team-a-token"))).json()
        assert [(r["namespace"], r["spent"]) for r in team["data"]] == [("a", "40.00")]
        metrics = await (await client.get("/metrics", headers=bearer("admin-token"))).text()
        assert (
            'costreport_budget_spent{budget="monthly",namespace="b",period="month"} 90.0' in metrics
        )
        assert (
            'costreport_budget_amount{budget="payments",namespace="",period="month"} 100.0'
            in metrics
        )
    finally:
        await kube.close()
        await server.close()


async def test_no_cluster_no_budgets(aiohttp_client: ClientFactory) -> None:
    client = await aiohttp_client(create_app(TinySource(), ApiSettings()))
    body = await (await client.get("/budgets")).json()
    assert body["data"] == [] and body["meta"]["warnings"] == [
        "budgets are served only in a cluster: no Kubernetes API is configured"
    ]


def test_the_cli_table_with_bars() -> None:
    assert bar(50, 75) == "█" * 10 + "░" * 5 + " " * 5 + "|"
    assert bar(120, 150) == "█" * 20 + "|" + "█" * 4 + "░" * 6
    rows = [
        {"kind": "CostBudget", "namespace": "a", "name": "monthly", "period": "month",
         "amount": "100", "currency": "USD", "spent": "40.00", "forecast": "150.00",
         "percentSpent": 40.0, "percentForecast": 150.0, "ready": "True", "partial": False},
    ]  # fmt: skip
    assert render_budgets(rows).splitlines() == [
        "NAMESPACE  NAME     PERIOD  BUDGET   SPENT      FORECAST    %     SPEND / FORECAST"
        + " " * 17
        + "READY",
        "a          monthly  month   100 USD  40.00 USD  150.00 USD  40.0  "
        + "█" * 8
        + "░" * 12
        + "|"
        + "░" * 10
        + "  True",
    ]
    assert render_budgets([]) == "no budgets"
