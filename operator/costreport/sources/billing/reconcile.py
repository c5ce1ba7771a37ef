"""A `ClusterSource` that hands the engine the bill lines of the window with the cluster data.

Only `Usage` lines with a `ResourceId` are resource costs (commitment `Purchase` rows are
already amortised into usage lines' `EffectiveCost`; credits, taxes and fees belong to no
resource and stay cloud costs). Lines are keyed by `engine.reconcile.resource_key`, and lines
tagged `kubernetes.io/service-name` also by their LoadBalancer service. Bills are joined at
read time, so a bill that arrives days late changes every answer (and every report's next run)
from the moment it is ingested, without rewriting the ledger.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from dataclasses import replace

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from costreport.engine.reconcile import resource_key, service_key
from costreport.model.cluster import ClusterData, ClusterSource, ResourceBill
from costreport.model.window import Window
from costreport.sources.billing.store import BillingStore

SERVICE_TAG = "kubernetes.io/service-name"


def resource_bills(table: pa.Table) -> dict[str, ResourceBill]:
    """Usage lines by resource key (and LoadBalancer service)."""
    usage = table.filter(pc.equal(table["charge_category"], "Usage"))
    starts = usage["start"].to_pylist()
    ends = usage["end"].to_pylist()
    costs = usage["effective_cost"].to_pylist()
    lists = usage["list_cost"].to_pylist()
    billed = usage["billed_cost"].to_pylist()
    ids = usage["provider_id"].to_pylist()
    labels = usage["labels"].to_pylist()
    grouped: dict[str, list[int]] = defaultdict(list)
    for i, rid in enumerate(ids):
        if rid:
            grouped[resource_key(rid)].append(i)
        service = next((v for k, v in (labels[i] or []) if k == SERVICE_TAG), None)
        if service and "/" in service:
            namespace, name = service.split("/", 1)
            grouped[service_key(namespace, name)].append(i)
    return {
        key: ResourceBill(
            np.array([starts[i] for i in rows], np.float64),
            np.array([ends[i] for i in rows], np.float64),
            np.array([costs[i] for i in rows], np.float64),
            np.array([lists[i] for i in rows], np.float64),
            np.array([billed[i] for i in rows], np.float64),
        )
        for key, rows in grouped.items()
        if key
    }


def unwrap(source: object) -> object:
    """The source inside a `ReconcilingSource` (any other source is itself)."""
    return source.inner if isinstance(source, ReconcilingSource) else source


class ReconcilingSource:
    """Any source, with the bill lines of each window attached (`ClusterData.bills`)."""

    def __init__(self, inner: ClusterSource, bills: BillingStore) -> None:
        self.inner, self.billing = inner, bills
        self.name = inner.name

    async def cluster_data(
        self, window: Window, *, resolution_seconds: float, step_seconds: float | None = None
    ) -> ClusterData:
        """The inner source's data plus the bills overlapping the window."""
        data = await self.inner.cluster_data(
            window, resolution_seconds=resolution_seconds, step_seconds=step_seconds
        )
        table = await asyncio.to_thread(self.billing.read, window.start_ts, window.end_ts)
        if not table.num_rows:
            return data
        return replace(data, bills=await asyncio.to_thread(resource_bills, table))

    async def check(self) -> None:
        """Ready when the inner source is."""
        await self.inner.check()

    async def close(self) -> None:
        """Close the inner source."""
        close = getattr(self.inner, "close", None)
        if close is not None:
            await close()
