"""The operator's budget loop: period-to-date spend, forecast, thresholds, Events, webhooks.

Each tick evaluates the budgets that are due (every `spec.schedule`, 15 minutes by default, or
at once after a spec change). A budget's spend is the allocation total of its filter over the
calendar period so far (a namespaced CostBudget only ever counts its own namespace), through
the same source and ledger as reports. Status is written only when it changed; a failed
evaluation keeps the last good numbers and says why in `Ready`. Each threshold crossing is
announced once per period — a Kubernetes Event (Warning from 100 %), a log line and, when
configured, a Slack-compatible webhook POST retried with backoff in its own task — because
the reached thresholds and their period live in the status: a restart repeats nothing, and a
new period starts with none reached.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol

import aiohttp
from pydantic import ValidationError

from costreport.controller.budget_spec import CostBudgetSpec
from costreport.controller.reconcile import (
    format_timestamp,
    next_run_time,
    policy_params,
    set_condition,
)
from costreport.engine.budget import evaluate, forecast, parse_offset, period_bounds
from costreport.engine.filters import parse_filter
from costreport.engine.params import parse_allocation_query
from costreport.engine.privacy import LabelPolicy
from costreport.model.cluster import ClusterSource
from costreport.model.errors import InvalidParameter, SourceUnavailable
from costreport.model.report import ReportRef
from costreport.sources.service import query_allocations

log = logging.getLogger("costreport.budgets")
SHAREABLE = frozenset(
    {
        "cluster",
        "node",
        "namespace",
        "controllerName",
        "controllerKind",
        "pod",
        "label",
        "annotation",
    }
)
"""Filter fields every member of a pod-level row shares (and any label or annotation)."""


def shareable(fields: frozenset[str]) -> bool:
    """Whether a filter reads only fields a pod-level row keeps."""
    return all(f in SHAREABLE or f.startswith(("label:", "annotation:")) for f in fields)


KINDS = ("CostBudget", "ClusterCostBudget")


class BudgetKube(Protocol):
    """The Kubernetes calls budgets need (`KubeClient`, or a fake in tests)."""

    async def patch_status(self, ref: ReportRef, status: Mapping[str, Any]) -> None:
        """Merge-patch the budget's status."""
        ...

    async def post_event(
        self, ref: ReportRef, uid: str, type_: str, reason: str, message: str
    ) -> bool:
        """Post an Event about the budget (best effort: False when refused)."""
        ...

    async def get_secret(self, namespace: str, name: str) -> dict[str, Any] | None:
        """A Secret, or None when absent."""
        ...


@dataclass(slots=True)
class Budget:
    """The operator's view of one budget object."""

    ref: ReportRef
    uid: str
    generation: int
    spec: Mapping[str, Any]
    status: dict[str, Any] = field(default_factory=dict)
    evaluated_at: datetime | None = None
    evaluated_generation: int = -1


def _money(value: float) -> str:
    return f"{value:.2f}"


class WebhookNotifier:
    """Slack-compatible JSON POSTs, each in its own task, retried with backoff."""

    def __init__(
        self,
        kube: BudgetKube,
        *,
        attempts: int = 3,
        timeout_seconds: float = 10.0,
        backoff_seconds: float = 1.0,
        operator_namespace: str = "default",
    ) -> None:
        self.kube, self.attempts = kube, attempts
        self.timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self.backoff, self.operator_namespace = backoff_seconds, operator_namespace
        self.tasks: set[asyncio.Task[bool]] = set()
        self.gate = asyncio.Semaphore(4)

    def notify(self, budget: Budget, spec: CostBudgetSpec, text: str) -> None:
        """Start delivering one message (never blocks the caller)."""
        webhook = spec.notify.webhook
        if webhook is None:
            return
        task = asyncio.create_task(
            self._deliver(budget, webhook.url_secret.name, webhook.url_secret.key, text)
        )
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _deliver(self, budget: Budget, secret: str, key: str, text: str) -> bool:
        namespace = budget.ref.namespace or self.operator_namespace
        async with self.gate:
            try:
                found = await self.kube.get_secret(namespace, secret)
                url = base64.b64decode(((found or {}).get("data") or {})[key]).decode().strip()
            except Exception as error:
                context = {"budget": budget.ref.key, "secret": f"{namespace}/{secret}"}
                context["error"] = str(error)[:200]
                log.warning("budget webhook secret unreadable", extra={"context": context})
                return False
            delay = self.backoff
            for attempt in range(1, self.attempts + 1):
                try:
                    async with (
                        aiohttp.ClientSession(timeout=self.timeout) as session,
                        session.post(url, json={"text": text}) as response,
                    ):
                        if response.status < 300:
                            return True
                        problem = f"HTTP {response.status}"
                except (aiohttp.ClientError, TimeoutError) as error:
                    problem = type(error).__name__
                context = {"budget": budget.ref.key, "attempt": str(attempt), "error": problem}
                log.warning("budget webhook failed", extra={"context": context})
                if attempt < self.attempts:
                    await asyncio.sleep(delay)
                    delay *= 2
            return False


class BudgetEvaluator:
    """Evaluates due budgets every tick."""

    def __init__(
        self,
        source: ClusterSource,
        kube: BudgetKube,
        *,
        notifier: WebhookNotifier | None = None,
        policy: LabelPolicy | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(tz=UTC),
    ) -> None:
        self.source, self.kube, self.policy, self.clock = source, kube, policy, clock
        self.notifier = notifier if notifier is not None else WebhookNotifier(kube)
        self.budgets: dict[tuple[str, str | None, str], Budget] = {}
        self.wakeup = asyncio.Event()
        self._shared: dict[
            tuple[datetime, datetime, str],
            tuple[list[tuple[dict[str, Any], float]], dict[str, Any]],
        ] = {}
        self.shared_computations = 0
        self._projections: dict[Any, list[tuple[dict[str, Any], float]]] = {}

    def observe(self, event_type: str, body: Mapping[str, Any]) -> None:
        """A watch event for a budget."""
        meta = body.get("metadata") or {}
        kind = str(body.get("kind") or "CostBudget")
        ref = ReportRef(
            kind, meta.get("namespace") if kind == "CostBudget" else None, str(meta.get("name"))
        )
        key = (ref.kind, ref.namespace, ref.name)
        if event_type == "DELETED":
            self.budgets.pop(key, None)
            return
        held = self.budgets.get(key)
        budget = Budget(
            ref,
            str(meta.get("uid", "")),
            int(meta.get("generation") or 0),
            dict(body.get("spec") or {}),
            dict(body.get("status") or {}),
        )
        if held is not None:
            budget.evaluated_at, budget.evaluated_generation = (
                held.evaluated_at,
                held.evaluated_generation,
            )
            budget.status = {**budget.status, **held.status} if not budget.status else budget.status
        self.budgets[key] = budget
        if held is None or held.generation != budget.generation:
            self.wakeup.set()

    def _due(self, budget: Budget, spec: CostBudgetSpec, now: datetime) -> bool:
        if budget.evaluated_generation != budget.generation or budget.evaluated_at is None:
            return True
        return next_run_time(spec.schedule, budget.evaluated_at) <= now

    async def tick(self) -> list[str]:
        """Evaluate every due budget; returns what happened per budget (for logs and tests)."""
        now = self.clock()
        outcomes = []
        self._shared.clear()  # computations are shared within a tick, never across ticks
        self._projections.clear()
        for budget in list(self.budgets.values()):
            try:
                spec = CostBudgetSpec.model_validate(budget.spec)
            except ValidationError as error:
                first = error.errors()[0]
                where = ".".join(str(p) for p in first.get("loc", ()))
                await self._fail(budget, "InvalidSpec", f"spec.{where}: {first.get('msg')}", now)
                outcomes.append(f"{budget.ref.key}: invalid")
                continue
            if not self._due(budget, spec, now):
                continue
            try:
                outcomes.append(await self._evaluate(budget, spec, now))
            except InvalidParameter as error:
                await self._fail(budget, "InvalidSpec", error.message, now)
                outcomes.append(f"{budget.ref.key}: invalid")
            except SourceUnavailable as error:
                await self._fail(budget, "SourceUnavailable", error.reason, now)
                outcomes.append(f"{budget.ref.key}: failed")
            except Exception as error:  # one bad budget never stops the others
                log.exception(
                    "budget evaluation failed", extra={"context": {"budget": budget.ref.key}}
                )
                await self._fail(
                    budget, "EvaluationFailed", f"{type(error).__name__}: {error}"[:500], now
                )
                outcomes.append(f"{budget.ref.key}: failed")
            budget.evaluated_at, budget.evaluated_generation = now, budget.generation
        return outcomes

    async def _spend(
        self, budget: Budget, spec: CostBudgetSpec, start: datetime, end: datetime, now: datetime
    ) -> tuple[float, dict[str, Any]]:
        filters = []
        if budget.ref.kind == "CostBudget":
            if spec.sharing.applied:
                raise InvalidParameter(
                    "sharing", "", "none in a CostBudget (it sees its own namespace only)"
                )
            filters.append(f'namespace:"{budget.ref.namespace}"')
        if spec.filter.strip():
            filters.append(f"({spec.filter})")
        combined = parse_filter("+".join(filters))
        fields = combined.fields()
        if spec.idle.mode == "exclude" and not spec.sharing.applied and shareable(fields):
            rows, meta = await self._shared_rows(start, end, spec.cost_basis, now)
            projected = self._project((start, end, spec.cost_basis), rows, fields)
            return sum(cost for record, cost in projected if combined.matches(record)), meta
        params = {
            "window": f"{format_timestamp(start)},{format_timestamp(end)}",
            "aggregate": "all",
            "accumulate": "all",
            **policy_params(spec.idle, spec.sharing),
            "filter": "+".join(filters),
            "costBasis": spec.cost_basis,
        }
        query = parse_allocation_query(
            {k: v for k, v in params.items() if v not in ("", "0")}, now=now
        )
        result = await query_allocations(
            self.source, query, now=now.timestamp(), policy=self.policy
        )
        total = sum(float(s.columns["totalCost"].sum()) for s in result.sets)
        return total, result.meta

    async def _shared_rows(
        self, start: datetime, end: datetime, basis: str, now: datetime
    ) -> tuple[list[tuple[dict[str, Any], float]], dict[str, Any]]:
        """One computation per window and cost basis this tick: every pod's cost with the
        record filters match, shared by every budget that asks a question of it (no idle,
        no sharing, filters on pod-level fields): summing the rows a filter passes is exactly
        that filter's query total."""
        key = (start, end, basis)
        held = self._shared.get(key)
        if held is not None:
            return held
        params = {
            "window": f"{format_timestamp(start)},{format_timestamp(end)}",
            "aggregate": "cluster,node,namespace,controllerKind,controller,pod",
            "accumulate": "all",
            "costBasis": basis,
        }
        query = parse_allocation_query(params, now=now)
        result = await query_allocations(
            self.source, query, now=now.timestamp(), policy=self.policy
        )
        rows: list[tuple[dict[str, Any], float]] = []
        for s in result.sets:
            for i, props in enumerate(s.properties):
                record = {
                    "cluster": props.get("cluster", ""),
                    "node": props.get("node", ""),
                    "namespace": props.get("namespace", ""),
                    "controllerName": props.get("controller", ""),
                    "controllerKind": props.get("controllerKind", ""),
                    "pod": props.get("pod", ""),
                    "labels": props.get("labels") or {},
                    "annotations": props.get("annotations") or {},
                }
                rows.append((record, float(s.columns["totalCost"][i])))
        self._shared[key] = (rows, dict(result.meta))
        self.shared_computations += 1
        return self._shared[key]

    def _project(
        self,
        key: tuple[datetime, datetime, str],
        rows: list[tuple[dict[str, Any], float]],
        fields: frozenset[str],
    ) -> list[tuple[dict[str, Any], float]]:
        """The rows summed by the values of the fields a filter reads (budgets asking by
        namespace, kind or a label then match a few dozen records, not every pod)."""
        if "label" in fields or "annotation" in fields:
            return rows  # a key-less label test reads every key
        cache_key = (key, fields)
        held = self._projections.get(cache_key)
        if held is not None:
            return held
        plain = sorted(f for f in fields if ":" not in f)
        labels = sorted(f[6:] for f in fields if f.startswith("label:"))
        notes = sorted(f[11:] for f in fields if f.startswith("annotation:"))
        sums: dict[tuple[Any, ...], float] = {}
        for record, cost in rows:
            signature = (
                tuple(record.get(f, "") for f in plain),
                tuple(record["labels"].get(k) for k in labels),
                tuple(record["annotations"].get(k) for k in notes),
            )
            sums[signature] = sums.get(signature, 0.0) + cost
        projected = []
        for (values, label_values, note_values), cost in sums.items():
            summary: dict[str, Any] = dict(zip(plain, values, strict=True))
            summary["labels"] = {
                k: v for k, v in zip(labels, label_values, strict=True) if v is not None
            }
            summary["annotations"] = {
                k: v for k, v in zip(notes, note_values, strict=True) if v is not None
            }
            projected.append((summary, cost))
        self._projections[cache_key] = projected
        return projected

    async def _evaluate(self, budget: Budget, spec: CostBudgetSpec, now: datetime) -> str:
        offset = parse_offset(spec.utc_offset)
        start, end = period_bounds(spec.period, now, offset)
        until = min(now, end)
        spent, meta = await self._spend(budget, spec, start, until, now)
        trailing = None
        if spec.forecast.method == "trailing":
            since = max(start, until - timedelta(days=spec.forecast.days))
            trailing, _ = (
                await self._spend(budget, spec, since, until, now) if since < until else (0.0, {})
            )
            days = (until - since).total_seconds() / 86400
        projected = forecast(
            spec.forecast.method,
            spent,
            start,
            end,
            until,
            trailing,
            days if trailing is not None else spec.forecast.days,
        )
        state = evaluate(Decimal(spec.amount), spent, projected, spec.thresholds)
        coverage = meta.get("coverage") or {}
        covered_from = str(coverage.get("start") or "") if isinstance(coverage, dict) else ""
        partial = bool(covered_from) and covered_from > format_timestamp(start)
        period = {"start": format_timestamp(start), "end": format_timestamp(end)}
        previous = budget.status
        known = (
            list(previous.get("thresholdsReached") or [])
            if (previous.get("period") or {}).get("start") == period["start"]
            else []
        )
        crossed = [t for t in state.reached if t not in known]
        status: dict[str, Any] = {
            "observedGeneration": budget.generation,
            "amount": spec.amount,
            "currency": spec.currency,
            "spent": _money(state.spent),
            "forecast": _money(state.forecast),
            "percentSpent": round(state.percent_spent, 1),
            "percentForecast": round(state.percent_forecast, 1),
            "period": period,
            "partial": partial,
            "thresholdsReached": sorted({*known, *state.reached}),
            "budgetDisplay": f"{spec.amount} {spec.currency}",
            "spentDisplay": f"{_money(state.spent)} {spec.currency}",
            "forecastDisplay": f"{_money(state.forecast)} {spec.currency}",
            "lastEvaluated": format_timestamp(now),
            "lastError": "",
        }
        conditions = list(previous.get("conditions") or [])
        ready = "evaluated"
        if partial:
            ready += (
                f"; the data starts {covered_from}, after the period's start {period['start']}: "
                "the spend is partial"
            )
        gen = budget.generation
        conditions = set_condition(conditions, "Ready", True, "Evaluated", ready, gen, now)
        over = state.percent_spent >= 100
        top = max(state.reached, default=0)
        reason = "Exceeded" if over else (f"ThresholdReached{top}" if top else "UnderThresholds")
        spent_text = (
            f"{status['spentDisplay']} of {status['budgetDisplay']} "
            f"({state.percent_spent:.1f} %) in {period['start']} → {period['end']}"
        )
        conditions = set_condition(
            conditions, "WithinBudget", not over, reason, spent_text, gen, now
        )
        ahead = state.percent_forecast >= 100
        forecast_text = (
            f"forecast {status['forecastDisplay']} ({state.percent_forecast:.1f} %) by "
            f"{period['end']} ({spec.forecast.method})"
        )
        conditions = set_condition(
            conditions,
            "ForecastWithinBudget",
            not ahead,
            "ForecastExceeded" if ahead else "ForecastUnder",
            forecast_text,
            gen,
            now,
        )
        status["conditions"] = conditions
        for threshold in crossed:
            text = (
                f"{budget.ref.kind} {budget.ref.key}: {threshold} % reached — spent "
                f"{status['spentDisplay']} of {status['budgetDisplay']} this {spec.period} "
                f"(forecast {status['forecastDisplay']})"
            )
            kind = "Warning" if threshold >= 100 else "Normal"
            await self.kube.post_event(
                budget.ref, budget.uid, kind, f"ThresholdReached{threshold}", text
            )
            context = {"budget": budget.ref.key, "threshold": str(threshold)}
            log.warning("budget threshold reached", extra={"context": context})
            self.notifier.notify(budget, spec, text)
        if _changed(previous, status):
            await self.kube.patch_status(budget.ref, status)
        budget.status = {**previous, **status}
        return (
            f"{budget.ref.key}: {status['spent']} ({status['percentSpent']} %), crossed {crossed}"
        )

    async def _fail(self, budget: Budget, reason: str, message: str, now: datetime) -> None:
        conditions = set_condition(
            list(budget.status.get("conditions") or []), "Ready", False, reason, message,
            budget.generation, now,
        )  # fmt: skip
        patch = {"conditions": conditions, "lastError": message}
        if _changed(budget.status, patch):
            await self.kube.patch_status(budget.ref, patch)
        budget.status = {**budget.status, **patch}

    async def run_forever(self, interval_seconds: float = 30.0) -> None:
        """Tick every interval (or at once when a budget changes)."""
        while True:
            started = time.monotonic()
            try:
                await self.tick()
            except Exception:
                log.exception("budget tick failed")
            self.wakeup.clear()
            remaining = max(1.0, interval_seconds - (time.monotonic() - started))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wakeup.wait(), remaining)


def _changed(previous: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    """Whether anything but the evaluation time (and condition times) changed."""

    def strip(status: Mapping[str, Any]) -> dict[str, Any]:
        out = {k: v for k, v in status.items() if k != "lastEvaluated"}
        out["conditions"] = [
            {k: v for k, v in c.items() if k != "lastTransitionTime"}
            for c in status.get("conditions") or []
        ]
        return out

    return strip({k: previous.get(k) for k in new}) != strip(new)
