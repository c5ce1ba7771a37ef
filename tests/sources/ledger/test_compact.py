"""Daily compaction keeps every day-or-longer answer exact, and retention drops old days."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from costreport.model.allocation import NUMERIC_FIELDS
from costreport.model.query import AllocationQuery
from costreport.model.window import Window
from costreport.sources.ledger import LedgerSource, LedgerStore, close_hours
from costreport.sources.ledger.compact import housekeep
from costreport.sources.sample import SampleSource
from costreport.sources.service import query_allocations

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
FIRST = datetime(2026, 11, 18, 0, 0, tzinfo=UTC)
LAST = datetime(2026, 11, 22, 0, 0, tzinfo=UTC)


def answer(store: LedgerStore, **options: object):  # type: ignore[no-untyped-def]
    query = AllocationQuery(window=Window(FIRST, LAST), **options)  # type: ignore[arg-type]
    return asyncio.run(query_allocations(LedgerSource(store), query, now=NOW.timestamp()))


def test_compacted_days_answer_daily_and_longer_sets_exactly(tmp_path: Path) -> None:
    store = LedgerStore(str(tmp_path / "ledger"))
    sample = SampleSource(now=NOW)
    asyncio.run(close_hours(sample, store, FIRST.timestamp(), LAST.timestamp()))
    options_list = [
        {"aggregate": ("namespace",), "step": timedelta(days=1), "include_idle": True},
        {"aggregate": ("pod",), "accumulate": "all", "include_idle": True, "share_idle": True},
        {
            "aggregate": ("controller",),
            "step": timedelta(days=2),
            "share_namespaces": ("kube-system",),
        },
    ]
    before = [answer(store, **o) for o in options_list]
    # Hours older than a day (before 2026-11-21 12:00 → days up to 11-21) become days.
    report = housekeep(store, NOW.timestamp(), hourly_days=1.0)
    assert [datetime.fromtimestamp(d, tz=UTC).day for d in report.compacted_days] == [18, 19, 20]
    assert [datetime.fromtimestamp(d, tz=UTC).day for d in report.bundled_days] == [21]
    # The three merged days then go into November's month bundle, the bundled hours into its
    # month bundle of hours.
    november = datetime(2026, 11, 1, tzinfo=UTC).timestamp()
    assert report.bundled_months == [november] and report.bundled_hours_months == [november]
    grains = [c.grain for c in store.commits()]
    assert (grains.count("month"), grains.count("hours-month"), len(grains)) == (3, 1, 4)
    after = [answer(store, **o) for o in options_list]
    for a, b in zip(before, after, strict=True):
        for x, y in zip(a.sets, b.sets, strict=True):
            assert sorted(x.names) == sorted(y.names)
            ox, oy = np.argsort(x.names), np.argsort(y.names)
            for f in NUMERIC_FIELDS:
                if f in ("cpuCoreUsageMax", "ramByteUsageMax"):
                    continue  # peaks of a day, not of a step: compared below
                assert np.allclose(x.columns[f][ox], y.columns[f][oy], rtol=1e-9, atol=1e-9), f
    assert after[0].meta["source"]["finestStep"] == "1d"
    hour_files = list(Path(store.root).glob("cluster=*/date=2026-11-19/part=h*/*.parquet"))
    assert hour_files == []  # the hours' files are gone once the day is visible


def test_retention_drops_partitions_older_than_it(tmp_path: Path) -> None:
    store = LedgerStore(str(tmp_path / "ledger"))
    sample = SampleSource(now=NOW)
    asyncio.run(close_hours(sample, store, FIRST.timestamp(), FIRST.timestamp() + 6 * 3600))
    later = FIRST.timestamp() + 4 * 3600 + 86400 * 400
    report = housekeep(store, later, hourly_days=1000, retention_days=400)
    assert report.dropped == 4
    [kept] = store.commits()  # the two hours left, bundled (and in the month's bundle)
    assert (kept.grain, kept.end - kept.start) == ("hours-month", 2 * 3600)


def test_bundled_days_keep_hourly_steps_and_repair_rewrites_them_whole(tmp_path: Path) -> None:
    store = LedgerStore(str(tmp_path / "ledger"))
    sample = SampleSource(now=NOW)
    asyncio.run(close_hours(sample, store, FIRST.timestamp(), LAST.timestamp()))
    hourly = {"aggregate": ("namespace",), "step": timedelta(hours=1), "include_idle": True}
    before = answer(store, **hourly)
    report = housekeep(store, NOW.timestamp(), hourly_days=14.0)
    assert len(report.bundled_days) == 4 and report.compacted_days == []
    files = list(Path(store.root).glob("cluster=*/date=*/part=*/segments.parquet"))
    assert len(files) == 1  # one file per table and month instead of 24 per day
    after = answer(store, **hourly)
    assert after.meta["source"]["finestStep"] == "1h"
    for x, y in zip(before.sets, after.sets, strict=True):
        ox, oy = np.argsort(x.names), np.argsort(y.names)
        assert np.allclose(x.columns["totalCost"][ox], y.columns["totalCost"][oy], rtol=1e-9)
    # Repairing two hours of a bundled day rewrites the whole day as hours.
    two = datetime(2026, 11, 20, 10, tzinfo=UTC).timestamp()
    repaired = asyncio.run(close_hours(sample, store, two, two + 7200, rewrite=True))
    assert len(repaired.written) == 24
    grains = [c.grain for c in store.commits()]
    assert (grains.count("hours-month"), grains.count("hour")) == (3, 24)
    again = answer(store, **hourly)
    for x, y in zip(before.sets, again.sets, strict=True):
        ox, oy = np.argsort(x.names), np.argsort(y.names)
        assert np.allclose(x.columns["totalCost"][ox], y.columns["totalCost"][oy], rtol=1e-9)
