"""A fleet's ledger: time and peak memory of one query, per-cluster workers vs all at once.

Builds a ledger of `--clusters` sample clusters (scale `--scale` each, `--days` days hourly)
in one directory, as operators sharing a bucket would, then answers
`window=<days>d&aggregate=namespace&includeIdle=true` in a fresh process three ways: the
baseline decodes every cluster's partitions together; the fleet reader decodes one cluster per
worker with 1 and with 2 workers. Peak memory is Arrow's pool peak plus Python's (tracemalloc).

    .venv/bin/python benchmarks/fleet.py [--clusters 4] [--scale 10] [--days 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pyarrow as pa

from costreport.engine.allocation import compute_allocations
from costreport.model.query import AllocationQuery
from costreport.model.window import Window
from costreport.sources.arrow_pool import configure_arrow_pool
from costreport.sources.ledger import LedgerSource, LedgerStore, close_hours
from costreport.sources.ledger.codec import decode
from costreport.sources.ledger.reader import ENGINE_TABLES, _merge_within_sets
from costreport.sources.sample import SampleSource
from costreport.sources.service import query_allocations
from modes import compare

NOW = datetime(2026, 11, 22, 0, 0, tzinfo=UTC)


def measure(url: str, days: int, mode: str) -> dict[str, float]:
    """One query in this process; returns seconds and peak MiB."""
    window = Window(NOW - timedelta(days=days), NOW)
    query = AllocationQuery(window=window, aggregate=("namespace",), include_idle=True)

    def run() -> None:
        store = LedgerStore(url)
        if mode == "together":
            data = decode(store.read(store.commits(), ENGINE_TABLES), window)
            data.usage = _merge_within_sets(data, window, None)
            compute_allocations(data, query, now=NOW.timestamp())
        else:
            source = LedgerSource(store, parallel=int(mode))
            asyncio.run(query_allocations(source, query, now=NOW.timestamp()))

    began = time.perf_counter()
    run()  # timed without tracemalloc, which slows Python code several times
    seconds = time.perf_counter() - began
    tracemalloc.start()
    run()
    python_peak = tracemalloc.get_traced_memory()[1]
    arrow_peak = pa.default_memory_pool().max_memory() or 0
    return {"seconds": seconds, "mib": (python_peak + arrow_peak) / 2**20}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clusters", type=int, default=4)
    parser.add_argument("--scale", type=float, default=10.0)
    parser.add_argument("--days", type=int, default=3)
    parser.add_argument("--measure", nargs=2, metavar=("URL", "MODE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    configure_arrow_pool()  # as the costreport process does
    if args.measure:
        print(json.dumps(measure(args.measure[0], args.days, args.measure[1])))
        return
    url = tempfile.mkdtemp(prefix="fleet-bench-")
    store = LedgerStore(url)
    for k in range(args.clusters):
        sample = SampleSource(
            now=NOW, scale=args.scale, seed=k, cluster=f"c{k}", days=max(args.days + 1, 11)
        )
        asyncio.run(
            close_hours(sample, store, NOW.timestamp() - args.days * 86400, NOW.timestamp())
        )
    print(f"{args.clusters} clusters × scale {args.scale:g} × {args.days} days hourly, "
          f"{store.size_bytes() / 2**20:.0f} MiB")  # fmt: skip
    compare(
        __file__,
        [
            (mode, label, ["--days", str(args.days), "--measure", url, mode])
            for mode, label in (
                ("together", "all clusters decoded together (baseline)"),
                ("1", "one cluster per worker, 1 worker"),
                ("2", "one cluster per worker, 2 workers"),
            )
        ],
        memory="peak (Arrow + Python)",
    )


if __name__ == "__main__":
    main()
