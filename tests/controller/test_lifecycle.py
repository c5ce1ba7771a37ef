"""The pod watch against a fake API stream: paging, resume, bookmarks, 410 relists, flushes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from typing import Any

import pytest

from costreport.controller.lifecycle import LifecycleWriter, PodRecorder
from costreport.sources.kubernetes import WatchGone
from costreport.sources.ledger import LedgerStore
from costreport.sources.ledger.lifecycle import LifecycleFiles
from costreport.sources.lifecycle import LifecycleBook
from tests.sources.lifecycle.pods import T0, finished, pod, running


class FakePods:
    """Pages of a pod list and scripted watch streams; records every call."""

    def __init__(self, pages: list[list[dict[str, Any]]], version: str = "100") -> None:
        self.pages, self.version = pages, version
        self.streams: list[list[dict[str, Any]] | Exception] = []
        self.calls: list[tuple[str, Any]] = []

    async def list_pods(self, limit: int, continue_token: str | None) -> Mapping[str, Any]:
        self.calls.append(("list", continue_token))
        index = int(continue_token or 0)
        meta: dict[str, Any] = {"resourceVersion": self.version}
        if index + 1 < len(self.pages):
            meta["continue"] = str(index + 1)
        return {"metadata": meta, "items": self.pages[index]}

    async def watch_pods(
        self, resource_version: str, timeout_seconds: int
    ) -> AsyncIterator[Mapping[str, Any]]:
        self.calls.append(("watch", resource_version))
        script = self.streams.pop(0)
        if isinstance(script, Exception):
            raise script
        for event in script:
            yield event


class Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def test_list_then_watch_resumes_from_the_last_version_and_relists_on_410() -> None:
    clock = Clock(T0 + 10)
    book = LifecycleBook("c1", clock=clock)
    api = FakePods(
        [
            [pod("a", containers={"main": running(T0)})],
            [pod("b", containers={"main": running(T0 + 1)})],
        ]
    )
    recorder = PodRecorder(api, book, page=1, clock=clock)
    api.streams = [
        [
            {"type": "BOOKMARK", "object": {"metadata": {"resourceVersion": "105"}}},
            {
                "type": "MODIFIED",
                "object": pod("a", containers={"main": finished(T0, T0 + 40)}, version="107"),
            },
        ],
        [{"type": "ERROR", "object": {"kind": "Status", "code": 410, "message": "too old"}}],
        WatchGone("GET /api/v1/pods: 410"),
        [
            {
                "type": "ADDED",
                "object": pod("c", containers={"main": running(T0 + 50)}, version="300"),
            }
        ],
    ]
    asyncio.run(recorder.step())  # list (two pages) + first watch
    assert api.calls == [("list", None), ("list", "1"), ("watch", "100")]
    assert recorder.resource_version == "107"
    lives = {life.pod: life for life in book.snapshot(T0, T0 + 3600)}
    assert lives["a"].end == T0 + 40 and set(lives) == {"a", "b"}
    asyncio.run(recorder.step())  # resumes from 107, gets an ERROR 410 event
    assert api.calls[-1] == ("watch", "107") and recorder.resource_version is None
    asyncio.run(recorder.step())  # lists again, the watch answers HTTP 410
    assert api.calls[-2:] == [("list", "1"), ("watch", "100")] and recorder.resource_version is None
    asyncio.run(recorder.step())
    assert api.calls[-1] == ("watch", "100") and recorder.resource_version == "300"
    assert recorder.relists == 3
    assert {life.pod for life in book.snapshot(T0, T0 + 3600)} == {"a", "b", "c"}


def test_a_watch_error_that_is_not_410_is_an_error() -> None:
    book = LifecycleBook("c1")
    api = FakePods([[]])
    api.streams = [[{"type": "ERROR", "object": {"code": 500, "message": "boom"}}]]
    recorder = PodRecorder(api, book)
    with pytest.raises(Exception, match="pod watch error: boom"):
        asyncio.run(recorder.step())


def test_each_closed_hour_is_written_once_and_ended_lives_are_forgotten(tmp_path) -> None:  # type: ignore[no-untyped-def]
    store = LedgerStore(str(tmp_path))
    files = LifecycleFiles(store, ["c1"])
    book = LifecycleBook("c1")
    writer = LifecycleWriter(book, files)
    book.apply("DELETED", pod("job", containers={"main": finished(T0 + 5, T0 + 35)}), T0 + 40)
    book.apply("ADDED", pod("web", containers={"main": running(T0 + 100)}), T0 + 101)
    book.bookmark(T0 + 3 * 3600 + 30)
    assert writer.flush(T0 + 3600) == 1  # first flush: the last closed hour only
    assert writer.flush(T0 + 3 * 3600) == 2  # hours 1 and 2
    assert writer.flush(T0 + 3 * 3600) == 0
    assert "job" not in {life.pod for life in book.ended.values()}
    by_hour = [
        sorted((life.pod, life.observed) for life in files.read(T0 + h * 3600, T0 + (h + 1) * 3600))
        for h in range(3)
    ]
    assert by_hour[0] == [("job", T0 + 40), ("web", T0 + 3600)]
    # Reading one later hour: one record per life, known until that hour's end.
    assert by_hour[2] == [("web", T0 + 3 * 3600)]
