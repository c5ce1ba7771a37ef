"""The recorder's memory: current pods' container lives and ended ones not yet in the ledger.

Memory is bounded by the cluster, not by time: one compact record per container of every
existing pod (no Pod objects are kept), plus the lives that ended since the last hour written
to the ledger (pruned at each write, and capped at `max_ended`, oldest first, counted in
`dropped`). `synced_at` is the last instant the watch was known to be current (an event, a
bookmark, a relist): a container with no end is known to run at least until then.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from typing import Any

from costreport.model.lifecycle import ContainerLife, LifecycleSource, LifeKey, merge_lives
from costreport.sources.lifecycle.records import lives_of_pod

Clean = Callable[[Mapping[str, str]], Mapping[str, str]]


def _identity(labels: Mapping[str, str]) -> Mapping[str, str]:
    return labels


class LifecycleBook:
    """What the pod watch has seen, as container lives (a `LifecycleSource`)."""

    def __init__(
        self,
        cluster: str,
        *,
        clean: Clean = _identity,
        max_ended: int = 200_000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.cluster, self.clean, self.max_ended, self.clock = cluster, clean, max_ended, clock
        self.current: dict[str, list[ContainerLife]] = {}  # by pod uid
        self.ended: dict[LifeKey, ContainerLife] = {}
        self.synced_at = -math.inf
        self.dropped = 0
        self.events = 0

    # -- what the watch reports ---------------------------------------------------------
    def apply(self, kind: str, pod: Mapping[str, Any], now: float | None = None) -> None:
        """An ADDED, MODIFIED or DELETED event for a pod."""
        now = self.clock() if now is None else now
        self.events += 1
        meta = pod.get("metadata") if isinstance(pod.get("metadata"), dict) else None
        uid = meta.get("uid") if meta is not None else None
        if not isinstance(uid, str):
            return
        deleted = kind == "DELETED"
        lives = lives_of_pod(
            pod, cluster=self.cluster, observed=now, deleted=deleted, clean=self.clean
        )
        earlier = {life.key(): life for life in self.current.pop(uid, [])}
        for life in lives:
            held = earlier.pop(life.key(), None)
            if held is not None and held.start < life.start:
                life = replace(life, start=held.start)
            if math.isfinite(life.end):
                self._end(life)
            elif not deleted:
                self.current.setdefault(uid, []).append(life)
        for held in earlier.values():  # a container gone from the status: ended when last seen
            self._end(held if math.isfinite(held.end) else replace(held, end=held.observed))
        self.synced_at = max(self.synced_at, now)

    def replace_all(self, pods: Iterable[Mapping[str, Any]], now: float | None = None) -> int:
        """A relist: these are all the pods now. Pods that vanished since the last sync ended
        while the watch was down: at the last instant they were known to run."""
        now = self.clock() if now is None else now
        last = self.synced_at if math.isfinite(self.synced_at) else now
        before = self.current
        self.current = {}
        seen: set[str] = set()
        count = 0
        for pod in pods:
            count += 1
            meta = pod.get("metadata") if isinstance(pod.get("metadata"), dict) else None
            uid = meta.get("uid") if meta is not None else None
            if isinstance(uid, str):
                seen.add(uid)
                if uid in before:
                    self.current[uid] = before[uid]
                self.apply("MODIFIED", pod, now)
                self.events -= 1
        for uid, lives in before.items():
            if uid not in seen:
                for life in lives:
                    self._end(replace(life, end=max(life.start, min(last, now)), observed=last))
        self.synced_at = now
        return count

    def bookmark(self, now: float | None = None) -> None:
        """The watch is current (a bookmark, or a watch that ended normally)."""
        self.synced_at = max(self.synced_at, self.clock() if now is None else now)

    def _end(self, life: ContainerLife) -> None:
        self.ended[life.key()] = life
        if len(self.ended) > self.max_ended:
            oldest = min(self.ended, key=lambda k: self.ended[k].end)
            del self.ended[oldest]
            self.dropped += 1

    # -- what costing reads -------------------------------------------------------------
    def snapshot(self, start: float, end: float, until: float | None = None) -> list[ContainerLife]:
        """Lives overlapping [start, end): running ones known to run until `until` (default
        the last sync), never past it."""
        known = self.synced_at if until is None else min(until, self.synced_at)
        out = [life for life in self.ended.values() if life.start < end and life.end > start]
        for lives in self.current.values():
            for life in lives:
                observed = max(life.observed, known)
                if life.start < end and observed > start:
                    out.append(replace(life, observed=observed))
        return list(merge_lives(out).values())

    async def lives(self, start: float, end: float) -> list[ContainerLife]:
        """`snapshot` (a `LifecycleSource`)."""
        return self.snapshot(start, end)

    def prune(self, before: float) -> int:
        """Forget ended lives that ended before `before` (they are in the ledger)."""
        gone = [k for k, life in self.ended.items() if life.end < before]
        for key in gone:
            del self.ended[key]
        return len(gone)

    def __len__(self) -> int:
        return sum(len(v) for v in self.current.values()) + len(self.ended)


class CombinedLives:
    """Several lifecycle sources as one (the ledger's files and the live book), one record per
    life."""

    def __init__(self, *sources: LifecycleSource) -> None:
        self.sources = sources

    async def lives(self, start: float, end: float) -> list[ContainerLife]:
        """Every source's lives, merged (the latest observation of each life wins)."""
        found: list[ContainerLife] = []
        for source in self.sources:
            found.extend(await source.lives(start, end))
        return list(merge_lives(found).values())
