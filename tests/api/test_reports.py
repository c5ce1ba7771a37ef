"""`/reports/{namespace}/{name}`: a report's rows reassembled from its ConfigMap parts."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient

from costreport.api.app import ApiSettings, create_app
from costreport.controller.outputs import build_configmaps
from tests.api.conftest import ClientFactory, TinySource
from tests.engine.helpers import run


class Reader:
    def __init__(self, configmaps: list[dict[str, Any]]) -> None:
        self.items = {(c["metadata"]["namespace"], c["metadata"]["name"]): c for c in configmaps}

    async def get_configmap(self, namespace: str, name: str) -> dict[str, Any] | None:
        return self.items.get((namespace, name))


def configmaps(kind: str, namespace: str, limit: int) -> list[dict[str, Any]]:
    return build_configmaps(
        report_kind=kind,
        report_name="daily",
        report_uid="u",
        namespace=namespace,
        result=run(),
        fmt="json",
        summary={"report": "daily"},
        limit=limit,
    )


async def client_with(aiohttp_client: ClientFactory, items: list[dict[str, Any]]) -> TestClient:
    app: web.Application = create_app(
        TinySource(), ApiSettings(operator_namespace="costreport"), Reader(items)
    )
    return await aiohttp_client(app)


async def test_a_report_split_in_parts_is_served_whole(aiohttp_client: ClientFactory) -> None:
    parts = configmaps("CostReport", "a", limit=3000)
    assert len(parts) > 1
    client = await client_with(aiohttp_client, parts)
    body = await (await client.get("/reports/a/daily")).json()
    assert body["data"]["parts"] == len(parts)
    assert len(body["data"]["rows"]) == 6
    assert body["data"]["summary"] == {"report": "daily"}


async def test_cluster_reports_live_in_the_operator_namespace(
    aiohttp_client: ClientFactory,
) -> None:
    client = await client_with(aiohttp_client, configmaps("ClusterCostReport", "costreport", 10**6))
    response = await client.get("/reports/_cluster/daily")
    assert response.status == 200
    missing = await client.get("/reports/b/daily")
    assert missing.status == 404
    assert (await missing.json())["message"] == "no result for report b/daily yet"


async def test_without_kubernetes_reports_are_404(tiny_client: TestClient) -> None:
    response = await tiny_client.get("/reports/a/daily")
    assert response.status == 404
    assert (await response.json())["message"] == (
        "reports are served only in a cluster: no Kubernetes API is configured"
    )
