"""The cost ledger on the 10,000-pod sample (scale 80): ingest, size, cold and warm reads.

Figures are printed as ratios against baselines measured in the same run:

- ingest: seconds per closed hour, hours per second over a 30-day backfill, peak RSS;
- size: bytes per 30 days, hourly and after daily compaction (default: 14 days hourly);
- cold `window=30d&step=1d&aggregate=namespace&includeIdle=true&shareIdle=true` from the
  ledger, against the same query on the live path (the in-memory sample: a lower bound of any
  live source; Prometheus is far slower, see benchmarks/prometheus.py);
- `window=90d&accumulate=month` cold from a 90-day ledger;
- a 30-day query over a 400-day ledger against the same over a 30-day one (only the
  partitions a window needs are read; the 370 older days are copies of one compacted day,
  bundled into months);
- warm p95 with 20 concurrent clients on the API (response cache).

The ledger reads are measured after the in-memory sample is released (a `serve` process holds
no sample; with it, every garbage collection walks ~1 GiB of objects and is timed too).

    .venv/bin/python benchmarks/ledger.py [--scale 80] [--days 90]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import resource
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from costreport.engine.params import parse_allocation_query
from costreport.engine.privacy import LabelPolicy
from costreport.sources.arrow_pool import configure_arrow_pool
from costreport.sources.ledger import LedgerSource, LedgerStore, close_hours
from costreport.sources.ledger.compact import housekeep
from costreport.sources.ledger.schema import TABLES
from costreport.sources.ledger.store import MERGED
from costreport.sources.sample import SampleSource
from costreport.sources.service import query_allocations

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
QUERY = {
    "window": "30d",
    "step": "1d",
    "aggregate": "namespace",
    "includeIdle": "true",
    "shareIdle": "true",
}


def rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cold(source: object, params: dict[str, str], repeat: int = 3) -> float:
    """Median seconds of a query computed from scratch (fresh source objects for the ledger),
    with the label policy `serve` applies by default."""
    query = parse_allocation_query(params, now=NOW)
    times = []
    for _ in range(repeat):
        fresh = LedgerSource(source.store) if isinstance(source, LedgerSource) else source
        began = time.perf_counter()
        asyncio.run(
            query_allocations(fresh, query, now=NOW.timestamp(), policy=LabelPolicy())  # type: ignore[arg-type]
        )
        times.append(time.perf_counter() - began)
    return statistics.median(times)


def fake_history(store: LedgerStore, days: int) -> None:
    """`days` more compacted days before the ledger's first, copies of its first day's rows
    (written as plain days; the benchmark then bundles them into months as housekeeping would)."""
    first = min((c for c in store.commits() if c.grain in MERGED), key=lambda c: c.start)
    [tables] = store.read_each([first], TABLES)
    for k in range(1, days + 1):
        start = first.start - k * 86400
        store.write_partition(first.cluster, start, start + 86400, "day", tables)


async def warm_p95(source: object, clients: int = 20, each: int = 50) -> float:
    from aiohttp.test_utils import TestClient, TestServer

    from costreport.api.app import ApiSettings, create_app

    app = create_app(source, ApiSettings(clock=lambda: NOW, rate_per_second=1e6, rate_burst=10**6))  # type: ignore[arg-type]
    url = "/allocation/compute?" + "&".join(f"{k}={v}" for k, v in QUERY.items())
    latencies: list[float] = []
    async with TestClient(TestServer(app)) as client:
        assert (await client.get(url)).status == 200  # fills the cache

        async def one() -> None:
            for _ in range(each):
                began = time.perf_counter()
                response = await client.get(url)
                await response.read()
                latencies.append(time.perf_counter() - began)

        await asyncio.gather(*(one() for _ in range(clients)))
    latencies.sort()
    return latencies[int(0.95 * len(latencies))] * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=float, default=80.0)
    parser.add_argument("--days", type=int, default=90)
    args = parser.parse_args()
    configure_arrow_pool()  # as the costreport process does
    work = Path(tempfile.mkdtemp(prefix="ledger-bench-"))
    sample = SampleSource(now=NOW, scale=args.scale, days=args.days + 1)
    began = time.perf_counter()
    data = sample.data()
    print(f"sample: scale {args.scale:g}, {len(data.pods):,} pods over {args.days + 1} days "
          f"(generated in {time.perf_counter() - began:.1f} s)")  # fmt: skip

    store = LedgerStore(str(work / "ledger"))
    end = NOW.replace(minute=0).timestamp()
    one = asyncio.run(close_hours(sample, store, end - 3600, end))
    print(f"ingest one hour: {one.seconds:.2f} s, peak RSS so far {rss_mib():.0f} MiB")
    backfill = asyncio.run(close_hours(sample, store, end - args.days * 86400, end))
    print(f"ingest {args.days} days: {len(backfill.written)} hours in {backfill.seconds:.0f} s "
          f"= {backfill.hours_per_second:.1f} hours/s; peak RSS {rss_mib():.0f} MiB")  # fmt: skip

    thirty = LedgerStore(str(work / "thirty"))
    asyncio.run(close_hours(sample, thirty, end - 30 * 86400, end))
    hourly_bytes = thirty.size_bytes()
    housekeep(thirty, NOW.timestamp(), hourly_days=14)
    housekeep(store, NOW.timestamp(), hourly_days=14)
    compacted = thirty.size_bytes() / 2**20
    print(f"size of 30 days: {hourly_bytes / 2**20:.0f} MiB hourly, "
          f"{compacted:.0f} MiB with 14 days hourly + 16 compacted days")  # fmt: skip

    live = cold(sample, QUERY)
    # What follows reads the ledger only: the sample (~1 GiB of Python objects) is released
    # first, as a `serve` process never holds it (its garbage collections would be timed too).
    del sample, data
    gc.collect()
    ledger = cold(LedgerSource(thirty), QUERY)
    print(f"cold 30d/1d namespace+idle: ledger {ledger:.2f} s, live sample {live:.2f} s "
          f"(ledger/live {ledger / live:.2f})")  # fmt: skip
    month = {"window": f"{args.days}d", "accumulate": "month", "aggregate": "namespace"}
    ninety = cold(LedgerSource(store), month)
    print(f"cold {args.days}d accumulate=month from the ledger: {ninety:.2f} s")

    big = LedgerStore(str(work / "big"))
    shutil.copytree(work / "thirty", work / "big", dirs_exist_ok=True)
    fake_history(big, 370)
    housekeep(big, NOW.timestamp(), hourly_days=14)  # the copied days into month bundles
    over_big = cold(LedgerSource(big), QUERY)
    print(f"30d over a 400-day ledger: {over_big:.2f} s vs {ledger:.2f} s over 30 days "
          f"({over_big / ledger:.2f}×)")  # fmt: skip

    p95 = asyncio.run(warm_p95(LedgerSource(thirty)))
    print(f"warm p95, 20 clients × 50 requests: {p95:.1f} ms")
    print(f"peak RSS {rss_mib():.0f} MiB")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
