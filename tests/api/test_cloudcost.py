"""The cloud-cost endpoints over a ledger with a FOCUS bill: OpenCost's shapes, exactly."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient

from costreport.api.app import ApiSettings, create_app
from costreport.sources.billing.service import CloudCosts
from costreport.sources.billing.store import BillingStore
from costreport.sources.ledger import LedgerStore
from tests.api.conftest import ClientFactory, TinySource
from tests.sources.billing.test_focus import HEADER, ROWS

NOW = datetime(2026, 11, 10, tzinfo=UTC)
WINDOW = "2026-11-01T00:00:00Z,2026-11-03T00:00:00Z"
DATADOG = (
    "2026-11-01T00:00:00Z,2026-11-02T00:00:00Z,3,3,4,Usage,Datadog,dd-1,Datadog APM,"
    "Management and Governance,{}\n"
)


@pytest.fixture
async def client(aiohttp_client: ClientFactory, tmp_path: Path) -> TestClient:
    bills = tmp_path / "bills"
    bills.mkdir()
    (bills / "aws.csv").write_text(HEADER + ROWS + DATADOG)
    store = BillingStore(LedgerStore(str(tmp_path / "ledger")))
    service = CloudCosts(store, str(bills))
    assert (await service.refresh()) is not None
    app = create_app(TinySource(), ApiSettings(clock=lambda: NOW), cloud_costs=service)
    return await aiohttp_client(app)


async def test_totals_table_and_graph(client: TestClient) -> None:
    totals = await (await client.get(f"/cloudCost/view/totals?window={WINDOW}")).json()
    # EC2 usage 7.2 + savings plan 0 + the credit's two days in this 30-day period: -5.5 × 2/30.
    assert totals == {
        "code": 200,
        "data": {
            "numResults": 3,
            "combined": {
                "name": "Totals",
                "labels": None,
                "kubernetesPercent": 0.0,
                "cost": 6.83333333333,
            },
        },
    }
    table = await (
        await client.get(f"/model/cloudCost/view/table?window={WINDOW}&aggregate=service")
    ).json()
    assert table["data"] == [
        {"name": "Amazon EC2", "labels": {}, "kubernetesPercent": 0.0, "cost": 6.83333333333},
        {"name": "Savings Plans", "labels": {}, "kubernetesPercent": 0.0, "cost": 0.0},
    ]
    csv = await client.get(f"/cloudCost/view/table?window={WINDOW}&aggregate=service&format=csv")
    assert csv.headers["Content-Type"].startswith("text/csv")
    assert (await csv.text()).splitlines() == [
        "Name,K8s Utilization,Total,Window",
        'Amazon EC2,0.000,6.833,"2026-11-01T00:00:00Z,2026-11-03T00:00:00Z"',
        'Savings Plans,0.000,0.000,"2026-11-01T00:00:00Z,2026-11-03T00:00:00Z"',
    ]
    graph = await (
        await client.get(
            f"/cloudCost/view/graph?window={WINDOW}&aggregate=service&costMetric=ListCost"
        )
    ).json()
    assert graph["data"][0]["items"] == [
        {"name": "Amazon EC2", "value": 10.0},
        {"name": "Savings Plans", "value": 0.0},
    ]


async def test_cloud_cost_sets_and_status(client: TestClient) -> None:
    body = await (
        await client.get(f"/cloudCost?window={WINDOW}&aggregate=providerID&accumulate=true")
    ).json()
    [only] = body["data"]["sets"]
    assert sorted(only["cloudCosts"]) == ["__unallocated__", "i-1", "sp-1"]
    assert only["cloudCosts"]["sp-1"]["invoicedCost"] == {"cost": 7.2, "kubernetesPercent": 0.0}
    assert only["cloudCosts"]["i-1"]["amortizedNetCost"]["cost"] == 7.2
    assert body["data"]["window"] == {
        "start": "2026-11-01T00:00:00Z",
        "end": "2026-11-03T00:00:00Z",
    }
    [status] = (await (await client.get("/cloudCost/status")).json())["data"]
    assert (status["key"], status["valid"], status["provider"]) == ("aws.csv", True, "FOCUS 1.0")


async def test_custom_costs_are_the_lines_of_providers_that_are_not_clouds(
    client: TestClient,
) -> None:
    total = await (await client.get(f"/customCost/total?window={WINDOW}&aggregate=domain")).json()
    assert total["data"]["totalCost"] == 3.0
    assert [(c["aggregate"], c["cost"], c["cost_type"]) for c in total["data"]["customCosts"]] == [
        ("Datadog", 3.0, "billed")
    ]
    series = await (
        await client.get(f"/customCost/timeseries?window={WINDOW}&costType=list")
    ).json()
    assert [t["totalCost"] for t in series["data"]["timeseries"]] == [4.0, 0.0]


async def test_bad_input_and_no_bills(client: TestClient, aiohttp_client: ClientFactory) -> None:
    bad = await client.get(f"/cloudCost/view/table?window={WINDOW}&sortByOrder=sideways")
    assert bad.status == 400
    assert (await bad.json())["message"] == (
        "invalid 'sortByOrder' parameter: 'sideways'; accepted: asc or desc"
    )
    empty = await aiohttp_client(create_app(TinySource(), ApiSettings(clock=lambda: NOW)))
    for path in ("/cloudCost/view/table", "/cloudCost/view/graph", "/cloudCost/status"):
        response = await empty.get(f"{path}?window={WINDOW}")
        assert response.status == 200 and (await response.json())["data"] == [], path
    totals = await (await empty.get(f"/cloudCost/view/totals?window={WINDOW}")).json()
    assert totals == {"code": 200, "data": None}
