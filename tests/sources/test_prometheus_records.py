"""Lifecycle records on a real Prometheus: pods no scrape saw are costed, for exactly the time
they ran; recorded runtimes replace the metrics' estimates; the ledger keeps the count."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Sequence
from datetime import UTC, datetime

import pytest

from costreport.engine.allocation import compute_allocations
from costreport.model.allocation import AllocationSetRange
from costreport.model.lifecycle import ContainerLife
from costreport.model.pricing import InstancePrice, PricingConfig
from costreport.model.query import AllocationQuery
from costreport.model.window import Window
from costreport.sources.ledger import LedgerSource, LedgerStore, close_hours
from costreport.sources.prometheus import PrometheusConfig, PrometheusSource
from costreport.sources.service import query_allocations
from tests.sources.prom_harness import (
    SimCluster,
    SimContainer,
    SimNode,
    SimPod,
)
from tests.sources.prom_server import PrometheusServer, running_prometheus, tools_available

T = datetime(2026, 11, 1, tzinfo=UTC).timestamp()
H = 3600.0
SCRAPE = 60.0
WINDOW = Window(datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 11, 1, 3, tzinfo=UTC))
PRICING = PricingConfig(instanceTypes={"m5.xlarge": InstancePrice(cpu=0.04, ram=0.005)})

pytestmark = pytest.mark.skipif(tools_available() is not None, reason=str(tools_available()))


def cluster() -> SimCluster:
    """Ten 30 s Jobs that start 10 s after a scrape and are deleted when they finish
    (`ttlSecondsAfterFinished: 0`: no scrape sees them), a 5 min Job whose end KSM never
    reports (vanished: the metrics estimate it), and a web pod."""
    sim = SimCluster(
        start=T,
        end=T + 3 * H,
        scrape=SCRAPE,
        linger=0.0,
        nodes=[SimNode("c1", "od", T, T + 3 * H, 4, 16, "m5.xlarge", 0.04, 0.005)],
    )
    blink = [SimContainer("job", 0.5, 0.1, 1.0, 0.2)]
    sim.pods = [
        SimPod("c1", "batch", f"blink-{i}", "od", T + 600 * i + 10, T + 600 * i + 40, blink,
               "Job", "blink", completed=True)
        for i in range(1, 11)
    ] + [
        SimPod("c1", "batch", "five", "od", T + H + 5, T + H + 305 + 17,
               [SimContainer("job", 1.0, 0.5, 2.0, 1.0)], "Job", "five"),
        SimPod("c1", "web", "web-0", "od", T, T + 3 * H,
               [SimContainer("app", 0.25, 0.25, 1.0, 1.0)], "StatefulSet", "web"),
    ]  # fmt: skip
    return sim


@pytest.fixture(scope="module")
def server() -> Iterator[PrometheusServer]:
    yield from running_prometheus(cluster())


class Records:
    """A `LifecycleSource` over fixed records."""

    def __init__(self, lives: Sequence[ContainerLife]) -> None:
        self.items = list(lives)

    async def lives(self, start: float, end: float) -> list[ContainerLife]:
        return [r for r in self.items if r.start < end and r.known_end > start]


OPENED: list[PrometheusSource] = []


@pytest.fixture(autouse=True)
async def close_sources() -> AsyncIterator[None]:
    yield
    while OPENED:
        await OPENED.pop().close()


def source(server: PrometheusServer, records: Sequence[ContainerLife] | None) -> PrometheusSource:
    config = PrometheusConfig(server.url, scrape_interval_seconds=SCRAPE, default_cluster="c1")
    made = PrometheusSource(config, PRICING, Records(records) if records is not None else None)
    OPENED.append(made)
    return made


def by_name(result: AllocationSetRange) -> dict[str, float]:
    s = result.sets[0]
    return {n: float(s.columns["totalCost"][i]) for i, n in enumerate(s.names)}


async def test_pods_between_two_scrapes_are_costed_only_with_records(
    server: PrometheusServer,
) -> None:
    q = AllocationQuery(window=WINDOW, aggregate=("pod",))
    blind = await query_allocations(source(server, None), q, now=WINDOW.end_ts)
    assert not [n for n in by_name(blind) if n.startswith("blink-")]  # no scrape saw them
    got = await query_allocations(source(server, cluster().records()), q, now=WINDOW.end_ts)
    costs = by_name(got)
    # 30 s at requests (no usage was sampled): 0.5 core × $0.04 + 1 GiB × $0.005, per hour.
    per_blink = 30 / 3600 * (0.5 * 0.04 + 1.0 * 0.005)
    assert per_blink == pytest.approx(0.000208333, rel=2e-6)
    for i in range(1, 11):
        assert costs[f"blink-{i}"] == pytest.approx(per_blink, rel=1e-9)
    # The 5 min Job ran 317 s at its request (usage below it): exact, not ± a scrape.
    assert costs["five"] == pytest.approx(317 / 3600 * (1.0 * 0.04 + 2.0 * 0.005), rel=1e-9)
    assert got.meta["source"]["lifecycle"] == {"recordedPods": 12, "lifecycleOnlyPods": 10}
    assert got.meta["source"]["containerStart"] == {"lifecycle record": 12}


async def test_namespace_costs_equal_the_truth_with_records(server: PrometheusServer) -> None:
    sim = cluster()
    q = AllocationQuery(window=WINDOW, aggregate=("namespace",))
    expected = by_name(compute_allocations(sim.truth(), q, now=WINDOW.end_ts))
    got = by_name(await query_allocations(source(server, sim.records()), q, now=WINDOW.end_ts))
    blind = by_name(await query_allocations(source(server, None), q, now=WINDOW.end_ts))
    for namespace in ("batch", "web"):
        assert got[namespace] == pytest.approx(expected[namespace], rel=1e-6)
    # Without records the batch namespace misses the ten 30 s Jobs (and estimates `five`).
    assert blind["batch"] < expected["batch"] * 0.99


async def test_the_ledger_keeps_recorded_lives_and_the_count(
    server: PrometheusServer, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    live = source(server, cluster().records())
    store = LedgerStore(str(tmp_path))
    report = await close_hours(live, store, T, T + 3 * H)
    assert len(report.written) == 3
    q = AllocationQuery(window=WINDOW, aggregate=("pod",))
    direct = by_name(await query_allocations(live, q, now=WINDOW.end_ts))
    from_ledger = await query_allocations(LedgerSource(store), q, now=WINDOW.end_ts)
    for name, cost in direct.items():
        assert by_name(from_ledger)[name] == pytest.approx(cost, rel=1e-9), name
    assert from_ledger.meta["source"]["lifecycle"] == {"recordedPods": 12, "lifecycleOnlyPods": 10}
