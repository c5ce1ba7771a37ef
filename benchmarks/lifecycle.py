"""The pod watch's memory and speed on a 10,000-pod cluster with Job churn.

Feeds the recorder's book what a watch delivers: 10,000 running pods (two containers each),
then 50,000 short Jobs added, started, finished and deleted (four events each), and measures
events per second and the book's memory (tracemalloc) against a baseline measured in the same
run: the same pods kept as Pod objects, as an informer cache would.

    .venv/bin/python benchmarks/lifecycle.py [--pods 10000] [--jobs 50000]
"""

from __future__ import annotations

import argparse
import copy
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.sources.lifecycle.pods import T0, finished, pod, running

from costreport.sources.arrow_pool import configure_arrow_pool
from costreport.sources.lifecycle import LifecycleBook


def web(i: int) -> dict[str, Any]:
    obj = pod(
        f"web-{i}",
        namespace=f"ns-{i % 200}",
        node=f"node-{i % 300}",
        containers={"app": running(T0), "sidecar": running(T0 + 1)},
        requests={"app": {"cpu": "250m", "memory": "256Mi"}, "sidecar": {"cpu": "50m"}},
        labels={"app": f"web-{i % 50}", "team": f"t{i % 20}", "pod-template-hash": "5d8f7"},
        owner=("ReplicaSet", f"web-{i % 50}-5d8f7"),
    )
    obj["metadata"]["annotations"] = {"kubectl.kubernetes.io/last-applied-configuration": "x" * 800}
    return obj


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pods", type=int, default=10_000)
    parser.add_argument("--jobs", type=int, default=50_000)
    args = parser.parse_args()
    configure_arrow_pool()  # as the costreport process does
    pods = [web(i) for i in range(args.pods)]

    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    cache = {p["metadata"]["uid"]: copy.deepcopy(p) for p in pods}
    informer = tracemalloc.get_traced_memory()[0] - base
    del cache
    tracemalloc.stop()

    def feed() -> tuple[LifecycleBook, int]:
        book = LifecycleBook("c1", clock=lambda: T0 + 10)
        for p in pods:
            book.apply("ADDED", p, T0 + 10)
        events = len(pods)
        for j in range(args.jobs):
            start = T0 + 20 + j * 0.5
            name = f"job-{j}"
            for kind, state in (
                ("ADDED", {}),
                ("MODIFIED", running(start)),
                ("MODIFIED", finished(start, start + 30)),
                ("DELETED", finished(start, start + 30)),
            ):
                book.apply(kind, pod(name, containers={"main": state}), start + 31)
            events += 4
            if j % 7200 == 7199:  # an hour of churn written to the ledger: ended lives forgotten
                book.prune(start)
        return book, events

    began = time.perf_counter()
    book, events = feed()
    seconds = time.perf_counter() - began
    del book
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    book, _ = feed()
    held = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    print(f"{args.pods:,} running pods + {args.jobs:,} short Jobs: {events:,} events in "
          f"{seconds:.1f} s = {events / seconds:,.0f} events/s")  # fmt: skip
    print(f"book: {len(book):,} records, {held / 2**20:.1f} MiB; the same pods as Pod objects "
          f"(an informer cache): {informer / 2**20:.1f} MiB")  # fmt: skip
    print(f"book/cache {held / informer:.2f}")


if __name__ == "__main__":
    main()
