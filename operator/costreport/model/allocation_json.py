"""Allocation sets read back from OpenCost-shaped JSON (what a remote costreport or OpenCost
answers), so the CLI renders a remote answer exactly like a local one."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import numpy as np

from costreport.model.allocation import NUMERIC_FIELDS, AllocationSet, AllocationSetRange, JSONDict
from costreport.model.window import Window

MAX_ROWS = 1_000_000
"""Rows accepted in one answer (a bound on what a remote server can make us hold)."""


def _ts(text: Any) -> float:
    if not isinstance(text, str) or not text:
        return 0.0
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def _moment(text: Any) -> datetime | None:
    if not isinstance(text, str) or not text:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _window(row: Mapping[str, Any] | None, fallback: Mapping[str, Any] | None) -> Window:
    """The set's window in the zone it was written in (`-07:00` stays `-07:00`)."""
    source = (row or {}).get("window") or fallback or {}
    start, end = _moment(source.get("start")), _moment(source.get("end"))
    if start is None or end is None or end <= start:
        return Window.from_timestamps(0.0, 1.0)
    return Window(start, end)


def from_json(
    data: Sequence[Mapping[str, Any]], meta: JSONDict | None = None
) -> AllocationSetRange:
    """`data` of an `/allocation` answer (sets of name → allocation) as an `AllocationSetRange`."""
    rows_seen = 0
    sets: list[AllocationSet] = []
    fallback = (meta or {}).get("window")
    for raw in data:
        if not isinstance(raw, Mapping):
            raise ValueError("an allocation set is not an object")
        names = sorted(raw)
        rows_seen += len(names)
        if rows_seen > MAX_ROWS:
            raise ValueError(f"more than {MAX_ROWS} rows")
        rows = [raw[n] if isinstance(raw[n], Mapping) else {} for n in names]
        columns = {
            f: np.array([float(r.get(f) or 0.0) for r in rows], dtype=np.float64)
            for f in NUMERIC_FIELDS
        }
        sets.append(
            AllocationSet(
                window=_window(
                    rows[0] if rows else None, fallback if isinstance(fallback, Mapping) else None
                ),
                names=names,
                columns=columns,
                start=np.array([_ts(r.get("start")) for r in rows]),
                end=np.array([_ts(r.get("end")) for r in rows]),
                properties=[dict(r.get("properties") or {}) for r in rows],
                pvs=[r.get("pvs") for r in rows],
                lb_allocations=[r.get("lbAllocations") for r in rows],
                raw=[r.get("rawAllocationOnly") for r in rows],
                shared_breakdown=[r.get("sharedCostBreakdown") for r in rows],
            )
        )
    return AllocationSetRange(sets, dict(meta or {}))
