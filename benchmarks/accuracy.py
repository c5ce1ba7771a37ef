"""Accuracy for short-lived pods: computed/actual cost per pod, against a real Prometheus.

Reproduces OpenCost's error table (reference §3.3): pods running 30 s, 5 min, 1 h, 1 d (and
7 d with --long) at many random phases, scraped every 30 s (`--scrape`), queried at 1m … 60m.
Each cell prints the lowest and highest computed/actual ratio over the pods, beside OpenCost's
published bounds. Two populations:

- `timestamped`: pods whose end kube-state-metrics reports (`kube_pod_completion_time` for
  Jobs, `kube_pod_deletion_timestamp` for deleted pods) — the target [0.99, 1.01] applies;
- `vanished`: pods that disappeared with no end timestamp, whose end is estimated from the
  number of running samples (error up to one scrape interval). Their durations get a random
  extra 0–29 s: with exact multiples of the scrape interval the count would be exact;
- `restarted`: StatefulSet-style pods whose name comes back with a new uid on a node with
  another price (a spot node), each life timestamped: both lives must be costed, each on its
  node (OpenCost keys pods by name and costs one life, #991);
- `delayed`: Job pods whose containers start 5–60 s after the pod (image pull, init
  containers). With `kube_pod_container_state_started` (default) the start is exact; with
  `--no-state-started` it is the first running sample (error ≤ one scrape interval), where the
  pod's start would overstate every such pod;
- `unscraped`: Job pods deleted as soon as they finish (`ttlSecondsAfterFinished: 0`), so a
  30 s one is seen by no scrape at all half the time with `--scrape 60` (-100 %, as in
  OpenCost's table).

Each table is printed twice: from the metrics alone, and with the lifecycle records the
operator's pod watch keeps (exact container start and end from the Kubernetes API; usage from
cAdvisor where it was sampled, requests otherwise): every population is then exact.

    .venv/bin/python benchmarks/accuracy.py [--phases 20] [--long] [--no-state-started]
        [--scrape 60]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.sources.prom_harness import (
    SimCluster,
    SimContainer,
    SimNode,
    SimPod,
)
from tests.sources.prom_server import running_prometheus, tools_available

from costreport.engine.allocation import compute_allocations
from costreport.model.lifecycle import ContainerLife
from costreport.model.pricing import InstancePrice, PricingConfig
from costreport.model.query import AllocationQuery
from costreport.model.window import Window, parse_duration
from costreport.sources.arrow_pool import configure_arrow_pool
from costreport.sources.prometheus import PrometheusConfig, PrometheusSource
from costreport.sources.service import query_allocations

DURATIONS = {"30s": 30, "5m": 300, "1h": 3600, "1d": 86400}
RESOLUTIONS = ["1m", "2m", "5m", "10m", "30m", "60m"]
OPENCOST = {  # (low, high) from OpenCost's published table; -1 = can be missed entirely
    ("1m", "30s"): (-1.0, 2.0),
    ("1m", "5m"): (0.8, 1.0),
    ("1m", "1h"): (0.98, 1.0),
    ("1m", "1d"): (1.0, 1.0),
    ("5m", "30s"): (-1.0, 10.0),
    ("5m", "5m"): (-1.0, 1.0),
    ("5m", "1h"): (0.92, 1.0),
    ("5m", "1d"): (1.0, 1.0),
    ("60m", "30s"): (-1.0, 120.0),
    ("60m", "5m"): (-1.0, 12.0),
    ("60m", "1h"): (-1.0, 1.0),
    ("60m", "1d"): (0.96, 1.0),
    ("1m", "7d"): (1.0, 1.0),
    ("5m", "7d"): (1.0, 1.0),
    ("60m", "7d"): (0.99, 1.0),
}
START = datetime(2026, 10, 1, tzinfo=UTC).timestamp()


KINDS = ("timestamped", "vanished", "restarted", "delayed", "unscraped")


def simulation(
    phases: int,
    durations: dict[str, int],
    seed: int,
    state_started: bool = True,
    scrape: float = 30.0,
) -> tuple[SimCluster, dict[str, tuple[str, str]]]:
    """Pods of each duration at random phases; returns the cluster and pod → (duration, kind)."""
    rng = random.Random(seed)
    longest = max(durations.values())
    span = 2 * longest + 86400 + 3600
    sim = SimCluster(start=START, end=START + span, scrape=scrape, state_started=state_started)
    sim.nodes = [
        SimNode("c1", "n1", START, START + span, 64, 256, "m5.16xlarge", 0.04, 0.005),
        SimNode("c1", "s1", START, START + span, 64, 256, "m5.16xlarge", 0.012, 0.0015, spot=True),
    ]
    index: dict[str, tuple[str, str]] = {}
    main = [SimContainer("main", 0.5, 0.2, 0.5, 0.25)]
    for label, seconds in durations.items():
        for i in range(phases):
            start = START + 600 + rng.uniform(0, 86400)
            name = f"r-{label}-{i}"
            second = start + seconds + rng.uniform(30, 120)
            for life, (node, begin) in enumerate((("n1", start), ("s1", second))):
                sim.pods.append(
                    SimPod("c1", "bench", name, node, begin, begin + seconds, main,
                           "StatefulSet", f"db-{label}-{i}", deleted=True,
                           uid_override=f"{name}-life-{life}")
                )  # fmt: skip
            index[name] = (label, "restarted")
            start = START + 600 + rng.uniform(0, 86400)
            name = f"d-{label}-{i}"
            delay = rng.uniform(5, 60)  # the containers then run `seconds`
            sim.pods.append(
                SimPod("c1", "bench", name, "n1", start, start + delay + seconds, main, "Job",
                       f"job-d-{label}-{i}", completed=True, delay=delay)
            )  # fmt: skip
            index[name] = (label, "delayed")
    for label, seconds in durations.items():
        for i in range(phases):
            start = START + 600 + rng.uniform(0, 86400)
            name = f"u-{label}-{i}"
            sim.pods.append(
                SimPod("c1", "bench", name, "n1", start, start + seconds, main, "Job",
                       f"job-u-{label}-{i}", completed=True, linger=0.0)
            )  # fmt: skip
            index[name] = (label, "unscraped")
    for label, seconds in durations.items():
        for i in range(phases):
            for kind in ("timestamped", "vanished"):
                start = START + 600 + rng.uniform(0, 86400)
                extra = rng.uniform(0, 29) if kind == "vanished" else 0.0
                name = f"{kind[0]}-{label}-{i}"
                job = kind == "timestamped" and seconds < 86400
                sim.pods.append(
                    SimPod(
                        "c1",
                        "bench",
                        name,
                        "n1",
                        start,
                        start + seconds + extra,
                        [SimContainer("main", 0.5, 0.2, 0.5, 0.25)],
                        "Job" if job else "",
                        f"job-{label}-{i}" if job else "",
                        completed=job,
                        deleted=kind == "timestamped" and not job,
                    )
                )
                index[name] = (label, kind)
    return sim, index


class Records:
    """The simulation's lifecycle records, as the operator's pod watch keeps them."""

    def __init__(self, sim: SimCluster) -> None:
        self.items = sim.records()

    async def lives(self, start: float, end: float) -> list[ContainerLife]:
        return [r for r in self.items if r.start < end and r.known_end > start]


async def measure(
    url: str,
    sim: SimCluster,
    index: dict[str, tuple[str, str]],
    resolution: str,
    records: bool = False,
) -> dict[tuple[str, str], list[float]]:
    window = Window(
        datetime.fromtimestamp(sim.start, tz=UTC), datetime.fromtimestamp(sim.end, tz=UTC)
    )
    query = AllocationQuery(
        window=window,
        aggregate=("pod",),
        resolution=parse_duration(resolution, parameter="resolution"),
    )
    prices = InstancePrice(cpu=0.04, ram=0.005, spotCPU=0.012, spotRAM=0.0015)
    pricing = PricingConfig(instanceTypes={"m5.16xlarge": prices})
    source = PrometheusSource(
        PrometheusConfig(url, scrape_interval_seconds=sim.scrape, timeout_seconds=300),
        pricing,
        Records(sim) if records else None,
    )
    got = await query_allocations(source, query, now=sim.end)
    await source.close()
    truth = compute_allocations(sim.truth(), query, now=sim.end)
    actual = dict(
        zip(truth.sets[0].names, truth.sets[0].columns["totalCost"].tolist(), strict=True)
    )
    computed = dict(zip(got.sets[0].names, got.sets[0].columns["totalCost"].tolist(), strict=True))
    ratios: dict[tuple[str, str], list[float]] = {}
    for pod, key in index.items():
        ratios.setdefault(key, []).append(computed.get(pod, 0.0) / actual[pod])
    return ratios


def main() -> None:
    """Print the table."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--phases", type=int, default=20)
    parser.add_argument("--long", action="store_true", help="add 7-day pods")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--scrape", type=float, default=30.0, help="scrape interval in seconds (e.g. 60)"
    )
    parser.add_argument(
        "--no-state-started",
        action="store_true",
        help="simulate kube-state-metrics without kube_pod_container_state_started",
    )
    args = parser.parse_args()
    configure_arrow_pool()  # as the costreport process does
    if reason := tools_available():
        sys.exit(reason)
    durations = dict(DURATIONS)
    if args.long:
        durations["7d"] = 7 * 86400
    sim, index = simulation(
        args.phases, durations, args.seed, not args.no_state_started, args.scrape
    )
    tables: dict[bool, dict[str, dict[tuple[str, str], list[float]]]] = {False: {}, True: {}}
    for server in running_prometheus(sim):
        for records in (False, True):
            for resolution in RESOLUTIONS:
                tables[records][resolution] = asyncio.run(
                    measure(server.url, sim, index, resolution, records)
                )
    print(
        f"{args.phases} phases per duration, scrape {args.scrape:g} s; "
        "cells: lowest–highest computed/actual"
    )
    print("(OpenCost's published bounds in brackets; -1 = a pod can be missed)\n")
    for records in (False, True):
        print("=== with lifecycle records ===\n" if records else "=== metrics only ===\n")
        report(tables[records], durations, records, args.no_state_started)


def report(
    table: dict[str, dict[tuple[str, str], list[float]]],
    durations: dict[str, int],
    records: bool,
    no_state_started: bool,
) -> None:
    """Print one table per population."""
    for kind in KINDS:
        print(f"{kind} pods")
        print("res  " + "".join(f"{label:>26}" for label in durations))
        worst = (1.0, 1.0)
        for resolution in RESOLUTIONS:
            cells = []
            for label in durations:
                values = table[resolution][(label, kind)]
                low, high = min(values), max(values)
                worst = (min(worst[0], low), max(worst[1], high))
                bound = OPENCOST.get((resolution, label))
                ref = f" [{bound[0]:g},{bound[1]:g}]" if bound else ""
                cells.append(f"{low:.4f}–{high:.4f}{ref}")
            print(f"{resolution:<5}" + "".join(f"{c:>26}" for c in cells))
        exact = (
            records
            or kind in ("timestamped", "restarted")
            or (kind == "delayed" and not no_state_started)
        )
        verdict = "PASS" if exact and worst[0] >= 0.99 and worst[1] <= 1.01 else ""
        print(f"worst {worst[0]:.4f}–{worst[1]:.4f} {verdict}\n")


if __name__ == "__main__":
    main()
