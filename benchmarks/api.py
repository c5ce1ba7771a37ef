"""API speed on the 10,000-pod sample: warm p95 under 20 concurrent clients, cold overhead.

Starts `costreport serve` twice on free loopback ports (one with the response cache, one with
it disabled), waits for /readyz, then:
- warm: 20 concurrent clients × `--requests` requests of the UI's overview query; p50/p95/max;
- cold: the same query against the cache-less server, median of `--cold` requests, against the
  median time of the engine doing the same work in this process (fetch with the server's default
  label policy, compute, encode), so the difference is HTTP and JSON overhead.
Targets (issue #3): warm p95 ≤ 50 ms; cold ≤ 1.2 × engine.

    .venv/bin/python benchmarks/api.py [--scale 80] [--requests 50] [--cold 5]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import orjson

QUERY = {
    "window": "7d",
    "aggregate": "namespace",
    "accumulate": "day",
    "includeIdle": "true",
}
PATH = "/allocation/compute"
BIN = Path(sys.executable).parent / "costreport"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def server(scale: float, cache_mb: int) -> Iterator[str]:
    """A `costreport serve` process on a free loopback port; stopped with SIGTERM."""
    port = free_port()
    process = subprocess.Popen(
        [
            str(BIN),
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--scale",
            str(scale),
            "--cache-mb",
            str(cache_mb),
            "--log-format",
            "json",
            "--rate-limit",
            "0",
            "--client-concurrency",
            "0",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=30)


async def wait_ready(base: str) -> None:
    deadline = time.monotonic() + 120
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            try:
                async with session.get(base + "/readyz") as r:
                    if r.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.2)
    raise RuntimeError("server did not become ready")


async def timed_get(session: aiohttp.ClientSession, url: str) -> float:
    t0 = time.perf_counter()
    async with session.get(url, params=QUERY) as r:
        await r.read()
        assert r.status == 200, r.status
    return time.perf_counter() - t0


async def warm(base: str, clients: int, requests: int) -> list[float]:
    async with aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=clients), timeout=aiohttp.ClientTimeout(total=60)
    ) as session:
        await timed_get(session, base + PATH)  # prime the cache

        async def client() -> list[float]:
            return [await timed_get(session, base + PATH) for _ in range(requests)]

        results = await asyncio.gather(*(client() for _ in range(clients)))
    return sorted(t for r in results for t in r)


async def cold(base: str, count: int) -> list[float]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120)) as session:
        return [await timed_get(session, base + PATH) for _ in range(count)]


def engine_times(scale: float, count: int) -> list[float]:
    from costreport.engine.params import parse_allocation_query
    from costreport.engine.privacy import LabelPolicy
    from costreport.sources.sample import SampleSource
    from costreport.sources.service import query_allocations

    source = SampleSource(scale=scale)
    source.data()
    query = parse_allocation_query(QUERY, now=datetime.now(tz=UTC))

    async def once() -> float:
        t0 = time.perf_counter()
        result = await query_allocations(source, query, policy=LabelPolicy())
        orjson.dumps(
            {"code": 200, "status": "success", "data": result.to_json(), "meta": result.meta}
        )
        return time.perf_counter() - t0

    return [asyncio.run(once()) for _ in range(count)]


def percentile(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, int(q * len(values)))]


def main() -> None:
    """Print the figures and whether each target is met."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=float, default=80.0)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--cold", type=int, default=5)
    args = parser.parse_args()
    with server(args.scale, 256) as base:
        asyncio.run(wait_ready(base))
        latencies = asyncio.run(warm(base, args.clients, args.requests))
    with server(args.scale, 0) as base:
        asyncio.run(wait_ready(base))
        cold_times = asyncio.run(cold(base, args.cold + 1))[1:]
    engine = engine_times(args.scale, args.cold)
    p95 = percentile(latencies, 0.95) * 1000
    cold_median, engine_median = statistics.median(cold_times), statistics.median(engine)
    ratio = cold_median / engine_median
    print(
        f"query: {PATH}?"
        + "&".join(f"{k}={v}" for k, v in QUERY.items())
        + f" (scale {args.scale:g})"
    )
    print(
        f"warm, {args.clients} clients × {args.requests}: "
        f"p50 {percentile(latencies, 0.5) * 1000:.1f} ms, "
        f"p95 {p95:.1f} ms, max {latencies[-1] * 1000:.1f} ms, "
        f"{len(latencies) / sum(latencies) * args.clients:.0f} req/s"
    )
    print(
        f"cold HTTP median {cold_median * 1000:.0f} ms, engine median {engine_median * 1000:.0f} ms"
    )
    print(f"{'PASS' if p95 <= 50 else 'MISS'}  warm p95 {p95:.1f} ms ≤ 50 ms")
    print(f"{'PASS' if ratio <= 1.2 else 'MISS'}  cold/engine {ratio:.2f} ≤ 1.2")


if __name__ == "__main__":
    main()
