"""The operator's ledger task: one replica ingests, due hours come from the ledger itself."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from costreport.controller.ledger import LeaseElector, LedgerCloser
from costreport.sources.kubernetes import KubeError
from costreport.sources.ledger import LedgerStore
from costreport.sources.sample import SampleSource

NOW = datetime(2026, 11, 22, 12, 10, tzinfo=UTC).timestamp()


class FakeLeases:
    """Leases with the API server's optimistic concurrency on resourceVersion."""

    def __init__(self) -> None:
        self.lease: dict[str, Any] | None = None
        self.version = 0

    async def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        content_type: str = "",
        ok_missing: bool = False,
    ) -> Any:
        if method == "GET":
            return copy.deepcopy(self.lease)
        if method == "POST":
            if self.lease is not None:
                raise KubeError(f"POST {path}: 409 AlreadyExists")
        elif method == "PUT":
            sent = body["metadata"].get("resourceVersion")
            if self.lease is None or sent != self.lease["metadata"]["resourceVersion"]:
                raise KubeError(f"PUT {path}: 409 Conflict")
        self.version += 1
        self.lease = copy.deepcopy(body)
        self.lease["metadata"]["resourceVersion"] = str(self.version)
        return copy.deepcopy(self.lease)


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


async def test_one_replica_holds_the_lease_until_it_expires() -> None:
    api, clock = FakeLeases(), Clock(NOW)
    a = LeaseElector(api, "costreport", "costreport-ledger", "a", clock=clock)
    b = LeaseElector(api, "costreport", "costreport-ledger", "b", clock=clock)
    assert await a.is_leader() and not await b.is_leader()
    clock.now += 30
    assert await a.is_leader() and not await b.is_leader()  # a renews
    clock.now += 61  # a stopped renewing: the lease expired
    assert await b.is_leader() and not await a.is_leader()
    assert api.lease is not None and api.lease["spec"]["holderIdentity"] == "b"


async def test_a_lost_race_is_not_leadership() -> None:
    api, clock = FakeLeases(), Clock(NOW)
    a = LeaseElector(api, "costreport", "costreport-ledger", "a", clock=clock)
    assert await a.is_leader()
    clock.now += 120
    stale = copy.deepcopy(api.lease)
    b = LeaseElector(api, "costreport", "costreport-ledger", "b", clock=clock)
    assert await b.is_leader()

    class Racing(FakeLeases):
        async def request(self, method: str, path: str, body: Any = None, **kw: Any) -> Any:
            if method == "GET":
                return copy.deepcopy(stale)  # a read the lease before b took it
            return await api.request(method, path, body, **kw)

    late = LeaseElector(Racing(), "costreport", "costreport-ledger", "a", clock=clock)
    assert not await late.is_leader()  # the PUT with the old resourceVersion conflicts
    assert api.lease is not None and api.lease["spec"]["holderIdentity"] == "b"


async def test_the_closer_backfills_then_closes_each_hour_once(tmp_path: Path) -> None:
    sample = SampleSource(now=datetime.fromtimestamp(NOW + 7200, tz=UTC))
    store = LedgerStore(str(tmp_path / "ledger"))
    clock = Clock(NOW)
    closer = LedgerCloser(store, sample, backfill_days=0.25, clock=clock)
    first = await closer.tick()
    assert first is not None and len(first.written) == 6  # 06:00 → 12:00 (12:10 is in grace)
    clock.now += 3600
    second = await closer.tick()
    assert second is not None and [h - NOW for h in second.written] == [-600.0]  # 12:00 → 13:00
    restarted = LedgerCloser(store, sample, backfill_days=0.25, clock=clock)
    again = await restarted.tick()
    assert again is not None and again.written == []
    assert len(store.commits()) == 7

    class Follower:
        async def is_leader(self) -> bool:
            return False

    assert await LedgerCloser(store, sample, elector=Follower(), clock=clock).tick() is None
