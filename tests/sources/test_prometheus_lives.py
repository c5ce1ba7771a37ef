"""Pods are lives, not names, on a real Prometheus: names reused with new uids, and container
starts with and without `kube_pod_container_state_started`.

Expected costs are the engine's answer on the simulation's ground truth.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from costreport.engine.allocation import compute_allocations
from costreport.model.allocation import AllocationSetRange
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
SCRAPE = 30.0

pytestmark = pytest.mark.skipif(tools_available() is not None, reason=str(tools_available()))


def nodes() -> list[SimNode]:
    return [
        SimNode("c1", "od", T, T + 6 * H, 4, 16, "m5.xlarge", 0.04, 0.005),
        SimNode("c1", "spot", T, T + 6 * H, 2, 16, "r5.large", 0.01, 0.0015, spot=True),
    ]


def reused_names() -> SimCluster:
    """A StatefulSet pod restarting on the spot node, and a Deployment pod name reused."""
    sim = SimCluster(start=T, end=T + 6 * H, scrape=SCRAPE, nodes=nodes())
    db = [SimContainer("db", 1.0, 0.6, 4.0, 3.0)]
    web = [SimContainer("app", 0.5, 0.25, 1.0, 0.5)]
    sim.pods = [
        SimPod("c1", "b", "db-0", "od", T, T + 2 * H, db, "StatefulSet", "db",
               deleted=True, claim="data-db-0", uid_override="db-0-life-1"),
        SimPod("c1", "b", "db-0", "spot", T + 2 * H + 120, T + 6 * H, db, "StatefulSet", "db",
               claim="data-db-0", uid_override="db-0-life-2", delay=20.0),
        SimPod("c1", "a", "web-7f9c-abcde", "od", T, T + H, web, "ReplicaSet", "web-7f9c",
               ("Deployment", "web"), deleted=True, uid_override="web-life-1"),
        SimPod("c1", "a", "web-7f9c-abcde", "spot", T + 3 * H, T + 5 * H, web, "ReplicaSet",
               "web-7f9c", ("Deployment", "web"), deleted=True, uid_override="web-life-2"),
        # A 30 s Job pod, seen by one scrape or two, with an exact container start.
        SimPod("c1", "batch", "tick-1", "od", T + H + 7, T + H + 37,
               [SimContainer("job", 0.25, 0.25, 0.5, 0.5)], "Job", "tick", completed=True),
    ]  # fmt: skip
    sim.volumes = [SimVolume("c1", "pv-db", 20, 0.0002, "b", "data-db-0")]
    return sim


def late_starts() -> SimCluster:
    """Jobs whose containers start 45 s after the pod, with no container start series."""
    sim = SimCluster(start=T, end=T + 6 * H, scrape=SCRAPE, nodes=nodes(), state_started=False)
    job = [SimContainer("job", 1.0, 0.8, 2.0, 1.5)]
    sim.pods = [
        SimPod("c1", "batch", f"short-{i}", "od", T + i * 1200 + 11, T + i * 1200 + 311, job,
               "Job", "short", completed=True, delay=45.0)
        for i in range(5)
    ] + [
        SimPod("c1", "batch", f"hourly-{i}", "spot", T + i * 4000 + 3, T + i * 4000 + 3603,
               job, "Job", "hourly", completed=True, delay=45.0)
        for i in range(4)
    ]  # fmt: skip
    return sim


@pytest.fixture(scope="module")
def reused() -> Iterator[PrometheusServer]:
    yield from running_prometheus(reused_names())


@pytest.fixture(scope="module")
def late() -> Iterator[PrometheusServer]:
    yield from running_prometheus(late_starts())


async def both(
    server: PrometheusServer, sim: SimCluster, **options: Any
) -> tuple[AllocationSetRange, AllocationSetRange]:
    q = AllocationQuery(window=WINDOW, **options)
    source = PrometheusSource(PrometheusConfig(server.url, scrape_interval_seconds=SCRAPE), PRICING)
    expected = compute_allocations(sim.truth(), q, now=WINDOW.end_ts + H)
    got = await query_allocations(source, q, now=WINDOW.end_ts + H)
    await source.close()
    return expected, got


def totals(result: AllocationSetRange, field: str = "totalCost") -> dict[str, float]:
    s = result.sets[0]
    return {n: float(s.columns[field][i]) for i, n in enumerate(s.names)}


@pytest.mark.parametrize("aggregate", [("pod",), ("namespace",), ("node",), ("namespace", "pod")])
async def test_every_life_of_a_reused_name_is_costed(
    reused: PrometheusServer, aggregate: tuple[str, ...]
) -> None:
    expected, got = await both(reused, reused_names(), aggregate=aggregate, include_idle=True)
    want, have = totals(expected), totals(got)
    assert set(have) == set(want)
    for name, value in want.items():
        assert have[name] == pytest.approx(value, rel=0.005, abs=1e-6), name


async def test_two_lives_on_two_nodes_at_two_prices(reused: PrometheusServer) -> None:
    _, got = await both(reused, reused_names(), aggregate=("pod",))
    db = got.sets[0].to_json()["db-0"]
    # Life 1 on demand: 1 core · 2 h · $0.04; life 2 on spot from 02:02:20: 1 core · 3.961 h ·
    # $0.01 (requests above usage, so requests are the cost basis).
    life_2_hours = (4 * H - 140) / H
    assert db["cpuCost"] == pytest.approx(2 * 0.04 + life_2_hours * 0.01, rel=0.002)
    assert db["ramCost"] == pytest.approx(4 * 2 * 0.005 + 4 * life_2_hours * 0.0015, rel=0.002)
    # The claim is costed to both lives; only the gap between them is unmounted.
    pv_rate = 20 * 0.0002
    assert db["pvCost"] == pytest.approx((2 + life_2_hours) * pv_rate, rel=0.002)
    web = got.sets[0].to_json()["web-7f9c-abcde"]
    assert web["cpuCoreHours"] == pytest.approx(0.5 * 1 + 0.5 * 2, rel=0.002)
    assert web["cpuCost"] == pytest.approx(0.5 * 0.04 + 0.5 * 2 * 0.01, rel=0.002)
    assert got.meta["source"] == {"containerStart": {"kube_pod_container_state_started": 5}}


async def test_a_30_second_job_with_container_start_is_exact(reused: PrometheusServer) -> None:
    expected, got = await both(reused, reused_names(), aggregate=("pod",))
    ratio = totals(got)["tick-1"] / totals(expected)["tick-1"]
    assert 0.99 <= ratio <= 1.01


async def test_without_container_start_the_error_is_at_most_one_scrape(
    late: PrometheusServer,
) -> None:
    expected, got = await both(late, late_starts(), aggregate=("pod",))
    want, have = totals(expected, "cpuCoreHours"), totals(got, "cpuCoreHours")
    assert set(have) == set(want) and len(want) == 9
    for name, hours in want.items():
        # 1 core requested: core-hours are hours of runtime.
        assert abs(have[name] - hours) * H <= SCRAPE, name
        if name.startswith("hourly"):
            assert 0.99 <= have[name] / hours <= 1.01, name
    # The pod start would have added the 45 s image pull (more than a scrape) to every job.
    assert got.meta["source"] == {"containerStart": {"first running sample": 9}}
