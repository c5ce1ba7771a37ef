"""Reading the ledger as a `ClusterSource`, alone (a fleet) or in front of a live source.

`LedgerSource` answers from committed partitions only. `HybridSource` answers the part of a
window the ledger covers from it and only the rest (the open tail, or history from before the
ledger) from the live source, and declares in `meta.source` which part came from where and
the finest step the ledger part can be answered at (1 h, or 1 d over compacted days).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pyarrow as pa

from costreport.model.cluster import ClusterData, ClusterSource, UsageSegments, pod_column
from costreport.model.errors import NoData, SourceUnavailable
from costreport.model.lifecycle import lifecycle_counts
from costreport.model.window import Window
from costreport.sources.ledger.codec import DECODE_ORDER, decode, encode
from costreport.sources.ledger.compact import merge_segments
from costreport.sources.ledger.fleet import READ_PARALLEL, concat_clusters
from costreport.sources.ledger.pieces import clip
from costreport.sources.ledger.schema import ENGINE_TABLES, TABLES
from costreport.sources.ledger.store import (
    DAY,
    MERGED,
    READ_THREADS,
    Commit,
    LedgerStore,
    StaleListing,
)


def _intervals(commits: list[Commit], start: float, end: float) -> list[tuple[float, float]]:
    """The union of the commits' spans within [start, end), as sorted disjoint intervals."""
    spans = sorted((max(c.start, start), min(c.end, end)) for c in commits)
    out: list[tuple[float, float]] = []
    for a, z in spans:
        if z <= a:
            continue
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], z))
        else:
            out.append((a, z))
    return out


def _gaps(
    covered: list[tuple[float, float]], start: float, end: float
) -> list[tuple[float, float]]:
    gaps, cursor = [], start
    for a, z in covered:
        if a > cursor:
            gaps.append((cursor, a))
        cursor = max(cursor, z)
    if cursor < end:
        gaps.append((cursor, end))
    return gaps


def in_whole_days(window: Window, step_seconds: float | None) -> bool:
    """Whether every step set starts and ends on a UTC midnight (so a container's day of
    segments merged into one is exact for each set)."""
    a, z = window.start_ts, window.end_ts
    if a % DAY or z % DAY:
        return False
    return step_seconds is None or step_seconds % DAY == 0


def substitutes(window: Window, step_seconds: float | None) -> dict[str, str] | None:
    """The tables to read instead of others for this query."""
    return {"segments": "day_segments"} if in_whole_days(window, step_seconds) else None


def _merge_within_sets(
    data: ClusterData, window: Window, step_seconds: float | None
) -> UsageSegments:
    """Segments merged per container and step set; a segment crossing a set bound stays."""
    u = data.usage
    if len(u) == 0:
        return u
    a = window.start_ts
    step = step_seconds or max(window.end_ts - a, 1.0)
    first = np.floor((u.start - a) / step)
    last = np.floor((np.nextafter(u.end, -np.inf) - a) / step)
    inside = (first == last) & (first >= 0)
    groups = np.where(inside, first, -1 - np.arange(len(u))).astype(np.int64)
    groups = groups - groups.min()  # non-negative; a crossing segment is a group of its own
    return merge_segments(u, groups)


def _with_pieces(
    tables: Mapping[str, pa.Table], pieces: Sequence[ClusterData]
) -> dict[str, pa.Table]:
    """The ledger's tables with the pieces' tables appended (the pieces last: their pod
    metadata, the most recent, wins)."""
    parts = {name: [tables[name]] for name in ENGINE_TABLES}
    for piece in pieces:
        for encoded in encode(piece, piece.window.start_ts, piece.window.end_ts).values():
            for name in ENGINE_TABLES:
                parts[name].append(encoded[name])
    return {
        name: pa.concat_tables([t.cast(TABLES[name]) for t in ts]) for name, ts in parts.items()
    }


def read_decoded(
    store: LedgerStore,
    commits: list[Commit],
    window: Window,
    step_seconds: float | None,
    live: Sequence[ClusterData] = (),
) -> ClusterData:
    """The partitions (and any `live` pieces) as one `ClusterData`, each container's segments
    merged per step set. Reading and decoding overlap: the files are read in the background in
    the order `decode` uses the tables, so the pods are decoded while the rest is read."""
    with ThreadPoolExecutor(READ_THREADS) as pool:
        tables: Mapping[str, pa.Table] = store.read_tables(
            commits, DECODE_ORDER, pool, substitutes(window, step_seconds)
        )
        if live:
            tables = _with_pieces(tables, live)
        data = decode(tables, window)
    data.usage = _merge_within_sets(data, window, step_seconds)
    return data


class LedgerSource:
    """The ledger's committed partitions as a `ClusterSource` (every cluster in it)."""

    name = "ledger"

    def __init__(self, store: LedgerStore, *, parallel: int = READ_PARALLEL) -> None:
        self.store = store
        self.parallel = max(1, parallel)
        """Clusters read at once (a fleet's memory is bounded by this many clusters' tables)."""

    def overlapping(self, window: Window) -> list[Commit]:
        """Committed partitions overlapping the window."""
        a, z = window.start_ts, window.end_ts
        return [c for c in self.store.commits() if c.start < z and c.end > a]

    async def read(
        self,
        window: Window,
        commits: list[Commit],
        step_seconds: float | None = None,
        live: Sequence[ClusterData] = (),
    ) -> ClusterData:
        """The partitions' data, with any `live` pieces (clipped to times the partitions do
        not cover), as one `ClusterData` over `window`, in step sets of `step_seconds` (None:
        one set). The live pieces go through the same encoding, so pods, nodes, volumes and
        load balancers are identified across both by one rule (`codec.decode`). Each
        container's segments inside one set are merged into one (exact for the set, and as
        few segments as the live path has)."""
        clusters = sorted({c.cluster for c in commits})
        if live or len(clusters) == 1:
            data = await asyncio.to_thread(
                read_decoded, self.store, commits, window, step_seconds, live
            )
            data.query_count = sum(piece.query_count for piece in live)
        else:  # a fleet: one cluster per worker, so memory is bounded by a cluster, not all
            gate = asyncio.Semaphore(self.parallel)

            async def one(cluster: str) -> ClusterData:
                mine = [c for c in commits if c.cluster == cluster]
                async with gate:
                    return await asyncio.to_thread(
                        read_decoded, self.store, mine, window, step_seconds
                    )

            parts = await asyncio.gather(*(one(cluster) for cluster in clusters))
            data = concat_clusters(parts, window)
        grains = {c.grain for c in commits}
        span = _intervals(commits, window.start_ts, window.end_ts)
        data.notes = {
            "ledger": [Window.from_timestamps(a, z).to_json() for a, z in span],
            "finestStep": "1d" if grains & MERGED else "1h",
        }
        counts = lifecycle_counts(pod_column(data.pods, "lifecycle"))
        if counts is not None:
            data.notes = {**data.notes, "lifecycle": counts}
        return data

    async def cluster_data(
        self, window: Window, *, resolution_seconds: float, step_seconds: float | None = None
    ) -> ClusterData:
        """What the ledger holds for the window (nothing at all is a source error). A listing
        that housekeeping changed under the read is listed and read once more."""
        try:
            return await self._listed_read(window, step_seconds)
        except StaleListing:
            return await self._listed_read(window, step_seconds)

    async def _listed_read(self, window: Window, step_seconds: float | None) -> ClusterData:
        commits = await asyncio.to_thread(self.overlapping, window)
        if not commits:
            raise NoData(
                f"the ledger {self.store.url} holds no closed hour in "
                f"{window.to_json()['start']} → {window.to_json()['end']}"
            )
        return await self.read(window, commits, step_seconds)

    async def check(self) -> None:
        """Ready when the ledger can be listed."""
        await asyncio.to_thread(self.store.commits)


class HybridSource:
    """The ledger for what it covers, the live source for the rest."""

    def __init__(self, store: LedgerStore, live: ClusterSource) -> None:
        self.ledger = LedgerSource(store)
        self.live = live
        self.name = f"ledger+{live.name}"

    async def cluster_data(
        self, window: Window, *, resolution_seconds: float, step_seconds: float | None = None
    ) -> ClusterData:
        """Ledger hours plus live data for the gaps; a failing live tail only warns. A listing
        that housekeeping changed under the read is answered once more from a new one."""
        try:
            return await self._cluster_data(window, resolution_seconds, step_seconds)
        except StaleListing:
            return await self._cluster_data(window, resolution_seconds, step_seconds)

    async def _cluster_data(
        self, window: Window, resolution_seconds: float, step_seconds: float | None
    ) -> ClusterData:
        a, z = window.start_ts, window.end_ts
        commits = await asyncio.to_thread(self.ledger.overlapping, window)
        covered = _intervals(commits, a, z)
        last_closed = max((c.end for c in commits), default=a)
        warnings: list[str] = []
        live: list[ClusterData] = []
        for gap_start, gap_end in _gaps(covered, a, z):
            part = Window.from_timestamps(gap_start, gap_end)
            try:
                data = await self.live.cluster_data(
                    part, resolution_seconds=resolution_seconds, step_seconds=step_seconds
                )
            except NoData:
                continue  # nothing there: the coverage in meta says so
            except SourceUnavailable as error:
                if commits and gap_start >= last_closed:
                    warnings.append(
                        f"the live source failed for the open tail {part.to_json()['start']} → "
                        f"{part.to_json()['end']} (answered from the ledger up to there): "
                        f"{error.reason}"
                    )
                    continue
                raise
            live.append(clip(data, gap_start, gap_end))
        if commits:
            result = await self.ledger.read(window, commits, step_seconds, live)
        elif live:
            [result] = live  # no ledger hour in the window: one gap, the whole window
            result.notes = {**result.notes, "ledger": []}
        else:
            raise NoData("neither the ledger nor the live source has data for this window")
        result.window = window
        result.warnings = [*result.warnings, *warnings]
        result.notes = {**result.notes, "live": [p.window.to_json() for p in live]}
        return result

    async def check(self) -> None:
        """Ready when the ledger can be listed (the live source may come later)."""
        await self.ledger.check()

    async def close(self) -> None:
        """Close the live source's connections."""
        close = getattr(self.live, "close", None)
        if close is not None:
            await close()
