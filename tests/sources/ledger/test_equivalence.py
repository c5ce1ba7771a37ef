"""A query answered from the ledger gives the live path's numbers (relative difference ≤ 1e-9)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from costreport.model.allocation import NUMERIC_FIELDS, AllocationSetRange
from costreport.model.query import AllocationQuery
from costreport.model.window import Window, default_step_for
from costreport.sources.ledger import HybridSource, LedgerSource, LedgerStore, close_hours
from costreport.sources.sample import SampleSource
from costreport.sources.service import covered_window, query_allocations

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
FIRST = datetime(2026, 11, 19, 0, 0, tzinfo=UTC)
LAST = datetime(2026, 11, 22, 0, 0, tzinfo=UTC)  # three closed days in the ledger


@pytest.fixture(scope="module")
def ledger(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[SampleSource, LedgerStore]]:
    sample = SampleSource(now=NOW, scale=1.0)
    store = LedgerStore(str(tmp_path_factory.mktemp("ledger")))
    report = asyncio.run(close_hours(sample, store, FIRST.timestamp(), LAST.timestamp()))
    assert len(report.written) == 72 and report.skipped_no_data == []
    yield sample, store


def same(live: AllocationSetRange, stored: AllocationSetRange) -> None:
    assert len(live.sets) == len(stored.sets)
    for a, b in zip(live.sets, stored.sets, strict=True):
        assert a.window == b.window
        assert sorted(a.names) == sorted(b.names)
        order_a, order_b = np.argsort(a.names), np.argsort(b.names)
        for field in NUMERIC_FIELDS:
            x, y = a.columns[field][order_a], b.columns[field][order_b]
            assert np.allclose(x, y, rtol=1e-9, atol=1e-9, equal_nan=True), field


AGGREGATES = [
    ("namespace",),
    ("controller",),
    ("pod",),
    ("cluster", "node"),
    ("label:team",),
    ("namespace", "container"),
    (),
]


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    start_hour=st.integers(0, 60),
    hours=st.integers(1, 72),
    offset_minutes=st.integers(0, 59),
    step=st.sampled_from([None, timedelta(hours=1), timedelta(hours=6), timedelta(days=1)]),
    aggregate=st.sampled_from(AGGREGATES),
    idle=st.sampled_from(["none", "separate", "share", "share-by-node"]),
    share=st.sampled_from([(), ("kube-system",), ("kube-system", "monitoring")]),
    filter_text=st.sampled_from(["", 'namespace:"team-a"', 'controllerKind!:"daemonset"']),
    accumulate=st.sampled_from(["none", "all", "day"]),
)
def test_ledger_answers_equal_the_live_path(
    ledger: tuple[SampleSource, LedgerStore],
    start_hour: int,
    hours: int,
    offset_minutes: int,
    step: timedelta | None,
    aggregate: tuple[str, ...],
    idle: str,
    share: tuple[str, ...],
    filter_text: str,
    accumulate: str,
) -> None:
    sample, store = ledger
    start = FIRST + timedelta(hours=start_hour, minutes=offset_minutes)
    end = min(start + timedelta(hours=hours), LAST)
    if end <= start:
        return
    query = AllocationQuery(
        window=Window(start, end),
        aggregate=aggregate,
        step=step,
        accumulate=accumulate,  # type: ignore[arg-type]
        include_idle=idle != "none",
        share_idle=idle.startswith("share"),
        idle_by_node=idle == "share-by-node",
        share_namespaces=share,
        filter=filter_text,
    )
    # The last step set is not clamped (OpenCost's rule): keep every set inside the ledger.
    assume(covered_window(query.window, step or default_step_for(query.accumulate)).end <= LAST)
    now = NOW.timestamp()
    live = asyncio.run(query_allocations(sample, query, now=now))
    stored = asyncio.run(query_allocations(LedgerSource(store), query, now=now))
    same(live, stored)


def test_the_ledger_declares_what_it_answered_from(
    ledger: tuple[SampleSource, LedgerStore],
) -> None:
    _, store = ledger
    query = AllocationQuery(window=Window(FIRST, LAST), aggregate=("namespace",))
    result = asyncio.run(query_allocations(LedgerSource(store), query, now=NOW.timestamp()))
    assert result.meta["source"] == {
        "ledger": [{"start": "2026-11-19T00:00:00Z", "end": "2026-11-22T00:00:00Z"}],
        "finestStep": "1h",
    }
    files = sorted(p.relative_to(Path(store.root)).as_posix() for p in Path(store.root).rglob("*"))
    assert "cluster=sample-cluster/date=2026-11-19/part=h00/segments.parquet" in files
    assert "_commits/cluster=sample-cluster/2026-11-21T23.json" in files
    assert not [f for f in files if f.endswith(".tmp")]


@pytest.mark.parametrize("step", [None, timedelta(hours=1), timedelta(hours=6)])
@pytest.mark.parametrize("aggregate", [("pod",), ("cluster", "node"), ("namespace",)])
def test_ledger_hours_plus_the_live_tail_equal_the_live_path(
    ledger: tuple[SampleSource, LedgerStore], step: timedelta | None, aggregate: tuple[str, ...]
) -> None:
    sample, store = ledger
    # 2026-11-21 18:00 → 11-22 12:00: six ledger hours, then twelve live ones.
    window = Window(LAST - timedelta(hours=6), NOW)
    query = AllocationQuery(window=window, aggregate=aggregate, step=step, include_idle=True)
    live = asyncio.run(query_allocations(sample, query, now=NOW.timestamp()))
    hybrid = asyncio.run(query_allocations(HybridSource(store, sample), query, now=NOW.timestamp()))
    assert hybrid.meta["source"]["live"] == [
        {"start": "2026-11-22T00:00:00Z", "end": "2026-11-22T12:00:00Z"}
    ]
    same(live, hybrid)


@pytest.fixture(scope="module")
def bundled(
    ledger: tuple[SampleSource, LedgerStore], tmp_path_factory: pytest.TempPathFactory
) -> LedgerStore:
    """The same three days, each bundled with its `day_segments` (no day compacted)."""
    import shutil

    from costreport.sources.ledger.compact import housekeep

    _, store = ledger
    copy = tmp_path_factory.mktemp("bundled")
    shutil.copytree(store.root, copy, dirs_exist_ok=True)
    bundles = LedgerStore(str(copy))
    report = housekeep(bundles, NOW.timestamp(), hourly_days=30)
    assert len(report.bundled_days) == 3 and report.compacted_days == []
    return bundles


@pytest.mark.parametrize(
    ("days", "step", "accumulate"),
    [
        (3, timedelta(days=1), "none"),
        (3, None, "none"),
        (2, timedelta(days=1), "all"),
        (2, timedelta(days=2), "none"),
    ],
)
@pytest.mark.parametrize("idle", ["separate", "share-by-node"])
@pytest.mark.parametrize("aggregate", [("pod",), ("namespace",), ("cluster", "node")])
def test_queries_in_whole_days_read_the_merged_day_and_equal_the_live_path(
    ledger: tuple[SampleSource, LedgerStore],
    bundled: LedgerStore,
    days: int,
    step: timedelta | None,
    accumulate: str,
    idle: str,
    aggregate: tuple[str, ...],
) -> None:
    sample, _ = ledger
    window = Window(LAST - timedelta(days=days), LAST)
    query = AllocationQuery(
        window=window,
        aggregate=aggregate,
        step=step,
        accumulate=accumulate,  # type: ignore[arg-type]
        include_idle=True,
        share_idle=idle.startswith("share"),
        idle_by_node=idle == "share-by-node",
    )
    read: list[dict[str, str] | None] = []

    class Watching(LedgerStore):
        def read_tables(self, commits, tables, pool, substitute=None):  # type: ignore[no-untyped-def]
            read.append(substitute)
            return super().read_tables(commits, tables, pool, substitute)

    now = NOW.timestamp()
    live = asyncio.run(query_allocations(sample, query, now=now))
    stored = asyncio.run(query_allocations(LedgerSource(Watching(bundled.root)), query, now=now))
    assert read == [{"segments": "day_segments"}]
    same(live, stored)


def test_a_query_not_in_whole_days_reads_the_hours(bundled: LedgerStore) -> None:
    from costreport.sources.ledger.reader import in_whole_days

    assert in_whole_days(Window(FIRST, LAST), None)
    assert in_whole_days(Window(FIRST, LAST), 86400.0)
    assert not in_whole_days(Window(FIRST, LAST), 6 * 3600.0)
    assert not in_whole_days(Window(FIRST + timedelta(hours=1), LAST), None)
    [commit] = [c for c in bundled.commits() if c.start == FIRST.timestamp()]
    assert commit.grain == "hours-month" and "day_segments" in commit.files
    rows = commit.rows
    assert rows["day_segments"] < rows["segments"] / 10  # a container's day is one segment
