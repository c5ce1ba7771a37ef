"""The ledger on a local disk and on a real S3 server: nothing lost, nothing doubled."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from costreport.model.errors import NoData, SourceUnavailable
from costreport.model.query import AllocationQuery
from costreport.model.window import Window
from costreport.sources.ledger import HybridSource, LedgerSource, LedgerStore, close_hours
from costreport.sources.ledger.pieces import clip
from costreport.sources.sample import SampleSource
from costreport.sources.service import query_allocations
from tests.sources.ledger.conftest import FORTY_NOW

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
START = datetime(2026, 11, 21, 0, 0, tzinfo=UTC)
SIX = Window(START, START + timedelta(hours=6))
ROOT = Path(__file__).resolve().parents[3]


def totals(source: object, window: Window = SIX) -> dict[str, float]:
    query = AllocationQuery(window=window, aggregate=("namespace",), include_idle=True)
    result = asyncio.run(query_allocations(source, query, now=NOW.timestamp()))  # type: ignore[arg-type]
    s = result.sets[0]
    return {n: float(s.columns["totalCost"][i]) for i, n in enumerate(s.names)}


def close(source: SampleSource, store: LedgerStore, window: Window = SIX, **kw: object):  # type: ignore[no-untyped-def]
    return asyncio.run(close_hours(source, store, window.start_ts, window.end_ts, **kw))  # type: ignore[arg-type]


def assert_same(a: dict[str, float], b: dict[str, float]) -> None:
    assert set(a) == set(b)
    for name, value in a.items():
        assert b[name] == pytest.approx(value, rel=1e-9, abs=1e-12), name


def test_ingest_is_idempotent_and_repair_rewrites_without_doubling(ledger_url: str) -> None:
    sample = SampleSource(now=NOW)
    store = LedgerStore(ledger_url)
    first = close(sample, store)
    assert (len(first.written), first.already) == (6, 0)
    again = close(sample, store)
    assert (len(again.written), again.already) == (0, 6)
    reads: list[str] = []
    original = store._read_marker

    def counting(path: str):  # type: ignore[no-untyped-def]
        reads.append(path)
        return original(path)

    store._read_marker = counting  # type: ignore[method-assign]
    assert len(store.commits()) == 6 and reads == []  # unchanged markers are not read again
    repaired = close(sample, store, rewrite=True)
    assert len(repaired.written) == 6
    assert len(store.commits()) == 6
    assert len(set(reads)) == 6  # the rewritten markers were read again
    assert_same(totals(sample), totals(LedgerSource(store)))


CRASHING_INGEST = """
import asyncio, os, signal, sys
from datetime import UTC, datetime
from costreport.sources.ledger import LedgerStore, close_hours
from costreport.sources.sample import SampleSource

written = []

def hook():
    written.append(1)
    if len(written) == 3:  # the 3rd hour's data files are written, its marker is not
        os.kill(os.getpid(), signal.SIGKILL)

sample = SampleSource(now=datetime(2026, 11, 22, 12, 0, tzinfo=UTC))
start = datetime(2026, 11, 21, 0, 0, tzinfo=UTC).timestamp()
asyncio.run(close_hours(sample, LedgerStore(sys.argv[1]), start, start + 6 * 3600, hook=hook))
"""


def test_a_sigkilled_ingest_loses_and_doubles_nothing(ledger_url: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", CRASHING_INGEST, ledger_url],
        env={**os.environ, "PYTHONPATH": str(ROOT / "operator")},
        capture_output=True,
        timeout=300,
    )
    assert done.returncode == -signal.SIGKILL, done.stderr.decode()
    store = LedgerStore(ledger_url)
    assert len(store.commits()) == 2  # the half-written third hour is not visible
    sample = SampleSource(now=NOW)
    resumed = close(sample, store)
    assert (len(resumed.written), resumed.already) == (4, 2)
    assert_same(totals(sample), totals(LedgerSource(store)))


class Forgetful:
    """The live sample, forgetting everything older than `keep` before now (Prometheus
    retention)."""

    name = "forgetful"

    def __init__(self, sample: SampleSource, keep: timedelta) -> None:
        self.sample, self.horizon = sample, (sample.now - keep).timestamp()
        self.down = False

    async def cluster_data(self, window: Window, **kw: float | None):  # type: ignore[no-untyped-def]
        if self.down:
            raise SourceUnavailable("prometheus at http://127.0.0.1:1 refused the connection")
        if window.end_ts <= self.horizon:
            raise NoData(f"no data before the retention horizon for {window}")
        data = await self.sample.cluster_data(window, **kw)  # type: ignore[arg-type]
        return clip(data, max(window.start_ts, self.horizon), window.end_ts)

    async def check(self) -> None:
        return None


def test_history_outlives_the_live_sources_retention(
    forty_days: tuple[SampleSource, LedgerStore],
) -> None:
    sample, store = forty_days
    now = FORTY_NOW
    lastmonth = Window(datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 11, 1, tzinfo=UTC))
    thirty = Window(now - timedelta(days=30), now)
    forgetful = Forgetful(sample, timedelta(days=7))
    hybrid = HybridSource(store, forgetful)
    assert_same(totals(sample, lastmonth), totals(hybrid, lastmonth))
    assert_same(totals(sample, thirty), totals(hybrid, thirty))
    # The live source down: closed windows still answer; an open tail only warns.
    forgetful.down = True
    assert_same(totals(sample, lastmonth), totals(hybrid, lastmonth))
    open_window = Window(now - timedelta(days=30), now + timedelta(hours=1))
    query = AllocationQuery(window=open_window, aggregate=("namespace",))
    result = asyncio.run(query_allocations(hybrid, query, now=now.timestamp() + 1800))
    assert [w for w in result.meta["warnings"] if "live source failed" in w] == [
        "the live source failed for the open tail 2026-11-08T12:00:00Z → 2026-11-08T13:00:00Z "
        "(answered from the ledger up to there): prometheus at http://127.0.0.1:1 refused the "
        "connection"
    ]
    # A window that needs live hours the ledger never had is a source error.
    with pytest.raises(SourceUnavailable, match="refused the connection"):
        totals(hybrid, Window(now - timedelta(days=45), now - timedelta(days=39)))


def test_tables_read_in_the_background_equal_a_plain_read_and_fail_one_by_one(
    tmp_path: Path,
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from costreport.sources.ledger.schema import TABLES
    from costreport.sources.ledger.store import StaleListing

    store = LedgerStore(str(tmp_path / "ledger"))
    close(SampleSource(now=NOW), store, Window(START, START + timedelta(hours=2)))
    commits = store.commits()
    plain = store.read(commits, ["pods", "segments"])
    with ThreadPoolExecutor(2) as pool:
        reading = store.read_tables(commits, ["pods", "segments"], pool)
        assert reading["pods"].equals(plain["pods"]) and reading["segments"].equals(
            plain["segments"]
        )
        assert plain["pods"].num_rows > 0 and plain["segments"].num_rows > 0
        assert reading["nodes"].num_rows == 0 and reading["nodes"].schema == TABLES["nodes"]
        assert list(reading) == list(TABLES)
        with pytest.raises(KeyError):
            reading["no-such-table"]
    lost = commits[1].files["segments"]
    (Path(store.root) / lost).unlink()
    with ThreadPoolExecutor(2) as pool:
        reading = LedgerStore(store.root).read_tables(commits, ["pods", "segments"], pool)
        assert reading["pods"].equals(plain["pods"])  # its files are all there
        with pytest.raises(StaleListing, match=lost):
            reading["segments"]
