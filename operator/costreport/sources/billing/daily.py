"""Bills pre-aggregated per UTC day at ingest: what cloud-cost queries over whole days read.

A cloud-cost query cuts its window into days and prorates each line over the days it spans
(`engine.cloudcost`). For a window of whole UTC days that cut is the same for every query, so
ingest does it once: each line with a positive charge period becomes its pieces per UTC day
(cost × overlap ÷ duration: the engine's own `day_pieces`), and pieces with the same day,
properties, tags, currency, provider and credit flag are summed into one row spanning that day.
Lines without a positive charge period (zero-length, or ending before they start) are kept as
they are: the engine places them by their start, which the day rows would move. An hourly bill
becomes about a twenty-fourth of its lines; answers equal the line-by-line ones up to the order
of additions.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from costreport.engine.cloudcost import day_pieces
from costreport.sources.billing.focus import COLUMN_OF

DAY = 86400.0
COSTS = ("list_cost", "billed_cost", "effective_cost")
"""The amounts the engine's cost metrics are made of (`service.cost_metrics`)."""
KEYS = (*COLUMN_OF.values(), "tags", "currency", "charge_category")
"""What a day row keeps of its lines (every property a query groups, filters or names by)."""
COLUMNS = ("start", "end", *COSTS, *KEYS)
"""The normalised columns read to build the day rows, and the columns the day rows have."""


def aligned(start: float, end: float) -> bool:
    """Whether a window is whole UTC days (then its day sets are the day rows' days)."""
    return start % DAY == 0 and end % DAY == 0


def day_rows(batch: pa.Table, offset: int = 0) -> pa.Table:
    """One batch of normalised lines (the file's lines from `offset` on) as day rows, not yet
    merged with other batches'; `_line` is each row's first line in the file."""
    start = np.asarray(batch["start"].to_numpy(), np.float64)
    end = np.asarray(batch["end"].to_numpy(), np.float64)
    timed = end > start
    if timed.any():  # the UTC days the batch's lines span, as the engine's sets
        grid = np.arange(np.floor(start[timed].min() / DAY), np.ceil(end[timed].max() / DAY)) * DAY
    else:
        grid = np.zeros(0)
    line, index, share, _ = day_pieces(start, end, timed, grid, grid + DAY)
    day = grid[index]
    pieces = {
        "start": pa.array(day, pa.float64()),
        "end": pa.array(day + DAY, pa.float64()),
        **{
            c: pa.array(np.asarray(batch[c].to_numpy(), np.float64)[line] * share, pa.float64())
            for c in COSTS
        },
    }
    taken = batch.select(list(KEYS)).take(pa.array(line, pa.int64()))
    table = pa.table({**pieces, **{k: taken[k] for k in KEYS}, "_line": line + offset})
    kept = batch.filter(pa.array(~timed)).select(list(COLUMNS))
    kept = kept.append_column("_line", pa.array(np.flatnonzero(~timed) + offset, pa.int64()))
    return pa.concat_tables([_sum([table]), kept])


def _sum(parts: Iterable[pa.Table]) -> pa.Table:
    table = pa.concat_tables(list(parts))
    timed = pc.greater(table["end"], table["start"])
    grouped = (
        table.filter(timed)
        .group_by(["start", "end", *KEYS], use_threads=False)
        .aggregate([*((c, "sum") for c in COSTS), ("_line", "min")])
    )
    summed = pa.table(
        {
            **{c: grouped[c] for c in ("start", "end")},
            **{c: grouped[f"{c}_sum"] for c in COSTS},
            **{k: grouped[k] for k in KEYS},
            "_line": grouped["_line_min"],
        }
    )
    return pa.concat_tables([summed, table.filter(pc.invert(timed))])


def merge(parts: Iterable[pa.Table]) -> pa.Table:
    """Day rows of every batch, those with the same day and keys summed into one (zero-length
    lines stay apart), in the order of their first lines in the file: so a query meets groups
    of lines in the order it would meet them line by line."""
    table = _sum(parts)
    order = pc.sort_indices(table, [("_line", "ascending")])
    return table.take(order).select(list(COLUMNS))
