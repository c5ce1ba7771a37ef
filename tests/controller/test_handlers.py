"""The kopf handlers are thin: watch events reach the scheduler; cleanup stops it."""

from __future__ import annotations

import asyncio
from pathlib import Path

import kopf

from costreport.controller.handlers import observe, report_count, stop
from costreport.controller.scheduler import ReportScheduler
from tests.api.conftest import TinySource
from tests.controller.fakes import TINY_DAY, FakeKube, report


class ClosingKube(FakeKube):
    closed = False

    async def close(self) -> None:
        self.closed = True


async def test_events_update_the_registry_and_the_probe_counts_reports() -> None:
    scheduler = ReportScheduler(TinySource(), FakeKube(), operator_namespace="costreport")
    memo = kopf.Memo(scheduler=scheduler)
    spec = {"window": TINY_DAY}
    await observe(event={"type": None, "object": report("r1", spec)}, memo=memo)
    await observe(event={"type": "ADDED", "object": report("r2", spec, namespace=None)}, memo=memo)
    assert await report_count(memo=memo) == 2
    assert scheduler.wakeup.is_set()  # new reports are computed at once
    await observe(event={"type": "DELETED", "object": report("r1", spec)}, memo=memo)
    assert set(scheduler.reports) == {("ClusterCostReport", None, "r2")}


async def test_cleanup_cancels_the_scheduler_and_closes_the_client() -> None:
    kube = ClosingKube()
    scheduler = ReportScheduler(TinySource(), kube, operator_namespace="costreport")
    task = asyncio.create_task(scheduler.run_forever(3600))
    await asyncio.sleep(0)
    memo = kopf.Memo(task=task, kube=kube)
    await stop(memo=memo)
    assert task.cancelled() and kube.closed


async def test_a_ledger_over_prometheus_starts_the_pod_watch_and_feeds_the_source(
    tmp_path: Path,
) -> None:
    from costreport.controller.handlers import start_ledger
    from costreport.sources.ledger import LedgerStore
    from costreport.sources.lifecycle import CombinedLives
    from costreport.sources.prometheus import PrometheusConfig, PrometheusSource

    live = PrometheusSource(PrometheusConfig("http://127.0.0.1:9", default_cluster="prod"))
    kube = ClosingKube()
    memo = kopf.Memo(
        kube=kube,
        operator_namespace="costreport",
        ledger_store=LedgerStore(str(tmp_path)),
        live=live,
        lifecycle_records=True,
    )
    start_ledger(memo)
    try:
        assert isinstance(live.lifecycles, CombinedLives)
        assert memo.recorder.book.cluster == "prod"
        assert memo.closer.lifecycle is not None
    finally:
        await stop(memo=memo)
        await live.close()
    assert memo.recorder_task.cancelled() and memo.ledger_task.cancelled()
    # Off (or not Prometheus): no watch.
    other = kopf.Memo(
        kube=kube,
        operator_namespace="costreport",
        ledger_store=LedgerStore(str(tmp_path)),
        live=TinySource(),
        lifecycle_records=True,
    )
    start_ledger(other)
    assert other.get("recorder") is None and other.closer.lifecycle is None
    await stop(memo=other)


async def test_budget_events_reach_the_evaluator() -> None:
    from costreport.controller.budgets import BudgetEvaluator
    from costreport.controller.handlers import observe_budget

    evaluator = BudgetEvaluator(TinySource(), FakeKube())
    memo = kopf.Memo(budgets=evaluator)
    body = {
        "kind": "CostBudget",
        "metadata": {"name": "b", "namespace": "a", "uid": "u"},
        "spec": {"amount": "1"},
    }
    await observe_budget(event={"type": "ADDED", "object": body}, memo=memo)
    assert list(evaluator.budgets) == [("CostBudget", "a", "b")]
    await observe_budget(event={"type": "DELETED", "object": body}, memo=memo)
    assert evaluator.budgets == {}
