"""Month bundles: a month's compacted days in one file per table, answers unchanged, days
leaving one by one (retention, repair), crash leftovers hidden then swept."""

from __future__ import annotations

import asyncio
import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

from costreport.model.errors import SourceUnavailable
from costreport.model.query import AllocationQuery
from costreport.model.window import Window
from costreport.sources.ledger import LedgerSource, LedgerStore, close_hours
from costreport.sources.ledger.compact import compact_day, housekeep
from costreport.sources.ledger.months import month_of
from costreport.sources.sample import SampleSource
from costreport.sources.service import query_allocations

NOW = datetime(2026, 11, 4, 12, tzinfo=UTC)
FIRST = datetime(2026, 10, 29, tzinfo=UTC)
LAST = datetime(2026, 11, 3, tzinfo=UTC)  # five closed days: October 29–31, November 1–2
DAY = 86400.0
OCTOBER = datetime(2026, 10, 1, tzinfo=UTC).timestamp()
NOVEMBER = datetime(2026, 11, 1, tzinfo=UTC).timestamp()


def day(month: int, d: int) -> datetime:
    return datetime(2026, month, d, tzinfo=UTC)


def copy_of(store: LedgerStore, target: Path) -> LedgerStore:
    shutil.copytree(store.root, target, dirs_exist_ok=True)
    return LedgerStore(str(target))


@pytest.fixture(scope="module")
def sample() -> SampleSource:
    return SampleSource(now=NOW, scale=0.5, days=11)


@pytest.fixture(scope="module")
def days(sample: SampleSource, tmp_path_factory: pytest.TempPathFactory) -> LedgerStore:
    """The five days closed hour by hour, then each compacted alone (no month bundle)."""
    store = LedgerStore(str(tmp_path_factory.mktemp("days")))
    report = asyncio.run(close_hours(sample, store, FIRST.timestamp(), LAST.timestamp()))
    assert len(report.written) == 5 * 24
    for d in range(5):
        start = FIRST.timestamp() + d * DAY
        hours = [c for c in store.commits() if c.day == start]
        compact_day(store, "sample-cluster", start, hours)
    assert [c.grain for c in store.commits()] == ["day"] * 5
    return store


@pytest.fixture(scope="module")
def months(days: LedgerStore, tmp_path_factory: pytest.TempPathFactory) -> LedgerStore:
    store = copy_of(days, tmp_path_factory.mktemp("months"))
    report = housekeep(store, NOW.timestamp(), hourly_days=1.0)
    assert report.bundled_months == [OCTOBER, NOVEMBER]
    assert report.compacted_days == [] and report.dropped == 0
    return store


def answer(store: LedgerStore, start: datetime, end: datetime, **options: Any) -> Any:
    query = AllocationQuery(window=Window(start, end), **options)
    result = asyncio.run(query_allocations(LedgerSource(store), query, now=NOW.timestamp()))
    return result.to_json()


def close(a: Any, b: Any, path: str = "") -> None:
    """Equal JSON, numbers to a relative 1e-9 (hours re-merged differ in the last bits)."""
    if isinstance(a, dict):
        assert sorted(a) == sorted(b), path
        for key in a:
            close(a[key], b[key], f"{path}.{key}")
    elif isinstance(a, list):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            close(x, y, f"{path}[{i}]")
    elif isinstance(a, float) and not isinstance(b, str):
        assert a == pytest.approx(b, rel=1e-9, abs=1e-12), path
    else:
        assert a == b, path


QUERIES: list[tuple[datetime, datetime, dict[str, Any]]] = [
    (FIRST, LAST, {"aggregate": ("namespace",), "step": timedelta(days=1), "include_idle": True}),
    (day(10, 30), day(11, 2), {"aggregate": ("pod",), "accumulate": "all"}),
    (
        day(10, 31),
        day(11, 1),
        {
            "aggregate": ("controller",),
            "include_idle": True,
            "share_idle": True,
            "share_namespaces": ("kube-system",),
        },
    ),
    (day(11, 1), LAST, {"aggregate": ("cluster", "node"), "step": timedelta(days=2)}),
]


@pytest.mark.parametrize(("start", "end", "options"), QUERIES)
def test_a_month_bundle_answers_exactly_what_its_days_did(
    days: LedgerStore, months: LedgerStore, start: datetime, end: datetime, options: Any
) -> None:
    before = answer(days, start, end, **options)
    after = answer(months, start, end, **options)
    assert json.dumps(after, sort_keys=True) == json.dumps(before, sort_keys=True)


def test_one_file_per_table_and_month_and_each_days_rows_are_its_own(
    days: LedgerStore, months: LedgerStore
) -> None:
    root = Path(months.root)
    segment_files = sorted(p.relative_to(root).parts[:2] for p in root.glob("**/segments.parquet"))
    assert segment_files == [
        ("cluster=sample-cluster", "date=2026-10-01"),
        ("cluster=sample-cluster", "date=2026-11-01"),
    ]
    markers = sorted(p.name for p in (root / "_commits/cluster=sample-cluster").iterdir())
    assert markers == ["2026-10.month.json", "2026-11.month.json"]
    # Each day keeps its SQL `allocations` file where it was, and nothing else.
    left = sorted(str(p.relative_to(root)) for p in root.glob("**/part=day/*"))
    assert left == [
        f"cluster=sample-cluster/date=2026-{d}/part=day/allocations.parquet"
        for d in ("10-29", "10-30", "10-31", "11-01", "11-02")
    ]
    before, after = days.commits(), months.commits()
    assert [c.grain for c in after] == ["month"] * 5
    assert [(c.start, c.end) for c in after] == [(c.start, c.end) for c in before]
    for b, a in zip(before, after, strict=True):
        assert a.rows == {name: b.rows[name] for name in a.rows}
        assert a.files["allocations"] == b.files["allocations"]
        for name in ("pods", "segments", "nodes"):
            [one] = months.read_each([a], [name])
            [other] = days.read_each([b], [name])
            assert one[name].equals(other[name]), name
    assert after[2].slices is not None and after[2].slices["segments"] == (
        before[0].rows["segments"] + before[1].rows["segments"],
        before[2].rows["segments"],
    )


def test_sql_engines_read_the_same_costs_from_a_bundled_ledger(
    days: LedgerStore, months: LedgerStore
) -> None:
    def by_namespace(store: LedgerStore) -> list[tuple[str, float]]:
        return duckdb.sql(
            f"""SELECT namespace, round(sum(total_cost), 9) FROM read_parquet(
                '{store.root}/cluster=*/date=*/part=*/allocations.parquet',
                hive_partitioning = true) GROUP BY 1 ORDER BY 1"""
        ).fetchall()

    assert by_namespace(months) == by_namespace(days)
    assert len(by_namespace(months)) > 3


def test_retention_takes_days_out_of_a_bundle_one_by_one(
    days: LedgerStore, months: LedgerStore, tmp_path: Path
) -> None:
    store = copy_of(months, tmp_path / "ledger")
    # At 400 days after 10-30 12:00, 10-29 and 10-30 are past retention, 10-31 is not.
    later = day(10, 30).timestamp() + 400 * DAY + 12 * 3600
    report = housekeep(store, later, hourly_days=1.0, retention_days=400)
    assert report.dropped == 1
    report = housekeep(store, later + DAY, hourly_days=1.0, retention_days=400)
    assert report.dropped == 1 and report.bundled_months == []
    kept = store.commits()
    assert [c.start for c in kept] == [day(10, 31).timestamp(), NOVEMBER, NOVEMBER + DAY]
    assert [c.slices["segments"][0] for c in kept if c.slices] == [0, 0, kept[1].rows["segments"]]
    root = Path(store.root)
    assert len(list(root.glob("**/part=month-*"))) == 2  # older generations swept
    assert not list(root.glob("**/date=2026-10-29/**/*.parquet"))
    assert not list(root.glob("**/date=2026-10-30/**/*.parquet"))
    for start, end, options in QUERIES:
        if start >= day(10, 31):
            assert answer(store, start, end, **options) == answer(days, start, end, **options)
    # The last October day leaves: the bundle and its marker go.
    housekeep(store, later + 2 * DAY, hourly_days=1.0, retention_days=400)
    markers = sorted(p.name for p in (root / "_commits/cluster=sample-cluster").iterdir())
    assert markers == ["2026-11.month.json"]
    assert not list(root.glob("cluster=*/date=2026-10-01/*"))


def test_repair_of_a_bundled_day_rewrites_that_day_and_keeps_the_others(
    sample: SampleSource, days: LedgerStore, months: LedgerStore, tmp_path: Path
) -> None:
    store = copy_of(months, tmp_path / "ledger")
    hour = day(10, 30).timestamp() + 5 * 3600
    repaired = asyncio.run(close_hours(sample, store, hour, hour + 3600, rewrite=True))
    assert len(repaired.written) == 24  # the whole day, as hours
    grains = [(c.grain, datetime.fromtimestamp(c.day, tz=UTC).day) for c in store.commits()]
    assert grains == [
        ("month", 29),
        *[("hour", 30)] * 24,
        ("month", 31),
        ("month", 1),
        ("month", 2),
    ]
    for start, end, options in QUERIES:
        close(answer(store, start, end, **options), answer(days, start, end, **options))
    assert not (Path(store.root) / days.commits()[1].files["allocations"]).exists()
    # The next housekeeping compacts the day again and puts it back into October's bundle.
    report = housekeep(store, NOW.timestamp(), hourly_days=1.0)
    assert report.compacted_days == [day(10, 30).timestamp()]
    assert report.bundled_months == [OCTOBER]
    assert [c.grain for c in store.commits()] == ["month"] * 5


def test_a_repair_the_source_has_nothing_for_keeps_the_bundled_day(
    days: LedgerStore, months: LedgerStore, tmp_path: Path
) -> None:
    store = copy_of(months, tmp_path / "ledger")
    forgetful = SampleSource(now=day(10, 29), scale=0.5, days=11)  # it knows nothing later
    hour = day(10, 30).timestamp()
    repaired = asyncio.run(close_hours(forgetful, store, hour, hour + 3600, rewrite=True))
    assert repaired.written == [] and len(repaired.skipped_no_data) == 24
    assert [c.grain for c in store.commits()] == ["month"] * 5
    start, end, options = QUERIES[0]
    assert answer(store, start, end, **options) == answer(days, start, end, **options)


def test_a_crash_after_the_bundle_marker_hides_the_days_then_housekeeping_sweeps_them(
    days: LedgerStore, months: LedgerStore, tmp_path: Path
) -> None:
    store = copy_of(months, tmp_path / "ledger")
    # As if the bundling had crashed right after writing the marker: the days are back.
    shutil.copytree(days.root, store.root, dirs_exist_ok=True)
    visible, hidden = store.listing()
    assert [c.grain for c in visible] == ["month"] * 5
    assert [c.grain for c in hidden] == ["day"] * 5
    start, end, options = QUERIES[0]
    assert answer(store, start, end, **options) == answer(days, start, end, **options)  # once
    housekeep(store, NOW.timestamp(), hourly_days=1.0)
    assert store.listing()[1] == []
    root = Path(store.root)
    assert sorted(p.name for p in root.glob("**/part=day/*")) == ["allocations.parquet"] * 5
    assert answer(store, start, end, **options) == answer(days, start, end, **options)


def test_a_crash_before_the_bundle_marker_leaves_files_nobody_reads_and_the_next_run_sweeps(
    days: LedgerStore, tmp_path: Path
) -> None:
    store = copy_of(days, tmp_path / "ledger")
    orphan = Path(store.root) / "cluster=sample-cluster/date=2026-11-01/part=month-deadbeef"
    orphan.mkdir(parents=True)
    (orphan / "segments.parquet").write_bytes(b"half a file")
    start, end, options = QUERIES[0]
    assert answer(store, start, end, **options) == answer(days, start, end, **options)
    housekeep(store, NOW.timestamp(), hourly_days=1.0)
    assert not orphan.exists()
    assert answer(store, start, end, **options) == answer(days, start, end, **options)


def test_a_marker_of_an_unknown_grain_is_refused_clearly(tmp_path: Path) -> None:
    store = LedgerStore(str(tmp_path))
    marker = tmp_path / "_commits/cluster=c/2026-11.year.json"
    marker.parent.mkdir(parents=True)
    marker.write_text(json.dumps({"schemaVersion": 3, "cluster": "c", "grain": "year"}))
    with pytest.raises(SourceUnavailable) as caught:
        store.commits()
    assert caught.value.reason == (
        f"ledger {tmp_path}: {marker} has grain 'year'; this costreport reads "
        "hour, hours, hours-month, day, month"
    )


def test_month_of() -> None:
    assert month_of(day(11, 30).timestamp() + 86399) == NOVEMBER
    assert month_of(NOVEMBER) == NOVEMBER
    assert month_of(NOVEMBER - 1) == OCTOBER


def test_when_two_writers_rewrite_one_month_the_loser_deletes_nothing(
    days: LedgerStore, tmp_path: Path
) -> None:
    from costreport.sources.ledger.months import bundle_month, bundle_months

    copy_of(days, tmp_path / "ledger")

    class Racing(LedgerStore):
        """Runs `meanwhile` right after the first month marker it writes (another writer
        rewriting the same month in between)."""

        meanwhile: Any = None

        def write_json(self, relative: str, body: Any) -> None:
            super().write_json(relative, body)
            if relative.endswith(".month.json") and self.meanwhile is not None:
                other, self.meanwhile = self.meanwhile, None
                other()

    store = Racing(str(tmp_path / "ledger"))
    october = [c for c in store.commits() if c.start < NOVEMBER]
    assert bundle_month(store, "sample-cluster", OCTOBER, october[:2])  # 29 and 30 bundled
    # Housekeeping appends 10-31 while another writer, which listed the month before
    # housekeeping's marker was written, rewrites it with 10-29 alone (a repair taking 10-30
    # out): the other's marker lands last and wins.
    [twenty_ninth] = [c for c in store.commits() if c.start == FIRST.timestamp()]
    store.meanwhile = lambda: bundle_month(
        LedgerStore(store.root), "sample-cluster", OCTOBER, [twenty_ninth]
    )
    assert bundle_months(store, "sample-cluster")["month"] == [NOVEMBER]  # October lost
    listed = [(c.grain, datetime.fromtimestamp(c.start, tz=UTC).day) for c in store.commits()]
    assert listed == [("month", 29), ("day", 31), ("month", 1), ("month", 2)]
    start, end, options = QUERIES[2]  # 10-31 alone: still there, as its own day
    assert answer(store, start, end, **options) == answer(days, start, end, **options)
    housekeep(store, NOW.timestamp(), hourly_days=1.0)  # and it joins the bundle next time
    listed = [(c.grain, datetime.fromtimestamp(c.start, tz=UTC).day) for c in store.commits()]
    assert listed == [("month", 29), ("month", 31), ("month", 1), ("month", 2)]


def test_month_bundles_on_a_directory_and_on_object_storage(ledger_url: str) -> None:
    sample = SampleSource(now=NOW, scale=0.25, days=11)
    store = LedgerStore(ledger_url)
    asyncio.run(close_hours(sample, store, day(10, 31).timestamp(), day(11, 2).timestamp()))
    daily = {"aggregate": ("namespace",), "step": timedelta(days=1), "include_idle": True}
    both, first = (
        answer(store, day(10, 31), day(11, 2), **daily),
        answer(store, day(11, 1), day(11, 2), **daily),
    )
    report = housekeep(store, NOW.timestamp(), hourly_days=1.0)
    assert report.compacted_days == [day(10, 31).timestamp(), NOVEMBER]
    assert report.bundled_months == [OCTOBER, NOVEMBER]
    assert [c.grain for c in store.commits()] == ["month", "month"]
    close(answer(store, day(10, 31), day(11, 2), **daily), both)
    # Retention drops 10-31: October's bundle goes, November's stays.
    later = NOVEMBER + 400 * DAY + 3600
    assert housekeep(store, later, hourly_days=1.0, retention_days=400).dropped == 1
    [kept] = store.commits()
    assert (kept.grain, kept.start, kept.slices["segments"][0] if kept.slices else None) == (
        "month",
        NOVEMBER,
        0,
    )
    close(answer(store, day(11, 1), day(11, 2), **daily), first)
    assert [p.split("/")[-1] for p in store.list_files("_commits/cluster=sample-cluster")] == [
        "2026-11.month.json"
    ]


@pytest.fixture(scope="module")
def hour_bundles(sample: SampleSource, tmp_path_factory: pytest.TempPathFactory) -> LedgerStore:
    """10-31 to 11-02 closed hour by hour, then each day's hours bundled (no month bundle)."""
    from costreport.sources.ledger.compact import bundle_day

    store = LedgerStore(str(tmp_path_factory.mktemp("hour-bundles")))
    asyncio.run(close_hours(sample, store, day(10, 31).timestamp(), LAST.timestamp()))
    for d in range(3):
        start = day(10, 31).timestamp() + d * DAY
        bundle_day(store, "sample-cluster", start, [c for c in store.commits() if c.day == start])
    assert [c.grain for c in store.commits()] == ["hours"] * 3
    return store


HOURLY: list[tuple[datetime, datetime, dict[str, Any]]] = [
    (day(10, 31), LAST, {"aggregate": ("namespace",), "step": timedelta(hours=6)}),
    (day(10, 31) + timedelta(hours=20), day(11, 1) + timedelta(hours=3), {"aggregate": ("pod",)}),
    (day(11, 1), LAST, {"aggregate": ("node",), "step": timedelta(days=1), "include_idle": True}),
]


def test_bundled_hours_go_into_a_month_bundle_of_hours_and_answer_exactly(
    hour_bundles: LedgerStore, tmp_path: Path
) -> None:
    store = copy_of(hour_bundles, tmp_path / "ledger")
    report = housekeep(store, NOW.timestamp(), hourly_days=14.0)
    assert report.bundled_hours_months == [OCTOBER, NOVEMBER] and report.bundled_months == []
    commits = store.commits()
    assert [c.grain for c in commits] == ["hours-month"] * 3
    assert all("day_segments" in c.files for c in commits)
    for start, end, options in HOURLY:
        after = answer(store, start, end, **options)
        assert json.dumps(after) == json.dumps(answer(hour_bundles, start, end, **options))
    root = Path(store.root)
    assert (
        sorted(p.parent.name.split("-")[0] for p in root.glob("**/segments.parquet"))
        == ["part=hours"] * 2
    )
    # Eleven days on, 10-31 is compacted: it leaves October's hours bundle (now empty, so
    # gone) for October's month bundle; November's days stay hourly.
    report = housekeep(store, day(11, 12).timestamp(), hourly_days=11.0)
    assert report.compacted_days == [day(10, 31).timestamp()]
    assert report.bundled_months == [OCTOBER]
    assert [c.grain for c in store.commits()] == ["month", "hours-month", "hours-month"]
    assert not list(root.glob("_commits/**/2026-10.hours-month.json"))
    assert not list(root.glob("cluster=*/date=2026-10-01/part=hours-month-*"))
    for start, end, options in HOURLY[2:]:
        after = answer(store, start, end, **options)
        assert json.dumps(after) == json.dumps(answer(hour_bundles, start, end, **options))


def test_a_bundled_day_without_day_segments_keeps_reading_its_segments(
    hour_bundles: LedgerStore, tmp_path: Path
) -> None:
    """Bundles written before `day_segments` existed: their day in a month bundle of hours
    lists no `day_segments`, so a query in whole days reads its hourly segments (merged)."""
    store = copy_of(hour_bundles, tmp_path / "ledger")
    [first] = [c for c in store.commits() if c.start == day(10, 31).timestamp()]
    (Path(store.root) / first.files["day_segments"]).unlink()
    marker = Path(store.root) / first.marker
    body = json.loads(marker.read_text())
    del body["files"]["day_segments"], body["rows"]["day_segments"]
    marker.write_text(json.dumps(body))
    housekeep(store, NOW.timestamp(), hourly_days=14.0)
    [old] = [c for c in store.commits() if c.start == day(10, 31).timestamp()]
    assert old.grain == "hours-month" and "day_segments" not in old.files
    daily = {"aggregate": ("namespace",), "step": timedelta(days=1), "include_idle": True}
    close(
        answer(store, day(10, 31), LAST, **daily),
        answer(hour_bundles, day(10, 31), LAST, **daily),
    )


@pytest.mark.parametrize("hybrid", [False, True])
def test_a_read_overtaken_by_housekeeping_lists_again_and_answers(
    sample: SampleSource, days: LedgerStore, tmp_path: Path, hybrid: bool
) -> None:
    from costreport.sources.ledger import HybridSource

    copy_of(days, tmp_path / "ledger")

    class Overtaken(LedgerStore):
        """Housekeeping (another process) bundles the days between the listing and the read:
        the listed days' files are gone when the read opens them."""

        overtaken = False

        def read_tables(self, commits: Any, tables: Any, pool: Any, substitute: Any = None) -> Any:
            if not self.overtaken:
                self.overtaken = True
                housekeep(LedgerStore(self.root), NOW.timestamp(), hourly_days=1.0)
            return super().read_tables(commits, tables, pool, substitute)

    store = Overtaken(str(tmp_path / "ledger"))
    start, end, options = QUERIES[0]
    query = AllocationQuery(window=Window(start, end), **options)
    source = HybridSource(store, sample) if hybrid else LedgerSource(store)
    result = asyncio.run(query_allocations(source, query, now=NOW.timestamp()))  # type: ignore[arg-type]
    assert store.overtaken and [c.grain for c in store.commits()] == ["month"] * 5
    assert result.to_json() == answer(days, start, end, **options)


def test_a_listed_file_that_stays_gone_is_a_clear_source_error(
    days: LedgerStore, tmp_path: Path
) -> None:
    store = copy_of(days, tmp_path / "ledger")
    lost = store.commits()[1].files["segments"]
    (Path(store.root) / lost).unlink()
    with pytest.raises(SourceUnavailable) as caught:
        answer(store, *QUERIES[0][:2], **QUERIES[0][2])
    assert caught.value.reason == (
        f"ledger {store.url}: {lost} is gone (rewritten or removed by housekeeping since it "
        "was listed)"
    )
