"""The recorder's book: events, relists, restarts, pruning, the memory cap."""

from __future__ import annotations

import asyncio
import math

from costreport.model.lifecycle import merge_lives
from costreport.sources.ledger import LedgerStore
from costreport.sources.ledger.lifecycle import LifecycleFiles, hour_path
from costreport.sources.lifecycle import CombinedLives, LifecycleBook
from tests.sources.lifecycle.pods import T0, finished, pod, running


def test_a_pod_between_two_scrapes_is_recorded_from_its_events() -> None:
    book = LifecycleBook("c1")
    book.apply("ADDED", pod("short", containers={"main": {}}), T0)  # pending: no life yet
    assert len(book) == 0
    book.apply("MODIFIED", pod("short", containers={"main": running(T0 + 3)}), T0 + 4)
    book.apply("MODIFIED", pod("short", containers={"main": finished(T0 + 3, T0 + 33)}), T0 + 34)
    book.apply("DELETED", pod("short", containers={"main": finished(T0 + 3, T0 + 33)}), T0 + 40)
    [life] = book.snapshot(T0, T0 + 3600)
    assert (life.start, life.end) == (T0 + 3, T0 + 33)
    assert book.current == {}


def test_a_running_container_is_known_until_the_last_sync() -> None:
    book = LifecycleBook("c1")
    book.apply("ADDED", pod("web", containers={"main": running(T0 + 10)}), T0 + 11)
    book.bookmark(T0 + 500)
    [life] = book.snapshot(T0, T0 + 3600)
    assert (life.start, math.isnan(life.end), life.observed) == (T0 + 10, True, T0 + 500)
    [capped] = book.snapshot(T0, T0 + 3600, until=T0 + 300)
    assert capped.observed == T0 + 300


def test_a_relist_ends_pods_deleted_while_the_watch_was_down_at_the_last_sync() -> None:
    book = LifecycleBook("c1")
    book.apply("ADDED", pod("a", containers={"main": running(T0)}), T0 + 1)
    book.apply("ADDED", pod("b", containers={"main": running(T0)}), T0 + 2)
    book.bookmark(T0 + 100)
    # The watch broke at T0+100; at T0+900 the list has only b.
    assert book.replace_all([pod("b", containers={"main": running(T0)})], T0 + 900) == 1
    lives = {life.pod: life for life in book.snapshot(T0, T0 + 3600)}
    assert lives["a"].end == T0 + 100
    assert math.isnan(lives["b"].end) and lives["b"].observed == T0 + 900


def test_ended_lives_are_capped_and_pruned() -> None:
    book = LifecycleBook("c1", max_ended=3)
    for i in range(5):
        book.apply(
            "DELETED", pod(f"p{i}", containers={"main": finished(T0 + i, T0 + 10 + i)}), T0 + 20
        )
    assert len(book.ended) == 3 and book.dropped == 2
    assert sorted(life.pod for life in book.ended.values()) == ["p2", "p3", "p4"]
    assert book.prune(T0 + 13.5) == 2
    assert [life.pod for life in book.ended.values()] == ["p4"]


def test_an_operator_restart_in_the_middle_of_a_life_loses_nothing(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Hour 0 is written by the first recorder; it dies; a new one relists in hour 1 and
    writes hour 1: the life is one record from its start to its end."""
    store = LedgerStore(str(tmp_path))
    files = LifecycleFiles(store)
    first = LifecycleBook("c1")
    first.apply("ADDED", pod("db-0", containers={"main": running(T0 + 600)}), T0 + 601)
    first.apply("DELETED", pod("job", containers={"main": finished(T0 + 5, T0 + 25)}), T0 + 30)
    first.bookmark(T0 + 3600)
    files.write_hour("c1", T0, first.snapshot(T0, T0 + 3600, until=T0 + 3600))
    second = LifecycleBook("c1")  # restarted: knows only what exists now
    second.replace_all([pod("db-0", containers={"main": finished(T0 + 600, T0 + 5000)})], T0 + 7200)
    files.write_hour("c1", T0 + 3600, second.snapshot(T0 + 3600, T0 + 7200))
    # Rewriting hour 0 with the restarted book's partial view forgets nothing.
    files.write_hour("c1", T0, second.snapshot(T0, T0 + 3600))
    lives = {life.pod: life for life in files.read(T0, T0 + 7200)}
    assert (lives["db-0"].start, lives["db-0"].end) == (T0 + 600, T0 + 5000)
    assert (lives["job"].start, lives["job"].end) == (T0 + 5, T0 + 25)
    assert store.read_file_table(hour_path("c1", T0)) is not None
    combined = asyncio.run(CombinedLives(files, second).lives(T0, T0 + 7200))
    assert sorted((life.pod, life.end) for life in combined) == [
        ("db-0", T0 + 5000),
        ("job", T0 + 25),
    ]


def test_merge_keeps_the_latest_observation_and_the_earliest_start() -> None:
    book = LifecycleBook("c1")
    book.apply("ADDED", pod("x", containers={"main": running(T0 + 50)}), T0 + 60)
    [early] = book.snapshot(T0, T0 + 100)
    late_book = LifecycleBook("c1")
    late_book.apply("MODIFIED", pod("x", containers={"main": finished(T0 + 55, T0 + 90)}), T0 + 95)
    [late] = late_book.snapshot(T0, T0 + 100)
    [merged] = merge_lives([late, early]).values()
    assert (merged.start, merged.end) == (T0 + 50, T0 + 90)


def test_housekeeping_keeps_records_for_the_hourly_days_only(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from costreport.sources.ledger.compact import housekeep

    store = LedgerStore(str(tmp_path))
    files = LifecycleFiles(store)
    book = LifecycleBook("c1")
    book.apply("DELETED", pod("j", containers={"main": finished(T0 + 5, T0 + 35)}), T0 + 40)
    for day in (0, 13, 14):
        files.write_hour("c1", T0 + day * 86400, book.snapshot(T0, T0 + 3600))
    report = housekeep(store, T0 + 15 * 86400 + 60, hourly_days=14)
    # Days older than 14 whole days before now go; the last 14 stay.
    assert report.dropped_record_days == 1
    assert store.subdirectories("_lifecycle/cluster=c1") == ["date=2026-03-15", "date=2026-03-16"]
