"""A fleet's ledger: clusters written with no coordination, read one cluster per worker."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest

from costreport.engine.allocation import compute_allocations
from costreport.model.query import AllocationQuery
from costreport.model.window import Window
from costreport.sources.ledger import LedgerSource, LedgerStore, close_hours
from costreport.sources.ledger.codec import decode
from costreport.sources.ledger.reader import ENGINE_TABLES, _merge_within_sets
from costreport.sources.sample import SampleSource
from costreport.sources.service import covered_window, query_allocations

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
START = datetime(2026, 11, 21, 0, 0, tzinfo=UTC).timestamp()
END = datetime(2026, 11, 22, 0, 0, tzinfo=UTC).timestamp()
CLUSTERS = {"east": 1, "west": 2, "north": 3}


class Counting:
    """Wraps `reader.read_decoded` (one cluster's files read and decoded) and records how many
    run at once and for which clusters."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.lock = threading.Lock()
        self.active = self.peak = 0
        self.clusters: list[str] = []

    def __call__(self, store: LedgerStore, commits: list[Any], *args: Any) -> Any:
        with self.lock:
            self.active += 1
            self.peak = max(self.peak, self.active)
            self.clusters.extend(sorted({c.cluster for c in commits}))
        try:
            return self.inner(store, commits, *args)
        finally:
            with self.lock:
                self.active -= 1


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    """One bucket-like directory written by three operators, and each cluster's own ledger."""
    shared = str(tmp_path_factory.mktemp("fleet"))
    own = {}
    for cluster, seed in CLUSTERS.items():
        sample = SampleSource(now=NOW, scale=0.5, seed=seed, cluster=cluster)
        own[cluster] = str(tmp_path_factory.mktemp(cluster))
        for url in (shared, own[cluster]):
            report = asyncio.run(close_hours(sample, LedgerStore(url), START, END))
            assert len(report.written) == 24
    yield shared, own


def query(**options: Any) -> AllocationQuery:
    window = Window.from_timestamps(START, END)
    return AllocationQuery(window=window, **options)


def test_the_fleet_is_the_union_of_its_clusters(fleet: tuple[str, dict[str, str]]) -> None:
    shared, own = fleet
    q = query(aggregate=("cluster",), include_idle=True, step=timedelta(hours=6))
    got = asyncio.run(query_allocations(LedgerSource(LedgerStore(shared)), q, now=END))
    for s in got.sets:
        totals = {n: float(s.columns["totalCost"][i]) for i, n in enumerate(s.names)}
        for cluster, url in own.items():
            alone = asyncio.run(query_allocations(LedgerSource(LedgerStore(url)), q, now=END))
            [match] = [a for a in alone.sets if a.window == s.window]
            expected = sum(
                float(match.columns["totalCost"][i])
                for i, n in enumerate(match.names)
                if not n.startswith("__idle__")
            )
            assert totals[cluster] == pytest.approx(expected, rel=1e-12)
        idle = sum(v for n, v in totals.items() if n.startswith("__idle__"))
        assert idle > 0  # idle per cluster


@pytest.mark.parametrize(
    "options",
    [
        {"aggregate": ("namespace",), "include_idle": True, "share_idle": True},
        {"aggregate": ("cluster", "namespace"), "share_namespaces": ("kube-system",)},
        {"aggregate": ("label:team",), "filter": 'cluster:"east","west"'},
    ],
)
def test_reading_one_cluster_per_worker_equals_decoding_them_together(
    fleet: tuple[str, dict[str, str]], options: dict[str, Any]
) -> None:
    shared, _ = fleet
    q = query(step=timedelta(hours=6), **options)
    store = LedgerStore(shared)
    window = covered_window(q.window, q.step)
    together = decode(store.read(store.commits(), ENGINE_TABLES), window)
    together.usage = _merge_within_sets(together, window, 6 * 3600)
    expected = compute_allocations(together, q, now=END)
    got = asyncio.run(query_allocations(LedgerSource(store), q, now=END))
    for a, b in zip(expected.sets, got.sets, strict=True):
        order_a, order_b = np.argsort(a.names), np.argsort(b.names)
        assert sorted(a.names) == sorted(b.names)
        for field in ("totalCost", "cpuCost", "ramCost", "pvCost", "sharedCost"):
            assert np.allclose(
                a.columns[field][order_a], b.columns[field][order_b], rtol=1e-12, atol=1e-12
            ), field


@pytest.mark.parametrize("parallel", [1, 2])
def test_memory_is_bounded_by_the_clusters_read_at_once(
    fleet: tuple[str, dict[str, str]], parallel: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    from costreport.sources.ledger import reader

    shared, _ = fleet
    counting = Counting(reader.read_decoded)
    monkeypatch.setattr(reader, "read_decoded", counting)
    q = query(aggregate=("namespace",))
    store = LedgerStore(shared)
    result = asyncio.run(query_allocations(LedgerSource(store, parallel=parallel), q, now=END))
    assert sorted(counting.clusters) == sorted(CLUSTERS)  # one read per cluster, each alone
    assert 1 <= counting.peak <= parallel
    assert sum(len(s) for s in result.sets) > 0
