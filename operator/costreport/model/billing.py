"""Cloud bill lines as the engine sees them: columns of costs per FOCUS cost metric.

One row per bill line (a FOCUS Cost and Usage row), with its charge period in unix seconds,
its five OpenCost cost metrics, the share of it that is Kubernetes (0 or 1 per line: a node,
volume or load balancer of a cluster, or a resource tagged as one), and the OpenCost
cloud-cost properties it aggregates by.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]

COST_METRICS = ("listCost", "netCost", "amortizedNetCost", "invoicedCost", "amortizedCost")
"""OpenCost's cloud-cost metrics, in its JSON order."""

PROPERTIES = (
    "providerID",
    "provider",
    "accountID",
    "accountName",
    "invoiceEntityID",
    "invoiceEntityName",
    "regionID",
    "availabilityZone",
    "service",
    "category",
)
"""OpenCost's `CloudCostProperties` fields (besides `labels`), in its JSON order."""

DEFAULT_AGGREGATE = (
    "invoiceEntityID",
    "accountID",
    "provider",
    "providerID",
    "category",
    "service",
)
"""OpenCost's cloud-cost default aggregation (all six)."""


@dataclass(slots=True)
class BillLines:
    """Columnar bill lines."""

    start: FloatArray
    end: FloatArray
    costs: Mapping[str, FloatArray]  # one column per name of COST_METRICS
    kubernetes: FloatArray  # share of each line that is Kubernetes (0…1)
    properties: Mapping[str, Sequence[str]]  # one column per name of PROPERTIES
    labels: Sequence[Mapping[str, str]]
    currency: str = "USD"
    group: np.ndarray | None = None
    """Optional: per line, the index of its identical-properties group in `groups` (the
    engine then works per group instead of per line)."""
    groups: Sequence[tuple[tuple[str, ...], Mapping[str, str]]] | None = None
    """The groups' property values (in `PROPERTIES` order) and labels."""

    def __len__(self) -> int:
        return int(self.start.shape[0])

    @classmethod
    def empty(cls) -> BillLines:
        """No lines."""
        zeros = np.zeros(0)
        return cls(
            zeros, zeros, dict.fromkeys(COST_METRICS, zeros), zeros, {p: [] for p in PROPERTIES}, []
        )
