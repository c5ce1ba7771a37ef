"""Engine speed and memory on the sample cluster at ≈1,000 and ≈10,000 pods.

Query: window=7d, step=1d, aggregate=namespace, includeIdle, shareIdle (fetch from the sample
source, compute, render the OpenCost JSON). Each size runs in its own process so peak RSS is
that size's own. Targets (issue #2): 10k time ≤ 12 × 1k time, 10k ≤ 2 s, 10k peak RSS ≤ 1 GiB.

    .venv/bin/python benchmarks/engine.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime

SIZES = {"1k": 8.0, "10k": 80.0}
PARAMS = {
    "window": "7d",
    "step": "1d",
    "aggregate": "namespace",
    "includeIdle": "true",
    "shareIdle": "true",
}


def measure(scale: float, repeat: int) -> dict[str, float]:
    """Time the query `repeat` times at one scale (run inside a fresh process)."""
    import orjson

    from costreport.engine.params import parse_allocation_query
    from costreport.sources.sample import SampleSource, pod_count
    from costreport.sources.service import query_allocations

    source = SampleSource(scale=scale)
    started = time.perf_counter()
    source.data()
    generation = time.perf_counter() - started
    query = parse_allocation_query(PARAMS, now=datetime.now(tz=UTC))
    pods = pod_count(source.data(), query.window)

    async def once() -> float:
        t0 = time.perf_counter()
        result = await query_allocations(source, query)
        orjson.dumps(result.to_json())
        return time.perf_counter() - t0

    times = [asyncio.run(once()) for _ in range(repeat)]
    rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "pods": pods,
        "median_s": statistics.median(times),
        "min_s": min(times),
        "generation_s": generation,
        "peak_rss_mib": rss_mib,
    }


def main() -> None:
    """Run each size in a subprocess and print the figures and the targets."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--child", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        print(json.dumps(measure(args.child, args.repeat)))
        return
    figures = {}
    for label, scale in SIZES.items():
        out = subprocess.run(
            [sys.executable, __file__, "--child", str(scale), "--repeat", str(args.repeat)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        figures[label] = json.loads(out)
    small, large = figures["1k"], figures["10k"]
    ratio = large["median_s"] / small["median_s"]
    print("query: " + "&".join(f"{k}={v}" for k, v in PARAMS.items()))
    print(f"{'size':<6}{'pods':>8}{'median':>10}{'min':>10}{'peak RSS':>12}{'generate':>10}")
    for label, f in figures.items():
        print(
            f"{label:<6}{f['pods']:>8.0f}{f['median_s']:>9.3f}s{f['min_s']:>9.3f}s"
            f"{f['peak_rss_mib']:>9.0f} MiB{f['generation_s']:>9.2f}s"
        )
    checks = [
        (f"10k/1k time ratio {ratio:.2f} ≤ 12", ratio <= 12),
        (f"10k median {large['median_s']:.3f} s ≤ 2 s", large["median_s"] <= 2),
        (f"10k peak RSS {large['peak_rss_mib']:.0f} MiB ≤ 1024 MiB", large["peak_rss_mib"] <= 1024),
    ]
    for text, ok in checks:
        print(f"{'PASS' if ok else 'MISS'}  {text}")


if __name__ == "__main__":
    main()
