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
    clock.now += 181  # a stopped renewing: the lease expired
    assert await b.is_leader() and not await a.is_leader()
    assert api.lease is not None and api.lease["spec"]["holderIdentity"] == "b"


async def test_a_leader_ticking_late_keeps_the_lease() -> None:
    """Two replicas on 60 s ticks, the leader's running a little late each time: leadership
    stays put (with a Lease of one tick it went to whoever ticked just after it expired)."""
    api, clock = FakeLeases(), Clock(NOW)
    a = LeaseElector(api, "costreport", "costreport-ledger", "a", clock=clock)
    b = LeaseElector(api, "costreport", "costreport-ledger", "b", clock=clock)
    assert await a.is_leader()
    for _ in range(10):
        clock.now += 60.5  # b ticks first, just after a minute, then a, late
        assert not await b.is_leader()
        clock.now += 0.5
        assert await a.is_leader()
    assert api.lease is not None and api.lease["spec"]["holderIdentity"] == "a"


async def test_a_lost_race_is_not_leadership() -> None:
    api, clock = FakeLeases(), Clock(NOW)
    a = LeaseElector(api, "costreport", "costreport-ledger", "a", clock=clock)
    assert await a.is_leader()
    clock.now += 240
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


async def test_the_leader_writes_the_lifecycle_records_before_closing_the_hour(
    tmp_path: Path,
) -> None:
    from costreport.controller.lifecycle import LifecycleWriter
    from costreport.sources.ledger.lifecycle import LifecycleFiles, hour_path
    from costreport.sources.lifecycle import LifecycleBook
    from tests.sources.lifecycle.pods import finished, pod

    sample = SampleSource(now=datetime.fromtimestamp(NOW + 7200, tz=UTC))
    store = LedgerStore(str(tmp_path / "ledger"))
    book = LifecycleBook("sample")
    hour = NOW - 600 - 3600  # 11:00, the last closable hour at 12:10
    book.apply(
        "DELETED", pod("blink", containers={"main": finished(hour + 5, hour + 35)}), hour + 40
    )
    book.bookmark(NOW)
    seen: list[bool] = []

    class Watching:
        """A live source that checks the records exist when the hour is closed."""

        name = "sample"

        async def cluster_data(self, window: Any, **kwargs: Any) -> Any:
            seen.append(store.read_file_table(hour_path("sample", hour)) is not None)
            return await sample.cluster_data(window, **kwargs)

    writer = LifecycleWriter(book, LifecycleFiles(store, ["sample"]))
    closer = LedgerCloser(
        store, Watching(), lifecycle=writer, backfill_days=1 / 24, clock=Clock(NOW)
    )  # type: ignore[arg-type]
    report = await closer.tick()
    assert report is not None and [h - hour for h in report.written] == [0.0]
    assert seen == [True]
    [life] = LifecycleFiles(store, ["sample"]).read(hour, hour + 3600)
    assert (life.pod, life.start, life.end) == ("blink", hour + 5, hour + 35)
    assert book.ended == {}  # in the ledger now: forgotten


async def test_a_follower_writes_no_records(tmp_path: Path) -> None:
    from costreport.controller.lifecycle import LifecycleWriter
    from costreport.sources.ledger.lifecycle import LifecycleFiles
    from costreport.sources.lifecycle import LifecycleBook

    class Follower:
        async def is_leader(self) -> bool:
            return False

    store = LedgerStore(str(tmp_path / "ledger"))
    book = LifecycleBook("sample")
    book.bookmark(NOW)
    writer = LifecycleWriter(book, LifecycleFiles(store, ["sample"]))
    sample = SampleSource(now=datetime.fromtimestamp(NOW, tz=UTC))
    closer = LedgerCloser(store, sample, lifecycle=writer, elector=Follower(), clock=Clock(NOW))
    assert await closer.tick() is None
    assert store.subdirectories("_lifecycle") == []


async def test_operators_of_two_clusters_share_a_bucket_without_coordination(
    tmp_path: Path,
) -> None:
    moment = datetime.fromtimestamp(NOW + 7200, tz=UTC)
    store = LedgerStore(str(tmp_path / "fleet"))
    east = LedgerCloser(
        store, SampleSource(now=moment, cluster="east"), backfill_days=0.25, clock=Clock(NOW)
    )
    west = LedgerCloser(
        store,
        SampleSource(now=moment, cluster="west", seed=7),
        backfill_days=0.25,
        clock=Clock(NOW),
    )
    first = await east.tick()
    second = await west.tick()  # east's hours are not west's
    assert first is not None and second is not None
    assert len(first.written) == len(second.written) == 6
    assert [len(store.commits(c)) for c in ("east", "west")] == [6, 6]
    again = await west.tick()
    assert again is not None and again.written == []


async def test_the_leader_reads_new_bill_files_at_each_tick(tmp_path: Path) -> None:
    from costreport.sources.billing.store import BillingStore
    from tests.sources.billing.test_focus import HEADER, ROWS

    bills = tmp_path / "bills"
    bills.mkdir()
    (bills / "focus.csv").write_text(HEADER + ROWS)
    (bills / "broken.csv").write_text("nope\n")
    store = LedgerStore(str(tmp_path / "ledger"))
    sample = SampleSource(now=datetime.fromtimestamp(NOW, tz=UTC))
    closer = LedgerCloser(store, sample, backfill_days=1 / 24, billing=str(bills), clock=Clock(NOW))
    await closer.tick()
    assert closer.last_bills is not None and closer.last_bills.ingested == ["focus.csv"]
    assert list(closer.last_bills.failed) == ["broken.csv"]
    assert BillingStore(store).read(0, 4e9).num_rows == 3


class Leadership:
    """An elector answering from a script; counts the times it was asked."""

    def __init__(self, *answers: bool) -> None:
        self.answers, self.asked = list(answers), 0

    async def is_leader(self) -> bool:
        self.asked += 1
        return self.answers.pop(0)


async def test_a_backfill_renews_leadership_each_day_and_stops_when_it_is_lost(
    tmp_path: Path,
) -> None:
    sample = SampleSource(now=datetime.fromtimestamp(NOW + 7200, tz=UTC))
    store = LedgerStore(str(tmp_path / "ledger"))
    elector = Leadership(True, True, False)  # the tick's check, then one after each day
    closer = LedgerCloser(store, sample, backfill_days=3, elector=elector, clock=Clock(NOW))
    report = await closer.tick()
    assert report is not None and report.interrupted and elector.asked == 3
    end = NOW - 600  # 12:00, the last closable hour
    assert report.written == [end - 72 * 3600 + h * 3600 for h in range(48)]  # two days
    again = LedgerCloser(store, sample, backfill_days=3, clock=Clock(NOW))  # always leader
    rest = await again.tick()
    assert rest is not None and not rest.interrupted
    assert rest.written == [end - 24 * 3600 + h * 3600 for h in range(24)]  # resumes, no gap
