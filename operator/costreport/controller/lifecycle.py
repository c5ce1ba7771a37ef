"""The pod watch: every pod's life recorded from the Kubernetes API, into the ledger hourly.

A bounded list-then-watch, as client-go's reflector does it: a paged list (`limit`, `continue`)
replaces the book's state, then a watch from the list's `resourceVersion` with bookmarks
resumes from the last version seen; `410 Gone` (as an HTTP status or an ERROR event) means the
version is too old and the pod list is read again. Events are handled one at a time and only
compact records are kept (`sources.lifecycle.book`). Every closed hour's records are written
to the ledger before the hour itself is closed (`LifecycleWriter.flush`), so short pods that
no scrape saw are in the closed hour too. A dedicated watch rather than a kopf handler: kopf
keeps a worker per object, which on a 10,000-pod cluster costs far more memory than one record
per container.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any, Protocol

from costreport.model.errors import SourceUnavailable
from costreport.sources.kubernetes import WatchGone
from costreport.sources.ledger.lifecycle import LifecycleFiles
from costreport.sources.ledger.store import HOUR
from costreport.sources.lifecycle.book import LifecycleBook

log = logging.getLogger("costreport.lifecycle")

PAGE = 500
"""Pods per list page."""
WATCH_SECONDS = 300
"""Server-side timeout of one watch request (then it is resumed from the last version)."""


Gone = WatchGone
"""The resourceVersion is too old (HTTP 410): list again."""


class PodApi(Protocol):
    """The two pod calls the recorder makes (`KubeClient`, or a fake stream in tests)."""

    async def list_pods(self, limit: int, continue_token: str | None) -> Mapping[str, Any]:
        """One page of `GET /api/v1/pods` (a PodList)."""
        ...

    def watch_pods(
        self, resource_version: str, timeout_seconds: int
    ) -> AsyncIterator[Mapping[str, Any]]:
        """Watch events from `resource_version` (raises `Gone` on HTTP 410)."""
        ...


class PodRecorder:
    """Keeps a `LifecycleBook` current from the API."""

    def __init__(
        self,
        api: PodApi,
        book: LifecycleBook,
        *,
        page: int = PAGE,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.api, self.book, self.page, self.clock = api, book, page, clock
        self.resource_version: str | None = None
        self.relists = 0

    async def relist(self) -> int:
        """Read every pod (paged) and make them the book's state; returns how many."""

        async def pages() -> AsyncIterator[Mapping[str, Any]]:
            token: str | None = None
            while True:
                answer = await self.api.list_pods(self.page, token)
                meta = answer.get("metadata") or {}
                for item in answer.get("items") or []:
                    yield item
                self.resource_version = str(meta.get("resourceVersion") or "") or None
                token = meta.get("continue") or None
                if token is None:
                    return

        items = [item async for item in pages()]  # a consistent snapshot before replacing
        self.relists += 1
        return self.book.replace_all(items, self.clock())

    async def watch_once(self) -> None:
        """One watch request from the last version; returns when the server ends it."""
        assert self.resource_version is not None
        async for event in self.api.watch_pods(self.resource_version, WATCH_SECONDS):
            kind = str(event.get("type") or "")
            obj = event.get("object") or {}
            if kind == "ERROR":
                code = obj.get("code") if isinstance(obj, Mapping) else None
                if code == 410:
                    raise Gone(str(obj.get("message", "")))
                raise SourceUnavailable(f"pod watch error: {obj.get('message', obj)}")
            meta = obj.get("metadata") if isinstance(obj, Mapping) else None
            version = meta.get("resourceVersion") if isinstance(meta, Mapping) else None
            if kind == "BOOKMARK":
                self.book.bookmark(self.clock())
            elif kind in ("ADDED", "MODIFIED", "DELETED"):
                self.book.apply(kind, obj, self.clock())
            if version:
                self.resource_version = str(version)
        self.book.bookmark(self.clock())  # the server ended a healthy watch: still current

    async def step(self) -> None:
        """List when there is no version to resume from, then watch once (410: list again)."""
        if self.resource_version is None:
            await self.relist()
        try:
            await self.watch_once()
        except Gone:
            log.info("pod watch expired, listing again")
            self.resource_version = None

    async def run_forever(self, backoff_seconds: float = 5.0) -> None:
        """Watch until cancelled; failures back off (up to a minute) and resume."""
        delay = backoff_seconds
        while True:
            try:
                await self.step()
                delay = backoff_seconds
            except asyncio.CancelledError:
                raise
            except Exception as error:
                log.warning("pod watch failed", extra={"context": {"error": str(error)[:300]}})
                await asyncio.sleep(delay)
                delay = min(delay * 2, 60.0)


class LifecycleWriter:
    """Writes each closed hour's records into the ledger (before the hour is closed)."""

    def __init__(self, book: LifecycleBook, files: LifecycleFiles) -> None:
        self.book, self.files = book, files
        self.written_until = -math.inf

    def flush(self, until: float) -> int:
        """Write every whole hour before `until` the book has been current for and not
        written yet, then forget ended lives the ledger now holds. Returns hours written."""
        end = min(until, self.book.synced_at)
        end -= end % HOUR
        start = self.written_until if math.isfinite(self.written_until) else end - HOUR
        written = 0
        hour = start
        while hour + HOUR <= end:
            lives = self.book.snapshot(hour, hour + HOUR, until=hour + HOUR)
            self.files.write_hour(self.book.cluster, hour, lives)
            written += 1
            hour += HOUR
        if written:
            self.written_until = hour
            self.book.prune(hour)  # ended before the last written hour ended: in the files
        return written
