"""A validated allocation query: what to compute, independent of where the data comes from."""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict

from costreport.model.window import AccumulateBy, Window

ShareSplit = Literal["weighted", "even"]

DEFAULT_AGGREGATE: tuple[str, ...] = ("cluster", "node", "namespace", "pod", "container")
DEFAULT_RESOLUTION = timedelta(minutes=5)


CostBasis = Literal["auto", "list", "reconciled"]


class AllocationQuery(BaseModel):
    """Every knob of `/allocation` (OpenCost §1.3 plus Kubecost's sharing parameters).

    Built by `costreport.engine.params.parse_allocation_query` from raw request values, or
    directly by the operator from a CostReport spec. `aggregate` holds normalised keys
    (`namespace`, `controllerKind`, `label:app`, …); empty means everything in one row.
    `filter` is the v2 filter text, already validated.
    """

    model_config = ConfigDict(frozen=True)

    window: Window
    aggregate: tuple[str, ...] = DEFAULT_AGGREGATE
    step: timedelta | None = None
    resolution: timedelta = DEFAULT_RESOLUTION
    accumulate: AccumulateBy = "none"
    include_idle: bool = False
    share_idle: bool = False
    idle_by_node: bool = False
    share_namespaces: tuple[str, ...] = ()
    share_labels: tuple[tuple[str, str], ...] = ()
    share_cost: float = 0.0
    share_split: ShareSplit = "weighted"
    include_shared_cost_breakdown: bool = False
    include_aggregated_metadata: bool = False
    filter: str = ""
    hide_idle_remainder: bool = False
    cost_basis: CostBasis = "auto"
    """`list` (on-demand prices), `reconciled` (billed cost of matched resources), or `auto`:
    reconciled where the data carries bills, list otherwise."""

    def idle_handling(self) -> dict[str, object]:
        """How idle cost is treated, declared in every response (idle-handling-declared)."""
        if not self.include_idle:
            mode = "excluded"
        elif self.share_idle:
            mode = "shared-weighted"
        else:
            mode = "separate"
        declared: dict[str, object] = {
            "mode": mode,
            "byNode": self.idle_by_node and self.include_idle,
        }
        if self.hide_idle_remainder and self.share_idle:
            declared["remainder"] = "hidden"
        return declared

    def sharing_policy(self) -> dict[str, object]:
        """Which shared-cost rules applied, declared in every response (shared-cost-explicit)."""
        applied = bool(self.share_namespaces or self.share_labels or self.share_cost)
        return {
            "applied": applied,
            "namespaces": list(self.share_namespaces),
            "labels": [f"{k}:{v}" for k, v in self.share_labels],
            "monthlyCost": self.share_cost,
            "split": self.share_split if applied else None,
        }


class AssetQuery(BaseModel):
    """What `/assets` asks for: a window, optional steps, accumulation, aggregation, filter."""

    model_config = ConfigDict(frozen=True)

    window: Window
    step: timedelta | None = None
    accumulate: AccumulateBy = "all"
    aggregate: tuple[str, ...] = ()
    filter: str = ""
    cost_basis: CostBasis = "auto"
