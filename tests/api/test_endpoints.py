"""Autocomplete, assets, metrics and the OpenAPI document (tiny cluster)."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from costreport.api.openapi import build_openapi
from tests.api.conftest import TINY_DAY


@pytest.mark.parametrize(
    ("field", "search", "expected"),
    [
        ("namespace", "", ["a", "b", "c"]),
        ("namespace", "B", ["b"]),
        ("pod", "", ["cron-1", "db-0", "train", "web-1"]),
        ("controllerKind", "", ["deployment", "job", "statefulset"]),
        ("label", "", ["app", "team"]),
        ("label[app]", "", ["db", "web"]),
        ("annotation[team]", "", ["ml"]),
    ],
)
async def test_autocomplete(
    tiny_client: TestClient, field: str, search: str, expected: list[str]
) -> None:
    response = await tiny_client.get(
        "/allocation/autocomplete", params={"window": TINY_DAY, "field": field, "search": search}
    )
    assert await response.json() == {"code": 200, "data": expected}


async def test_autocomplete_rejects_unknown_fields_and_limits(tiny_client: TestClient) -> None:
    response = await tiny_client.get(f"/allocation/autocomplete?window={TINY_DAY}&field=owner")
    assert response.status == 400
    response = await tiny_client.get(
        f"/allocation/autocomplete?window={TINY_DAY}&field=pod&limit=2"
    )
    assert (await response.json())["data"] == ["cron-1", "db-0"]


async def test_assets_by_type_reconcile_with_hand_totals(tiny_client: TestClient) -> None:
    response = await tiny_client.get(f"/assets?window={TINY_DAY}&aggregate=type")
    data = (await response.json())["data"]
    assert {k: v["totalCost"] for k, v in data.items()} == {
        "Node": 34.8,
        "Disk": 0.48,
        "LoadBalancer": 0.72,
        "ClusterManagement": 2.4,
    }


async def test_unaggregated_asset_keys_and_node_fields(tiny_client: TestClient) -> None:
    response = await tiny_client.get(f"/assets?window={TINY_DAY}")
    data = (await response.json())["data"]
    node = data["custom/__undefined__/__undefined__/Compute/c1/Node/Kubernetes/i-n2/n2"]
    assert list(node)[:7] == ["type", "properties", "labels", "window", "start", "end", "minutes"]
    assert node["minutes"] == 720.0
    assert node["cpuCost"] == 2.4  # undiscounted: 2 cores · 12 h · $0.10
    assert node["discount"] == 0.5
    assert node["gpuCost"] == 24.0
    assert node["totalCost"] == 26.16  # (2.40 + 1.92) · 0.5 + 24
    assert list(node)[-1] == "totalCost"
    disk = data["custom/__undefined__/__undefined__/Storage/c1/Disk/Kubernetes/vol-1/pv1"]
    assert list(disk)[-5:] == [
        "totalCost",
        "storageClass",
        "volumeName",
        "claimName",
        "claimNamespace",
    ]
    assert disk["claimName"] == "data-db-0"


async def test_asset_filter_and_steps(tiny_client: TestClient) -> None:
    url = f"/assets?window={TINY_DAY}&filter=assetType%3A%22node%22&step=12h&accumulate=false"
    data = (await (await tiny_client.get(url)).json())["data"]
    assert isinstance(data, list) and len(data) == 2
    assert [len(s) for s in data] == [1, 2]  # n2 joins at 12:00


async def test_metrics_expose_latency_and_opencost_cost_series(tiny_client: TestClient) -> None:
    await tiny_client.get(f"/allocation?window={TINY_DAY}&aggregate=namespace&includeIdle=true")
    response = await tiny_client.get("/metrics")
    assert response.headers["Content-Type"].startswith("text/plain")
    text = await response.text()
    assert 'allocation_query_latency_seconds_count{endpoint="allocation"} 1.0' in text
    assert "allocation_query_latency_p95_ms " in text
    assert 'allocation_rows_returned_sum{endpoint="allocation"} 5.0' in text
    assert (
        'node_cpu_hourly_cost{arch="amd64",instance="n1",instance_type="",node="n1",'
        'provider_id="i-n1",region=""} 0.05' in text
    )
    assert 'node_gpu_hourly_cost{arch="amd64",instance="n2"' in text
    assert (
        'pv_hourly_cost{persistentvolume="pv1",provider_id="vol-1",volumename="pv1"} 0.001' in text
    )
    assert (
        'kubecost_load_balancer_cost{ingress_ip="34.1.2.3",namespace="a",service_name="web"} 0.03'
        in text
    )
    assert 'kubecost_cluster_management_cost{provisioner_name="c1"} 0.1' in text


async def test_cost_share_gauges_have_a_fixed_meaning(aiohttp_client: Any) -> None:
    from datetime import UTC, datetime

    from costreport.api.app import ApiSettings, create_app
    from tests.api.conftest import TinySource

    at = datetime(2026, 11, 2, tzinfo=UTC)  # the trailing 24 h are the tiny cluster's day
    settings = ApiSettings(clock=lambda: at, shared_namespaces=("b",))
    client = await aiohttp_client(create_app(TinySource(), settings))
    # A filtered query in between must not change the gauges.
    await client.get(f"/allocation?window={TINY_DAY}&filter=namespace%3A%22c%22")
    text = await (await client.get("/metrics")).text()
    for window in ("24h", "month"):
        labels = f'cluster="c1",window="{window}"'
        assert f"cluster_cost_total{{{labels}}} 36.0" in text
        # idle 18.69 of 36.00; namespace b 14.55 of 36.00
        assert f"idle_cost_share{{{labels}}} 0.519166666666" in text
        assert f"shared_cost_share{{{labels}}} 0.404166666666" in text


async def test_openapi_documents_every_route(tiny_client: TestClient) -> None:
    served = await (await tiny_client.get("/openapi.json")).json()
    committed = json.loads(resources.files("costreport.api").joinpath("openapi.json").read_text())
    assert served == committed == json.loads(json.dumps(build_openapi()))
    routes = {
        r.resource.canonical
        for r in tiny_client.app.router.routes()
        if r.method == "GET" and r.resource is not None
    }
    assert routes <= set(served["paths"])
    assert len(routes) == 34


async def test_health_endpoints(tiny_client: TestClient) -> None:
    assert (await tiny_client.get("/healthz")).status == 200
    for _ in range(50):
        response = await tiny_client.get("/readyz")
        if response.status == 200:
            break
        import asyncio

        await asyncio.sleep(0.02)
    assert response.status == 200


async def test_accumulated_node_capacities_are_time_weighted_not_summed(
    tiny_client: TestClient,
) -> None:
    url = f"/assets?window={TINY_DAY}&step=6h&accumulate=true&filter=assetType%3A%22node%22"
    data = (await (await tiny_client.get(url)).json())["data"]
    n1 = data["custom/__undefined__/__undefined__/Compute/c1/Node/Kubernetes/i-n1/n1"]
    n2 = data["custom/__undefined__/__undefined__/Compute/c1/Node/Kubernetes/i-n2/n2"]
    # Four 6-hour sets merged: 4 cores and 16 GiB all day, not 16 cores and 64 GiB.
    assert (n1["cpuCores"], n1["ramBytes"], n1["cpuCoreHours"]) == (4.0, 16 * 2**30, 96.0)
    # n2 lives 12 h (two sets): 2 cores, 8 GiB, 1 GPU, 50 % discount, not doubled.
    assert (n2["cpuCores"], n2["ramBytes"], n2["gpuCount"]) == (2.0, 8 * 2**30, 1.0)
    assert (n2["discount"], n2["preemptible"], n2["minutes"]) == (0.5, 0.0, 720.0)
    assert n1["nodeType"] == "" and set(n1["cpuBreakdown"]) == {"idle", "other", "system", "user"}
    assert sum(n1["cpuBreakdown"].values()) == pytest.approx(1.0)
    assert n1["overhead"] == {
        "CpuOverheadFraction": 0.0,
        "RamOverheadFraction": 0.0,
        "OverheadCostFraction": 0.0,
    }
    by_type = f"/assets?window={TINY_DAY}&step=6h&accumulate=true&aggregate=type"
    node = (await (await tiny_client.get(by_type)).json())["data"]["Node"]
    # Side by side over the day: (4 · 24 + 2 · 12) core-hours / 24 h = 5 cores.
    assert (node["cpuCores"], node["cpuCoreHours"], node["totalCost"]) == (5.0, 120.0, 34.8)


async def test_an_open_window_charges_no_future_hours(aiohttp_client: Any) -> None:
    from datetime import UTC, datetime

    from costreport.api.app import ApiSettings, create_app
    from tests.api.conftest import TinySource

    at = datetime(2026, 11, 1, 8, 30, tzinfo=UTC)
    client = await aiohttp_client(create_app(TinySource(), ApiSettings(clock=lambda: at)))
    data = (await (await client.get("/assets?window=today&aggregate=type")).json())["data"]
    assert data["ClusterManagement"]["minutes"] == 510.0  # 00:00 → 08:30, not 24 h
    assert data["ClusterManagement"]["totalCost"] == 0.85  # 8.5 h · $0.10
    assert data["Node"]["minutes"] == 510.0 and data["Node"]["end"] == "2026-11-01T08:30:00Z"
    assert data["Node"]["totalCost"] == 3.06  # n1 only: (4 · 0.05 + 16 · 0.01) · 8.5 h


async def test_csv_exports_are_sorted_by_cost_and_declare_idle_and_sharing(
    tiny_client: TestClient,
) -> None:
    response = await tiny_client.get(
        f"/allocation?window={TINY_DAY}&aggregate=namespace&format=csv"
    )
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    lines = (await response.text()).split("\n")
    assert lines[0].startswith("windowStart,windowEnd,name,minutes,")
    assert lines[0].endswith(",totalCost,totalEfficiency,idleHandling,sharingPolicy")
    assert [line.split(",")[2] for line in lines[1:]] == ["b", "a", "__unmounted__", "c"]
    assert all(line.endswith(",excluded,none") for line in lines[1:])
    assets = await tiny_client.get(f"/assets?window={TINY_DAY}&aggregate=type&format=csv")
    rows = (await assets.text()).split("\n")
    assert rows[0] == (
        "windowStart,windowEnd,key,type,cluster,name,providerID,hours,cpuCost,ramCost,gpuCost,"
        "cpuCores,ramBytes,gpuCount,totalCost"
    )
    assert [(r.split(",")[2], r.split(",")[-1]) for r in rows[1:]] == [
        ("Node", "34.8"),
        ("ClusterManagement", "2.4"),
        ("LoadBalancer", "0.72"),
        ("Disk", "0.48"),
    ]
    bad = await tiny_client.get(f"/allocation?window={TINY_DAY}&format=xml")
    assert bad.status == 400
    assert (await bad.json())["message"] == (
        "invalid 'format' parameter: 'xml'; accepted: json (default) or csv"
    )
