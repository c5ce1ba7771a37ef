"""The operator's ledger task: close every finished hour, once, on one replica.

Every `interval` seconds the leader closes the hours that ended at least the grace period
ago and are not in the ledger yet: on first start that is a backfill bounded by
`backfill_days` (as far as the live source has data), afterwards the hour that just ended.
"Due" comes from the ledger's own commit markers, so a restart neither skips nor repeats an
hour. With several replicas, a `coordination.k8s.io/v1` Lease elects the one that ingests
(optimistic concurrency on the Lease's resourceVersion); standalone, the one replica always
does.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Protocol

from costreport.controller.lifecycle import LifecycleWriter
from costreport.engine.privacy import LabelPolicy
from costreport.model.cluster import ClusterSource
from costreport.model.errors import SourceUnavailable
from costreport.sources.billing.store import BillingReport, BillingStore
from costreport.sources.kubernetes import KubeRequester
from costreport.sources.ledger import LedgerStore, close_hours, last_closable_hour
from costreport.sources.ledger.compact import housekeep
from costreport.sources.ledger.ingest import IngestReport, cluster_of

log = logging.getLogger("costreport.ledger")


class Elector(Protocol):
    """Decides whether this replica is the one that ingests."""

    async def is_leader(self) -> bool:
        """Whether this replica holds (or just took or renewed) leadership."""
        ...


class AlwaysLeader:
    """A standalone operator: the only replica ingests."""

    async def is_leader(self) -> bool:
        """Always."""
        return True


def _micro(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse(text: str | None) -> float:
    if not text:
        return 0.0
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


RENEW_EVERY_HOURS = 24
"""Hours a backfill closes between two renewals of the Lease (a day: a few seconds here)."""

LEASE_SECONDS = 180
"""How long a ledger Lease lasts unrenewed: three of the closer's 60 s ticks, so a leader that
renews each tick keeps it through a late tick (a Lease as long as the tick flapped to whichever
replica ticked just after it expired), and a stopped one is replaced within three minutes."""


class LeaseElector:
    """Leadership through a Lease: take it when free or expired, renew it while holding it."""

    def __init__(
        self,
        kube: KubeRequester,
        namespace: str,
        name: str,
        identity: str,
        *,
        duration_seconds: int = LEASE_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.kube, self.identity, self.duration, self.clock = (
            kube,
            identity,
            duration_seconds,
            clock,
        )
        self.path = f"/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases/{name}"
        self.collection = f"/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases"
        self.name = name

    async def is_leader(self) -> bool:
        """Take or renew the Lease; False when another replica holds a live one or on error."""
        now = self.clock()
        spec = {
            "holderIdentity": self.identity,
            "leaseDurationSeconds": self.duration,
            "renewTime": _micro(now),
        }
        try:
            lease = await self.kube.request("GET", self.path, ok_missing=True)
            if lease is None:
                body = {
                    "apiVersion": "coordination.k8s.io/v1",
                    "kind": "Lease",
                    "metadata": {"name": self.name},
                    "spec": {**spec, "acquireTime": _micro(now)},
                }
                await self.kube.request("POST", self.collection, body)
                return True
            held = lease.get("spec") or {}
            holder = held.get("holderIdentity")
            expires = _parse(held.get("renewTime")) + float(held.get("leaseDurationSeconds") or 0)
            if holder not in (None, "", self.identity) and expires > now:
                return False
            if holder != self.identity:
                spec["acquireTime"] = _micro(now)
            lease["spec"] = {**held, **spec}
            await self.kube.request("PUT", self.path, lease)  # fails on a resourceVersion race
            return True
        except Exception as error:  # never ingest twice: an unsure replica does not lead
            log.warning("ledger lease not held", extra={"context": {"error": str(error)}})
            return False


class LedgerCloser:
    """Closes due hours into the ledger from the live source."""

    def __init__(
        self,
        store: LedgerStore,
        live: ClusterSource,
        *,
        elector: Elector | None = None,
        backfill_days: float = 30.0,
        hourly_days: float = 14.0,
        retention_days: float = 400.0,
        policy: LabelPolicy | None = None,
        lifecycle: LifecycleWriter | None = None,
        billing: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store, self.live, self.lifecycle = store, live, lifecycle
        self.billing = billing
        """FOCUS bill files read into the ledger at each tick (`--billing`), or None."""
        self.last_bills: BillingReport | None = None
        self.elector = elector or AlwaysLeader()
        self.backfill_days, self.policy, self.clock = backfill_days, policy, clock
        self.hourly_days, self.retention_days = hourly_days, retention_days
        self.last: IngestReport | None = None

    async def tick(self) -> IngestReport | None:
        """Close what is due if this replica leads; None when it does not."""
        if not await self.elector.is_leader():
            return None
        end = last_closable_hour(self.clock())
        if self.lifecycle is not None:  # the records first: the closed hour includes them
            await asyncio.to_thread(self.lifecycle.flush, end)
        commits = await asyncio.to_thread(self.store.commits, cluster_of(self.live))
        last = max((c.end for c in commits), default=None)
        start = last if last is not None else end - self.backfill_days * 86400
        report = await self._close(start, end)
        self.last = report
        if report.interrupted:
            return report
        if self.billing is not None:  # new or changed bill files; a bad one only warns
            bills = await asyncio.to_thread(BillingStore(self.store).ingest, self.billing)
            self.last_bills = bills
            for path, error in bills.failed.items():
                log.warning("bill file refused", extra={"context": {"file": path, "error": error}})
        await asyncio.to_thread(
            housekeep,
            self.store,
            self.clock(),
            hourly_days=self.hourly_days,
            retention_days=self.retention_days,
        )
        if report.written:
            log.info(
                "ledger hours closed",
                extra={"context": {"hours": len(report.written), "until": _micro(end)}},
            )
        return report

    async def _close(self, start: float, end: float) -> IngestReport:
        """`close_hours` a day at a time, renewing leadership between days: a long backfill
        never outlives the Lease, and stops if another replica has taken it."""
        report = IngestReport()
        cursor = start
        while cursor < end:
            upto = min(end, cursor - cursor % 3600 + RENEW_EVERY_HOURS * 3600)
            report.extend(
                await close_hours(self.live, self.store, cursor, upto, policy=self.policy)
            )
            cursor = upto
            if cursor < end and not await self.elector.is_leader():
                context = {"closed": len(report.written), "until": _micro(cursor)}
                log.warning("ledger leadership lost in a backfill", extra={"context": context})
                report.interrupted = True
                break
        return report

    async def run_forever(self, interval_seconds: float = 60.0) -> None:
        """Tick every `interval_seconds`; a failing source is retried at the next tick."""
        while True:
            try:
                await self.tick()
            except SourceUnavailable as error:
                log.warning("ledger ingest failed", extra={"context": {"reason": error.reason}})
            except Exception:
                log.exception("ledger ingest failed")
            await asyncio.sleep(interval_seconds)
