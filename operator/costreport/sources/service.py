"""Run engine queries over a source: fetch the data covering every step set, then compute.

The computation is CPU-bound numpy work; it runs in a worker thread so that an event loop
(the API server, the operator) stays responsive while a large query is computed.
"""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

from costreport.engine.allocation import compute_allocations
from costreport.engine.assets import compute_assets
from costreport.engine.privacy import LabelPolicy
from costreport.model.allocation import AllocationSetRange
from costreport.model.asset import AssetSet
from costreport.model.cluster import ClusterData, ClusterSource
from costreport.model.query import AllocationQuery, AssetQuery
from costreport.model.window import Window, default_step_for, split_window


def covered_window(window: Window, step: timedelta | None) -> Window:
    """The span the step sets really cover (the last set may run past the window's end)."""
    sets = split_window(window, step)
    return Window(sets[0].start, sets[-1].end)


async def fetch_for(
    source: ClusterSource,
    window: Window,
    step: timedelta | None,
    resolution: timedelta,
    policy: LabelPolicy | None = None,
) -> ClusterData:
    """The source's data for everything a query over `window` in `step` sets will read.

    With a label policy, disallowed label and annotation keys are gone before anything else
    sees the data.
    """
    data = await source.cluster_data(
        covered_window(window, step),
        resolution_seconds=resolution.total_seconds(),
        step_seconds=step.total_seconds() if step else None,
    )
    return policy.apply(data) if policy is not None else data


async def fetch_for_query(
    source: ClusterSource, query: AllocationQuery, policy: LabelPolicy | None = None
) -> ClusterData:
    """The data an allocation query reads."""
    step = query.step or default_step_for(query.accumulate)
    return await fetch_for(source, query.window, step, query.resolution, policy)


async def compute(
    data: ClusterData, query: AllocationQuery, *, now: float | None = None
) -> AllocationSetRange:
    """Compute an allocation query in a worker thread."""
    now = time.time() if now is None else now
    return await asyncio.to_thread(compute_allocations, data, query, now=now)


async def query_allocations(
    source: ClusterSource,
    query: AllocationQuery,
    *,
    now: float | None = None,
    policy: LabelPolicy | None = None,
) -> AllocationSetRange:
    """Fetch and compute an allocation query without blocking the event loop."""
    if policy is not None:
        policy.check(query)
    data = await fetch_for_query(source, query, policy)
    return await compute(data, query, now=now)


async def query_assets(
    source: ClusterSource, query: AssetQuery, *, now: float | None = None
) -> list[AssetSet]:
    """Fetch and compute an asset query without blocking the event loop (nothing after now)."""
    now = time.time() if now is None else now
    step = query.step or default_step_for(query.accumulate)
    data = await fetch_for(source, query.window, step, timedelta(minutes=5))
    return await asyncio.to_thread(
        compute_assets,
        data,
        query.window,
        step=step,
        accumulate=query.accumulate,
        aggregate=query.aggregate,
        filter_text=query.filter,
        now=now,
        cost_basis=query.cost_basis,
    )
