"""kopf wiring: watch events feed the scheduler's registry; one scheduler task runs reports.

No timers, daemons or delete handlers, so kopf puts no finalizer on reports: deleting a
CostReport never waits for the operator (its ConfigMaps are garbage-collected through their
ownerReferences). Handlers return None, so nothing leaks into `.status`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import Callable, Mapping
from typing import Any

import kopf

from costreport.controller.budgets import BudgetEvaluator, WebhookNotifier
from costreport.controller.ledger import AlwaysLeader, LeaseElector, LedgerCloser
from costreport.controller.lifecycle import LifecycleWriter, PodRecorder
from costreport.controller.scheduler import ReportScheduler
from costreport.engine.privacy import LabelPolicy
from costreport.model.report import GROUP, VERSION
from costreport.sources.kubernetes import KubeClient
from costreport.sources.ledger.lifecycle import LifecycleFiles
from costreport.sources.lifecycle import CombinedLives, LifecycleBook
from costreport.sources.prometheus import PrometheusSource


def _cleaner(policy: LabelPolicy | None) -> Callable[[Mapping[str, str]], Mapping[str, str]]:
    """Labels and annotations of recorded pods go through the label policy before storage."""
    if policy is None:
        return lambda labels: labels
    return policy.clean


@kopf.on.startup()
async def start(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    """Tune kopf for production and start the scheduler."""
    settings.persistence.finalizer = f"{GROUP}/finalizer"
    settings.networking.request_timeout = 30
    settings.networking.connect_timeout = 10
    settings.watching.server_timeout = 600
    settings.watching.client_timeout = 660
    settings.posting.enabled = False
    info = kopf.login_with_service_account(settings=settings) or kopf.login_with_kubeconfig(
        settings=settings
    )
    if info is None:
        raise kopf.PermanentError("no Kubernetes credentials (service account or kubeconfig)")
    memo.kube = KubeClient.from_connection(info)
    memo.scheduler = ReportScheduler(
        memo.source,
        memo.kube,
        operator_namespace=memo.operator_namespace,
        policy=memo.get("policy"),
    )
    memo.task = asyncio.create_task(memo.scheduler.run_forever(memo.tick_seconds))
    memo.budgets = BudgetEvaluator(
        memo.source,
        memo.kube,
        notifier=WebhookNotifier(memo.kube, operator_namespace=memo.operator_namespace),
        policy=memo.get("policy"),
    )
    memo.budget_task = asyncio.create_task(memo.budgets.run_forever(memo.tick_seconds))
    start_ledger(memo)


def start_ledger(memo: kopf.Memo) -> None:
    """With a ledger: the hour closer (leader only) and, over Prometheus, the pod watch."""
    store = memo.get("ledger_store")
    if store is None:
        return
    elector = (
        LeaseElector(
            memo.kube,
            memo.operator_namespace,
            f"{memo.peering}-ledger",
            f"{socket.gethostname()}-{os.getpid()}",
        )
        if memo.get("peering")
        else AlwaysLeader()
    )
    writer = None
    live = memo.live
    if memo.get("lifecycle_records") and isinstance(live, PrometheusSource):
        book = LifecycleBook(live.config.default_cluster, clean=_cleaner(memo.get("policy")))
        files = LifecycleFiles(store, [book.cluster])
        live.lifecycles = CombinedLives(files, book)
        writer = LifecycleWriter(book, files)
        memo.recorder = PodRecorder(memo.kube, book)
        memo.recorder_task = asyncio.create_task(memo.recorder.run_forever())
    memo.closer = LedgerCloser(
        store,
        memo.live,
        lifecycle=writer,
        billing=memo.get("billing_url"),
        elector=elector,
        backfill_days=memo.get("backfill_days", 30.0),
        hourly_days=memo.get("hourly_days", 14.0),
        retention_days=memo.get("retention_days", 400.0),
        policy=memo.get("policy"),
    )
    memo.ledger_task = asyncio.create_task(memo.closer.run_forever())


@kopf.on.cleanup()
async def stop(memo: kopf.Memo, **_: Any) -> None:
    """Cancel the scheduler and close the HTTP session."""
    for name in ("task", "ledger_task", "recorder_task", "budget_task"):
        task = memo.get(name)
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    kube = memo.get("kube")
    if kube is not None:
        await kube.close()


@kopf.on.event(GROUP, VERSION, "costreports")
@kopf.on.event(GROUP, VERSION, "clustercostreports")
async def observe(event: kopf.RawEvent, memo: kopf.Memo, **_: Any) -> None:
    """Every add, change and delete of a report updates the scheduler's registry."""
    memo.scheduler.observe(str(event.get("type") or "ADDED"), event["object"])


@kopf.on.event(GROUP, VERSION, "costbudgets")
@kopf.on.event(GROUP, VERSION, "clustercostbudgets")
async def observe_budget(event: kopf.RawEvent, memo: kopf.Memo, **_: Any) -> None:
    """Every add, change and delete of a budget updates the evaluator's registry."""
    budgets = memo.get("budgets")
    if budgets is not None:
        budgets.observe(str(event.get("type") or "ADDED"), event["object"])


@kopf.on.probe(id="reports")
async def report_count(memo: kopf.Memo, **_: Any) -> int:
    """Liveness detail: how many reports the operator tracks."""
    scheduler = memo.get("scheduler")
    return len(scheduler.reports) if scheduler is not None else 0
