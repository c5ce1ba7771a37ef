"""1,000 budgets over the 10,000-pod sample (scale 80) evaluated in one cycle.

CostBudgets per namespace and ClusterCostBudgets per team label and controller kind (idle
excluded, so they share one computation per window), plus a few sharing idle (each its own
computation). Prints the cycle's time and peak RSS against a baseline measured in the same
run: one allocation query of the same month-to-date window (what one budget would cost alone).

    .venv/bin/python benchmarks/budgets.py [--budgets 1000] [--scale 80]
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from costreport.controller.budgets import BudgetEvaluator
from costreport.engine.params import parse_allocation_query
from costreport.sources.arrow_pool import configure_arrow_pool
from costreport.sources.sample import SampleSource
from costreport.sources.service import query_allocations

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


class Kube:
    def __init__(self) -> None:
        self.patches = 0
        self.events = 0

    async def patch_status(self, ref: object, status: object) -> None:
        self.patches += 1

    async def post_event(self, *args: object) -> None:
        self.events += 1

    async def get_secret(self, namespace: str, name: str) -> None:
        return None


def budgets(count: int, namespaces: list[str], teams: list[str]) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    kinds = ["deployment", "statefulset", "daemonset", "job"]
    for i in range(count):
        if i % 200 == 199:  # a few that share idle: their own computation
            spec = {
                "amount": "5000",
                "idle": {"mode": "share"},
                "filter": f'namespace:"{namespaces[i % len(namespaces)]}"',
            }
            out.append(
                {
                    "kind": "ClusterCostBudget",
                    "metadata": {"name": f"idle-{i}", "generation": 1},
                    "spec": spec,
                }
            )
        elif i % 2:
            ns = namespaces[i % len(namespaces)]
            out.append(
                {
                    "kind": "CostBudget",
                    "metadata": {"name": f"b{i}", "namespace": ns, "generation": 1},
                    "spec": {
                        "amount": str(100 + i),
                        "filter": f'controllerKind:"{kinds[i % 4]}"' if i % 3 else "",
                    },
                }
            )
        else:
            team = teams[i % len(teams)]
            out.append(
                {
                    "kind": "ClusterCostBudget",
                    "metadata": {"name": f"team-{i}", "generation": 1},
                    "spec": {
                        "amount": str(1000 + i),
                        "period": "quarter" if i % 4 == 0 else "month",
                        "filter": f'label[team]:"{team}"',
                    },
                }
            )
    return out  # fmt: skip


async def main() -> None:
    import logging

    logging.getLogger("costreport.budgets").setLevel(logging.ERROR)  # 1,000 budgets' crossings
    parser = argparse.ArgumentParser()
    parser.add_argument("--budgets", type=int, default=1000)
    parser.add_argument("--scale", type=float, default=80.0)
    args = parser.parse_args()
    configure_arrow_pool()  # as the costreport process does
    sample = SampleSource(now=NOW, scale=args.scale)
    data = sample.data()
    namespaces = sorted({p.namespace for p in data.pods})
    teams = sorted({p.labels.get("team", "") for p in data.pods} - {""}) or ["none"]
    began = time.perf_counter()
    query = parse_allocation_query({"window": "month", "aggregate": "namespace"}, now=NOW)
    await query_allocations(sample, query, now=NOW.timestamp())
    baseline = time.perf_counter() - began
    base_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    kube = Kube()
    evaluator = BudgetEvaluator(sample, kube, clock=lambda: NOW)  # type: ignore[arg-type]
    for body in budgets(args.budgets, namespaces, teams):
        evaluator.observe("ADDED", body)
    began = time.perf_counter()
    outcomes = await evaluator.tick()
    cycle = time.perf_counter() - began
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    failed = [o for o in outcomes if o.endswith(("failed", "invalid"))]
    print(f"sample scale {args.scale:g}: {len(data.pods):,} pods; {args.budgets} budgets "
          f"({len(namespaces)} namespaces, {len(teams)} teams)")  # fmt: skip
    print(f"baseline: one month-to-date query {baseline:.2f} s, peak RSS {base_rss:.0f} MiB")
    print(f"one cycle: {cycle:.2f} s ({cycle / baseline:.1f}× one query) for {len(outcomes)} "
          f"budgets, {evaluator.shared_computations} shared computations, {len(failed)} failed; "
          f"RSS {rss:.0f} MiB; {kube.patches} status writes, {kube.events} events")  # fmt: skip


if __name__ == "__main__":
    asyncio.run(main())
