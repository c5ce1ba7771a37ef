"""`/allocation`: exact numbers, envelope, declarations, caching (tiny cluster)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from costreport.api.app import CACHE_KEY
from tests.api.conftest import TINY_DAY

SWAGGER = Path(__file__).resolve().parents[3] / "shared" / "opencost" / "swagger.json"


async def get_json(client: TestClient, url: str, status: int = 200) -> dict[str, Any]:
    response = await client.get(url)
    assert response.status == status, await response.text()
    assert response.headers["Content-Type"].startswith("application/json")
    body: dict[str, Any] = await response.json()
    return body


@pytest.mark.parametrize("prefix", ["", "/model"])
@pytest.mark.parametrize("path", ["/allocation", "/allocation/compute"])
async def test_namespace_costs_in_the_opencost_envelope(
    tiny_client: TestClient, prefix: str, path: str
) -> None:
    body = await get_json(tiny_client, f"{prefix}{path}?window={TINY_DAY}&aggregate=namespace")
    assert list(body) == ["code", "status", "data", "meta"]
    assert body["code"] == 200 and body["status"] == "success"
    [day] = body["data"]
    assert {k: round(v["totalCost"], 5) for k, v in day.items()} == {
        "a": 2.4,
        "b": 14.55,
        "c": 0.12,
        "__unmounted__": 0.24,
    }
    assert body["meta"]["window"] == {
        "start": "2026-11-01T00:00:00Z",
        "end": "2026-11-02T00:00:00Z",
    }


async def test_rows_carry_every_field_of_opencosts_published_example(
    tiny_client: TestClient,
) -> None:
    if not SWAGGER.exists():
        pytest.skip(f"OpenCost's swagger.json is not beside the project at {SWAGGER}")
    swagger = json.loads(SWAGGER.read_text())
    example = json.loads(
        swagger["paths"]["/allocation/compute"]["get"]["responses"]["200"]["content"][
            "application/json"
        ]["examples"]["0"]["value"]
    )
    expected_keys = set(next(iter(example["data"][0].values())))
    body = await get_json(tiny_client, f"/allocation?window={TINY_DAY}")
    for row in body["data"][0].values():
        if "rawAllocationOnly" in row:
            assert expected_keys <= set(row)
        else:
            assert expected_keys - {"rawAllocationOnly"} <= set(row)


async def test_idle_and_sharing_are_declared_in_meta_and_headers(tiny_client: TestClient) -> None:
    response = await tiny_client.get(f"/allocation?window={TINY_DAY}&aggregate=namespace")
    body = await response.json()
    assert body["meta"]["idle"] == {"mode": "excluded", "byNode": False}
    assert body["meta"]["sharing"] == {
        "applied": False,
        "namespaces": [],
        "labels": [],
        "monthlyCost": 0.0,
        "split": None,
    }
    assert response.headers["X-Costreport-Idle"] == "excluded; by-node=false"
    assert response.headers["X-Costreport-Shared-Costs"] == "none"

    url = (
        f"/allocation?window={TINY_DAY}&aggregate=namespace&includeIdle=true&shareIdle=true"
        "&idleByNode=true&shareNamespaces=b&shareCost=73&shareSplit=even"
    )
    response = await tiny_client.get(url)
    body = await response.json()
    assert body["meta"]["idle"] == {"mode": "shared-weighted", "byNode": True}
    assert body["meta"]["sharing"]["applied"] is True
    assert response.headers["X-Costreport-Idle"] == "shared-weighted; by-node=true"
    assert response.headers["X-Costreport-Shared-Costs"] == (
        "namespaces=b; monthly-cost=73; split=even"
    )
    response = await tiny_client.get(f"/allocation?window={TINY_DAY}&includeIdle=true")
    assert response.headers["X-Costreport-Idle"] == "separate; by-node=false"


async def test_a_repeated_query_is_served_from_the_cache(tiny_client: TestClient) -> None:
    cache = tiny_client.app[CACHE_KEY]
    url = f"/allocation?window={TINY_DAY}&aggregate=namespace&includeIdle=true"
    first = await (await tiny_client.get(url)).read()
    second = await (await tiny_client.get(url)).read()
    assert first == second
    assert cache.hits == 1
    # Same query spelled differently normalises to the same key.
    await tiny_client.get(
        "/allocation?aggregate=Namespace&includeIdle=1&window=1793491200,1793577600"
    )
    assert cache.hits == 2


async def test_summary_has_opencosts_shape(tiny_client: TestClient) -> None:
    body = await get_json(tiny_client, f"/allocation/summary?window={TINY_DAY}&aggregate=namespace")
    data = body["data"]
    assert list(data) == ["step", "sets", "window"]
    assert data["step"] == 86_400 * 10**9
    a = data["sets"][0]["allocations"]["a"]
    assert list(a)[:3] == ["name", "start", "end"]
    assert a["cpuCost"] == pytest.approx(1.2)
    assert a["efficiency"] == pytest.approx(0.5)


async def test_cors_allows_every_origin(tiny_client: TestClient) -> None:
    response = await tiny_client.get(f"/allocation?window={TINY_DAY}")
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    preflight = await tiny_client.options("/allocation")
    assert preflight.status == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == "*"
