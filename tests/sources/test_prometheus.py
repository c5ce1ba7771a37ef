"""The Prometheus source against a real Prometheus holding a simulated cluster's metrics.

Expected costs are the engine's answer on the simulation's ground truth; the source must
reproduce them within 1 % from what kube-state-metrics and cAdvisor exported.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from costreport.engine.allocation import compute_allocations
from costreport.model.allocation import AllocationSetRange
from costreport.model.errors import SourceUnavailable
from costreport.model.pricing import InstancePrice, PricingConfig
from costreport.model.query import AllocationQuery
from costreport.model.window import Window
from costreport.sources.prometheus import PrometheusConfig, PrometheusSource
from costreport.sources.service import query_allocations
from tests.sources.prom_harness import (
    SimCluster,
    SimContainer,
    SimNode,
    SimPod,
    SimService,
    SimVolume,
)
from tests.sources.prom_server import PrometheusServer, running_prometheus, tools_available

T = datetime(2026, 11, 1, tzinfo=UTC).timestamp()
H = 3600.0
WINDOW = Window(datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 11, 1, 6, tzinfo=UTC))
PRICING = PricingConfig(
    instanceTypes={
        "m5.xlarge": InstancePrice(cpu=0.04, ram=0.005),
        "r5.large": InstancePrice(cpu=0.03, ram=0.004, spotCPU=0.01, spotRAM=0.0015),
    }
)

pytestmark = pytest.mark.skipif(tools_available() is not None, reason=str(tools_available()))


def simulation() -> SimCluster:
    sim = SimCluster(start=T, end=T + 6 * H, scrape=30.0)
    sim.nodes = [
        SimNode("c1", "n1", T, T + 6 * H, 4, 16, "m5.xlarge", 0.04, 0.005),
        SimNode("c1", "n2", T, T + 6 * H, 2, 16, "r5.large", 0.01, 0.0015, spot=True),
        SimNode("c1", "n3", T + 2 * H, T + 6 * H, 4, 16, "m5.xlarge", 0.04, 0.005),
        SimNode("c2", "m1", T, T + 6 * H, 8, 32, "custom", 0.05, 0.01, export_prices=True),
    ]
    small = [SimContainer("main", 0.5, 0.2, 0.5, 0.25)]
    sim.pods = [
        SimPod(
            "c1",
            "a",
            "web-5d8f-x1",
            "n1",
            T,
            T + 6 * H,
            [SimContainer("app", 0.5, 0.3, 1.0, 0.5), SimContainer("proxy", 0.1, 0.05, 0.25, 0.1)],
            "ReplicaSet",
            "web-5d8f",
            ("Deployment", "web"),
            {"app": "web", "team": "a"},
            net_tx=50_000.0,
            net_rx=80_000.0,
            egress_internet=20_000.0,
        ),
        SimPod(
            "c1",
            "a",
            "burst",
            "n1",
            T,
            T + 6 * H,
            [SimContainer("main", 0.2, 0.8, 0.5, 0.4)],
            labels={"app": "burst"},
        ),
        SimPod(
            "c1",
            "b",
            "db-0",
            "n2",
            T,
            T + 6 * H,
            [SimContainer("db", 1.0, 0.5, 4.0, 3.0)],
            "StatefulSet",
            "db",
            labels={"app": "db", "team": "b"},
            claim="data-db-0",
        ),
        SimPod(
            "c1",
            "batch",
            "report-29012345-ab1",
            "n1",
            T + H + 7,
            T + H + 37,
            small,
            "Job",
            "report-29012345",
            completed=True,
        ),
        SimPod(
            "c1",
            "batch",
            "etl-29012400-cd2",
            "n1",
            T + 2 * H + 11,
            T + 2 * H + 311,
            small,
            "Job",
            "etl-29012400",
            completed=True,
        ),
        SimPod("c1", "batch", "adhoc", "n1", T + 3 * H + 19, T + 4 * H + 19, small, deleted=True),
        SimPod(
            "c1",
            "a",
            "late-7c9d-y",
            "n3",
            T + 2 * H + 13,
            T + 6 * H,
            [SimContainer("app", 1.0, 0.5, 2.0, 1.0)],
            "ReplicaSet",
            "late-7c9d",
            ("Deployment", "late"),
        ),
        SimPod(
            "c2",
            "a",
            "api-1",
            "m1",
            T,
            T + 6 * H,
            [SimContainer("api", 2.0, 1.0, 4.0, 2.0)],
            "ReplicaSet",
            "api-1",
            ("Deployment", "api"),
        ),
    ]
    sim.pods.append(
        SimPod(
            "c1",
            "a",
            "spiky",
            "n1",
            T,
            T + 6 * H,
            [SimContainer("main", 0.2, 0.3, 0.5, 0.3, cpu_allocation=0.6)],
        )
    )
    sim.services = [
        SimService("c1", "a", "web", {"app": "web"}, lb_price=0.025, ip="34.1.2.3"),
        SimService("c1", "b", "db", {"app": "db"}),
    ]
    sim.volumes = [
        SimVolume("c1", "pv-db", 10, 0.0002, "b", "data-db-0"),
        SimVolume("c1", "pv-orphan", 5, 0.0002),
    ]
    return sim


@pytest.fixture(scope="module")
def server() -> Iterator[PrometheusServer]:
    yield from running_prometheus(simulation())


@pytest.fixture
def source(server: PrometheusServer) -> PrometheusSource:
    return PrometheusSource(PrometheusConfig(server.url, scrape_interval_seconds=30), PRICING)


def query(**options: Any) -> AllocationQuery:
    return AllocationQuery(window=WINDOW, **options)


async def both(
    source: PrometheusSource, q: AllocationQuery
) -> tuple[AllocationSetRange, AllocationSetRange]:
    expected = compute_allocations(simulation().truth(), q, now=WINDOW.end_ts + H)
    got = await query_allocations(source, q, now=WINDOW.end_ts + H)
    await source.close()
    return expected, got


def costs(result: AllocationSetRange, field: str = "totalCost") -> list[dict[str, float]]:
    return [{n: float(s.columns[field][i]) for i, n in enumerate(s.names)} for s in result.sets]


@pytest.mark.parametrize(
    "aggregate",
    [("namespace",), ("controller",), ("pod",), ("cluster", "node"), ("label:team",)],
)
async def test_costs_match_the_ground_truth_within_one_percent(
    source: PrometheusSource, aggregate: tuple[str, ...]
) -> None:
    expected, got = await both(source, query(aggregate=aggregate, include_idle=True))
    for want, have in zip(costs(expected), costs(got), strict=True):
        assert set(have) == set(want)
        for name, value in want.items():
            assert have[name] == pytest.approx(value, rel=0.01, abs=1e-6), name


async def test_short_lived_pods_are_costed_for_their_real_runtime(source: PrometheusSource) -> None:
    expected, got = await both(source, query(aggregate=("pod",)))
    want, have = costs(expected)[0], costs(got)[0]
    # 30 s, 5 min and 1 h pods: 0.5 core at $0.04 + 0.5 GiB at $0.005, per hour.
    assert want["report-29012345-ab1"] == pytest.approx((0.5 * 0.04 + 0.5 * 0.005) * 30 / 3600)
    for pod in ("report-29012345-ab1", "etl-29012400-cd2", "adhoc"):
        assert have[pod] == pytest.approx(want[pod], rel=0.01), pod
    minutes = {n: r["minutes"] for n, r in got.sets[0].to_json().items()}
    assert minutes["report-29012345-ab1"] == 0.5 and minutes["etl-29012400-cd2"] == 5.0


async def test_controllers_and_cronjobs_are_resolved(source: PrometheusSource) -> None:
    _, got = await both(source, query(aggregate=("controller",)))
    assert set(got.sets[0].names) == {
        "deployment:web",
        "deployment:late",
        "deployment:api",
        "statefulset:db",
        "job:report",
        "job:etl",
        "__unallocated__",
        "__unmounted__",
    }


async def test_idle_pv_and_spot_prices(source: PrometheusSource) -> None:
    expected, got = await both(source, query(aggregate=("namespace",), include_idle=True))
    want, have = costs(expected, "pvCost")[0], costs(got, "pvCost")[0]
    assert have["b"] == pytest.approx(want["b"], rel=0.01)
    assert have["b"] == pytest.approx(10 * 6 * 0.0002, rel=0.01)  # db-0 mounts pv-db all along
    assert have["__unmounted__"] == pytest.approx(5 * 6 * 0.0002, rel=0.01)
    idle = got.sets[0].to_json()["__idle__"]
    expected_idle = expected.sets[0].to_json()["__idle__"]
    assert idle["totalCost"] == pytest.approx(expected_idle["totalCost"], rel=0.01)
    assert got.meta["warnings"] == []  # c2 exports prices; c1 priced from the config


async def test_steps_cost_the_same_number_of_queries(source: PrometheusSource) -> None:
    one = await source.cluster_data(WINDOW, resolution_seconds=60)
    hourly = await source.cluster_data(WINDOW, resolution_seconds=60, step_seconds=3600)
    assert one.query_count == hourly.query_count <= 20
    expected, got = await both(source, query(aggregate=("namespace",), step=timedelta(hours=1)))
    assert len(got.sets) == 6
    for want, have in zip(costs(expected), costs(got), strict=True):
        for name, value in want.items():
            assert have[name] == pytest.approx(value, rel=0.01, abs=1e-6), name
    assert got.meta["queries"] == hourly.query_count


async def test_clusters_stay_separate(source: PrometheusSource) -> None:
    expected, got = await both(source, query(aggregate=("cluster",), filter='cluster:"c2"'))
    assert costs(got)[0] == pytest.approx(costs(expected)[0], rel=0.01)
    assert set(got.sets[0].names) == {"c2"}


async def test_a_down_prometheus_is_a_source_error() -> None:
    from tests.ports import free_port

    down = PrometheusSource(
        PrometheusConfig(f"http://127.0.0.1:{free_port()}", retries=1, timeout_seconds=2)
    )
    with pytest.raises(SourceUnavailable, match="prometheus unavailable after retries"):
        await down.cluster_data(WINDOW, resolution_seconds=60)
    await down.close()


async def test_load_balancers_services_and_network(source: PrometheusSource) -> None:
    expected, got = await both(source, query(aggregate=("namespace",)))
    row = got.sets[0].to_json()["a"]
    assert row["loadBalancerCost"] == pytest.approx(0.025 * 6, rel=0.01)
    assert row["networkTransferBytes"] == pytest.approx(50_000 * 6 * H, rel=0.01)
    assert row["networkReceiveBytes"] == pytest.approx(80_000 * 6 * H, rel=0.01)
    internet_gib = 20_000 * 6 * H / 2**30
    assert row["networkInternetCost"] == pytest.approx(internet_gib * 0.12, rel=0.01)
    want = expected.sets[0].to_json()["a"]
    for field in ("loadBalancerCost", "networkCost", "totalCost"):
        assert row[field] == pytest.approx(want[field], rel=0.01), field
    pods = (await both(source, query(aggregate=("pod",))))[1].sets[0].to_json()
    assert pods["db-0"]["properties"]["services"] == ["db"]  # single-member rows keep services
    containers = (await both(source, query()))[1].sets[0].to_json()
    assert containers["c1/n1/a/web-5d8f-x1/app"]["properties"]["services"] == ["web"]
    assert pods["web-5d8f-x1"]["lbAllocations"]["c1/a/web"]["ip"] == "34.1.2.3"


async def test_opencosts_allocation_series_is_the_cpu_basis_when_present(
    source: PrometheusSource,
) -> None:
    _, got = await both(source, query(aggregate=("pod",)))
    spiky = got.sets[0].to_json()["spiky"]
    # 0.2 requested, 0.3 used on average, but the exporter's per-minute max(request, usage)
    # averages 0.6: 0.6 core × 6 h × $0.04.
    assert spiky["cpuCoreHours"] == pytest.approx(0.6 * 6, rel=0.01)
    assert spiky["cpuCost"] == pytest.approx(0.6 * 6 * 0.04, rel=0.01)


async def test_a_window_before_the_data_is_no_data_not_zero(source: PrometheusSource) -> None:
    before = Window(datetime(2026, 10, 30, tzinfo=UTC), datetime(2026, 10, 31, tzinfo=UTC))
    with pytest.raises(SourceUnavailable) as caught:
        await query_allocations(source, AllocationQuery(window=before), now=WINDOW.end_ts)
    await source.close()
    assert caught.value.reason.startswith(
        "prometheus has no kube-state-metrics or cAdvisor data for 2026-10-30T00:00:00Z → "
        "2026-10-31T00:00:00Z (no kube_node_info, kube_pod_info or "
        "kube_pod_container_status_running series)"
    )


async def test_a_window_reaching_before_the_data_declares_its_coverage(
    source: PrometheusSource,
) -> None:
    wider = Window(datetime(2026, 10, 31, 18, tzinfo=UTC), WINDOW.end)
    got = await query_allocations(source, AllocationQuery(window=wider), now=WINDOW.end_ts)
    await source.close()
    assert got.meta["coverage"] == {
        "start": "2026-11-01T00:00:00Z",
        "end": "2026-11-01T06:00:00Z",
        "complete": False,
    }
    assert (
        "the source's data starts at 2026-11-01T00:00:00Z, after the window's start "
        "2026-10-31T18:00:00Z: costs before it are not included"
    ) in got.meta["warnings"]


async def test_missing_cadvisor_series_are_named() -> None:
    sim = SimCluster(start=T, end=T + 2 * H, scrape=60.0, cadvisor=False)
    sim.nodes = [SimNode("c1", "n1", T, T + 2 * H, 4, 16, "m5.xlarge", 0.04, 0.005)]
    sim.pods = [SimPod("c1", "a", "p", "n1", T, T + 2 * H, [SimContainer("c", 1, 0.5, 1, 0.5)])]
    for server in running_prometheus(sim):
        source = PrometheusSource(PrometheusConfig(server.url, scrape_interval_seconds=60))
        window = Window(datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 11, 1, 2, tzinfo=UTC))
        got = await query_allocations(source, AllocationQuery(window=window), now=T + 3 * H)
        await source.close()
        warnings = got.meta["warnings"]
        assert (
            "no container_cpu_usage_seconds_total series (cAdvisor) in the window: CPU usage "
            "is 0 and CPU costs follow requests only"
        ) in warnings
        assert any(w.startswith("no container_memory_working_set_bytes series") for w in warnings)
        assert got.meta["coverage"]["complete"] is True
        # Requests still cost: 1 core · 2 h · $0.031611 (the default CPU price).
        assert float(got.sets[0].columns["cpuCost"][0]) == pytest.approx(2 * 0.031611, rel=0.01)
