"""Data coverage: which part of a query's window the source has data for, declared in `meta`.

A window can reach before the source's history (a 60-day window on a 30-day Prometheus) or
stop short of now (a scrape gap). Such answers are not wrong, but they are partial: `meta`
says which part was covered and a warning says what is missing, so that nobody reads a
partial month as a full one. The future part of an open window is not missing data.
"""

from __future__ import annotations

from costreport.model.allocation import JSONDict, format_time
from costreport.model.cluster import ClusterData
from costreport.model.window import Window

GAP_TOLERANCE_SECONDS = 15 * 60.0
"""Missing data shorter than this at either end is a scrape interval, not a gap."""


def coverage_of(data: ClusterData, window: Window, now: float) -> tuple[JSONDict, list[str]]:
    """`meta.coverage` (`start`, `end`, `complete`) and the warnings for a partial window."""
    start, end = window.start_ts, min(window.end_ts, now)
    if data.coverage is not None:
        covered = (max(start, data.coverage[0]), min(end, data.coverage[1]))
    else:
        covered = (start, end)
    warnings: list[str] = []
    if covered[1] <= covered[0]:
        warnings.append(
            f"the source has no data for the window {format_time(start)} → {format_time(end)}"
        )
        return {"start": None, "end": None, "complete": False}, warnings
    if covered[0] - start > GAP_TOLERANCE_SECONDS:
        warnings.append(
            f"the source's data starts at {format_time(covered[0])}, after the window's start "
            f"{format_time(start)}: costs before it are not included"
        )
    if end - covered[1] > GAP_TOLERANCE_SECONDS:
        warnings.append(
            f"the source's data ends at {format_time(covered[1])}, before "
            f"{format_time(end)}: costs after it are not included"
        )
    meta: JSONDict = {
        "start": format_time(covered[0]),
        "end": format_time(covered[1]),
        "complete": not warnings,
    }
    return meta, warnings
