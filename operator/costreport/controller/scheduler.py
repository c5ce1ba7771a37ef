"""The operator's loop: keep a registry of reports, run the due ones, write their results.

One task for the whole operator (no per-object kopf timers, so no finalizers: deleting a
report never waits for the operator). Each tick decides "is it due?" from the report's own
status, so restarts neither skip nor repeat runs; reports asking the same question share one
computation; status is written only when it changed; a failed run keeps the last good status
and ConfigMaps, says why in the conditions, posts one Event per transition and retries with
backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from pydantic import ValidationError

from costreport.controller.focus_output import write_focus
from costreport.controller.outputs import build_configmaps
from costreport.controller.reconcile import (
    InvalidSpec,
    failure_status,
    is_due,
    query_key,
    report_query,
    status_changed,
    success_status,
)
from costreport.controller.spec import CostReportSpec
from costreport.engine.privacy import LabelPolicy
from costreport.model.allocation import AllocationSetRange
from costreport.model.cluster import ClusterSource
from costreport.model.errors import InvalidParameter, SourceUnavailable
from costreport.model.query import AllocationQuery
from costreport.model.report import ReportRef
from costreport.sources.service import query_allocations

log = logging.getLogger("costreport.operator")


class KubeApi(Protocol):
    """The few Kubernetes calls the operator makes (a fake implements it in tests)."""

    async def patch_status(self, ref: ReportRef, status: Mapping[str, Any]) -> None:
        """Merge-patch the report's status subresource."""
        ...

    async def apply_configmap(self, manifest: Mapping[str, Any]) -> None:
        """Create or replace a ConfigMap."""
        ...

    async def delete_configmap(self, namespace: str, name: str) -> None:
        """Delete a ConfigMap (absent is fine)."""
        ...

    async def post_event(
        self, ref: ReportRef, uid: str, type_: str, reason: str, message: str
    ) -> bool:
        """Post a Kubernetes Event about the report (best effort: False when refused)."""
        ...


@dataclass(slots=True)
class Report:
    """The operator's view of one report object."""

    ref: ReportRef
    uid: str
    generation: int
    spec: Mapping[str, Any]
    status: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class Outcome:
    """What one report's run did (for logs and tests)."""

    ref: ReportRef
    ok: bool
    reason: str
    wrote_status: bool


class ReportScheduler:
    """Runs due reports over a source and writes results through a `KubeApi`."""

    def __init__(
        self,
        source: ClusterSource,
        kube: KubeApi,
        *,
        operator_namespace: str,
        clock: Callable[[], datetime] = lambda: datetime.now(tz=UTC),
        concurrency: int = 2,
        policy: LabelPolicy | None = None,
    ) -> None:
        self.source = source
        self.kube = kube
        self.operator_namespace = operator_namespace
        self.clock = clock
        self.reports: dict[tuple[str, str | None, str], Report] = {}
        self.semaphore = asyncio.Semaphore(concurrency)
        self.wakeup = asyncio.Event()
        self.computations = 0
        self.policy = policy or LabelPolicy()

    # -- registry ---------------------------------------------------------------------
    def observe(self, event_type: str, body: Mapping[str, Any]) -> None:
        """Track a watch event of a CostReport or ClusterCostReport."""
        meta = body.get("metadata") or {}
        ref = ReportRef(str(body.get("kind")), meta.get("namespace"), str(meta.get("name")))
        key = (ref.kind, ref.namespace, ref.name)
        if event_type == "DELETED" or meta.get("deletionTimestamp"):
            self.reports.pop(key, None)
            return
        known = self.reports.get(key)
        generation = int(meta.get("generation", 1))
        report = Report(
            ref=ref,
            uid=str(meta.get("uid", "")),
            generation=generation,
            spec=dict(body.get("spec") or {}),
            status=dict(body.get("status") or {}),
        )
        if known is not None and known.status and not report.status:
            report.status = known.status
        self.reports[key] = report
        if known is None or known.generation != generation:
            self.wakeup.set()

    # -- running ----------------------------------------------------------------------
    async def tick(self) -> list[Outcome]:
        """Run every due report once; reports with the same query share the computation.

        Each report is isolated: whatever its spec, its computation or its writes raise, only
        that report goes `Ready=False`; every other report still runs in this tick.
        """
        now = self.clock()
        plans: dict[str, tuple[AllocationQuery, list[tuple[Report, CostReportSpec, str]]]] = {}
        outcomes: list[Outcome] = []
        for report in list(self.reports.values()):
            try:
                planned = self._plan(report, now)
            except _Rejected as rejected:
                outcomes.append(await self._fail(report, "InvalidSpec", rejected.message, True))
                continue
            except Exception as error:  # one report's spec never stops the others
                log.exception(
                    "report planning failed", extra={"context": {"report": report.ref.key}}
                )
                outcomes.append(
                    await self._fail(report, "InvalidSpec", _describe(error), permanent=True)
                )
                continue
            if planned is None:
                continue
            query, spec, idle = planned
            key = query_key(query)
            plans.setdefault(key, (query, []))[1].append((report, spec, idle))
        results = await asyncio.gather(*(self._compute(q) for q, _ in plans.values()))
        for (_, members), (result, reason, failure) in zip(plans.values(), results, strict=True):
            for report, spec, idle in members:
                if result is None:
                    outcomes.append(await self._fail(report, failure, reason, False))
                    continue
                try:
                    outcomes.append(await self._succeed(report, spec, idle, result, now))
                except Exception as error:  # a failed write affects this report only
                    log.exception(
                        "report output failed", extra={"context": {"report": report.ref.key}}
                    )
                    outcomes.append(
                        await self._fail(report, "OutputFailed", _describe(error), False)
                    )
        return outcomes

    def _plan(
        self, report: Report, now: datetime
    ) -> tuple[AllocationQuery, CostReportSpec, str] | None:
        """The report's query when it is due, None when not; `_Rejected` for a bad spec."""
        try:
            spec = CostReportSpec.model_validate(report.spec)
        except ValidationError as error:
            raise _Rejected(_first_error(error)) from None
        try:
            if not is_due(spec, report.status, report.generation, now):
                return None
            query, idle = report_query(spec, report.ref, now=now)
            self.policy.check(query)
        except InvalidParameter as error:
            raise _Rejected(error.message) from None
        except InvalidSpec as error:
            raise _Rejected(str(error)) from None
        return query, spec, idle

    async def _compute(self, query: AllocationQuery) -> tuple[AllocationSetRange | None, str, str]:
        """The result, or None with the reason and the condition reason of the failure."""
        async with self.semaphore:
            self.computations += 1
            try:
                result = await query_allocations(self.source, query, policy=self.policy)
            except SourceUnavailable as error:
                return None, error.reason, "PrometheusUnavailable"
            except InvalidParameter as error:
                return None, error.message, "InvalidSpec"
            except Exception as error:  # contained to the reports sharing this query
                log.exception("report computation failed")
                return None, _describe(error), "ComputationFailed"
            return result, "", ""

    async def _succeed(
        self,
        report: Report,
        spec: CostReportSpec,
        idle: str,
        result: AllocationSetRange,
        now: datetime,
    ) -> Outcome:
        namespace = report.ref.namespace or self.operator_namespace
        outputs: list[str] = []
        previous_outputs = list(report.status.get("outputs") or [])
        summary = {"report": report.ref.key, "meta": result.meta}
        if spec.output.config_map:
            manifests = build_configmaps(
                report_kind=report.ref.kind,
                report_name=report.ref.name,
                report_uid=report.uid,
                namespace=namespace,
                result=result,
                fmt=spec.output.format,
                summary=summary,
            )
            for manifest in manifests:
                await self.kube.apply_configmap(manifest)
            outputs = [m["metadata"]["name"] for m in manifests]
        for stale in previous_outputs:
            if stale not in outputs and not stale.startswith("focus:"):
                await self.kube.delete_configmap(namespace, stale)
        query, _ = report_query(spec, report.ref, now=now)
        if spec.output.focus is not None:
            path = await write_focus(
                self.source,
                report.ref,
                query.window,
                spec.output.focus,
                now=now,
                basis=spec.cost_basis,
                policy=self.policy,
            )
            outputs.append(f"focus:{path}")
        new = success_status(
            report.status,
            result=result,
            query=query,
            spec=spec,
            idle_handling=idle,
            generation=report.generation,
            now=now,
            outputs=outputs,
            currency=str(result.meta.get("currency", "USD")),
        )
        recovered = bool(report.status.get("consecutiveFailures"))
        wrote = await self._write(report, new)
        if recovered:
            await self.kube.post_event(
                report.ref, report.uid, "Normal", "Recovered", "report computed again"
            )
        log.info(
            "report computed",
            extra={"context": {"report": report.ref.key, "rows": new["rowCount"]}},
        )
        return Outcome(report.ref, True, "Computed", wrote)

    async def _fail(self, report: Report, reason: str, message: str, permanent: bool) -> Outcome:
        """Record a failure in the report's status; a failing write is logged, not raised."""
        try:
            return await self._record_failure(report, reason, message, permanent)
        except Exception:
            log.exception(
                "report status write failed", extra={"context": {"report": report.ref.key}}
            )
            return Outcome(report.ref, False, reason, False)

    async def _record_failure(
        self, report: Report, reason: str, message: str, permanent: bool
    ) -> Outcome:
        now = self.clock()
        was_ready = _ready(report.status)
        already = report.status.get("lastError") == message[:1024] and not was_ready
        if already and permanent and report.status.get("attemptedGeneration") == report.generation:
            return Outcome(report.ref, False, reason, False)
        patch = failure_status(
            report.status,
            reason=reason,
            message=message,
            generation=report.generation,
            now=now,
            permanent=permanent,
        )
        wrote = await self._write(report, patch)
        if not already:
            await self.kube.post_event(report.ref, report.uid, "Warning", reason, message[:1024])
        log.warning(
            "report failed",
            extra={"context": {"report": report.ref.key, "reason": reason, "error": message}},
        )
        return Outcome(report.ref, False, reason, wrote)

    async def _write(self, report: Report, patch: Mapping[str, Any]) -> bool:
        if not status_changed(report.status, patch):
            return False
        await self.kube.patch_status(report.ref, patch)
        report.status.update(patch)
        return True

    async def run_forever(self, interval_seconds: float = 30.0) -> None:
        """Tick every `interval_seconds`, or at once when a report is created or changed."""
        while True:
            try:
                await self.tick()
            except Exception:
                log.exception("scheduler tick failed")
            self.wakeup.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wakeup.wait(), timeout=interval_seconds)


class _Rejected(Exception):
    """A report's spec cannot be run (its message goes to the report's status)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _describe(error: BaseException) -> str:
    """A one-line description of an unexpected error for a report's status."""
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return f"{type(error).__name__}: {text}"[:1024] if text else type(error).__name__


def _ready(status: Mapping[str, Any]) -> bool:
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in status.get("conditions") or []
    )


def _first_error(error: ValidationError) -> str:
    first = error.errors()[0]
    location = ".".join(str(p) for p in first["loc"])
    return f"spec.{location}: {first['msg']}"
