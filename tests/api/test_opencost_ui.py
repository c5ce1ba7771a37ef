"""The exact requests the OpenCost UI sends, against the sample cluster: 2xx, non-empty data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

COMPUTE = "/model/allocation/compute?window=7d&aggregate=namespace&includeIdle=true"


async def ok_json(client: TestClient, url: str) -> dict[str, Any]:
    response = await client.get(url)
    assert response.status == 200, await response.text()
    body: dict[str, Any] = await response.json()
    return body


@pytest.mark.parametrize("accumulate", ["day", "false", "true"])
async def test_overview_requests(sample_client: TestClient, accumulate: str) -> None:
    body = await ok_json(sample_client, f"{COMPUTE}&accumulate={accumulate}")
    sets = body["data"]
    assert sets and any(sets)
    expected_sets = {"true": 1, "false": 1}.get(accumulate)
    if expected_sets:
        assert len(sets) == expected_sets
    else:
        assert len(sets) == 7  # one per day of the 7-day window
    assert "kube-system" in sets[-1] or "kube-system" in sets[0]
    assert "__idle__" in sets[0]


async def test_absolute_day_with_metrics_parameter(sample_client: TestClient) -> None:
    # The UI's literal example is 2026-11-21; yesterday keeps it inside the sample's 30 days.
    day = (datetime.now(tz=UTC) - timedelta(days=1)).strftime("%Y-%m-%d")
    url = (
        f"/model/allocation/compute?window={day}T00:00:00Z,{day}T23:59:59Z"
        "&aggregate=namespace&includeIdle=true&metrics=totalCost&accumulate=day"
    )
    body = await ok_json(sample_client, url)
    assert len(body["data"]) == 1 and body["data"][0]


@pytest.mark.parametrize(
    "joined",
    [
        "namespace%3A%22team-a%22%2BcontrollerKind%3A%22deployment%22",
        "namespace%3A%22team-a%22%20controllerKind%3A%22deployment%22",
        'namespace:"team-a"+controllerKind:"deployment"',
    ],
    ids=["encoded-plus", "space", "raw-plus-decoded-to-space"],
)
async def test_drill_down_filter_means_and(sample_client: TestClient, joined: str) -> None:
    url = (
        f"/model/allocation/compute?window=7d&aggregate=controller&accumulate=true&filter={joined}"
    )
    body = await ok_json(sample_client, url)
    rows = body["data"][0]
    assert rows
    assert all(name.startswith("deployment:") for name in rows), sorted(rows)
    assert all(row["properties"]["namespace"] == "team-a" for row in rows.values())


async def test_autocomplete_namespace_search(sample_client: TestClient) -> None:
    url = "/model/allocation/autocomplete?window=7d&field=namespace&limit=25&search=ku"
    body = await ok_json(sample_client, url)
    assert body == {"code": 200, "data": ["kube-system"]}


async def test_assets_by_type(sample_client: TestClient) -> None:
    url = "/model/assets?window=7d&aggregate=assetType&includeIdle=true&accumulate=true&step=1d"
    body = await ok_json(sample_client, url)
    assert set(body["data"]) == {"Node", "Disk", "LoadBalancer", "ClusterManagement"}
    assert all(asset["totalCost"] > 0 for asset in body["data"].values())
