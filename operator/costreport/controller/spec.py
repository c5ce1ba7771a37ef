"""The CostReport / ClusterCostReport spec as pydantic models (the CRD's schema, in Python).

The CRD's structural schema rejects most bad input at admission; what it cannot express (a
window the grammar rejects, a filter that does not parse, a namespaced report reaching outside
its namespace) is caught here and reported in a condition, never a crash loop.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

IdleMode = Literal["exclude", "separate", "share"]
OutputFormat = Literal["json", "csv", "both"]
Accumulate = Literal["none", "all", "hour", "day", "week", "weeknow", "month", "quarter"]


class _Spec(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="ignore", frozen=True)


class IdleSpec(_Spec):
    """How idle (unallocated node) cost is handled."""

    mode: IdleMode = "separate"
    by_node: bool = Field(False, alias="byNode")


class SharingSpec(_Spec):
    """Costs spread over the report's rows."""

    namespaces: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()
    monthly_cost: str = Field("0", alias="monthlyCost")
    split: Literal["weighted", "even"] = "weighted"
    include_breakdown: bool = Field(False, alias="includeBreakdown")

    @property
    def applied(self) -> bool:
        """Whether any sharing rule is set."""
        return bool(self.namespaces or self.labels or float(self.monthly_cost or 0))


class FocusOutputSpec(_Spec):
    """FOCUS 1.3 rows of each run, written to a directory or bucket (a ConfigMap is too small)."""

    url: str = Field(min_length=1, max_length=1024)
    format: Literal["csv", "parquet"] = "parquet"


class OutputSpec(_Spec):
    """Where results go besides the status."""

    config_map: bool = Field(True, alias="configMap")
    format: OutputFormat = "json"
    top_n: int = Field(10, alias="topN", ge=0, le=100)
    focus: FocusOutputSpec | None = None


class CostReportSpec(_Spec):
    """What a report computes and when."""

    window: str
    aggregate: tuple[str, ...] = ("namespace",)
    step: str | None = None
    accumulate: Accumulate = "none"
    idle: IdleSpec = IdleSpec()
    sharing: SharingSpec = SharingSpec()
    filter: str = ""
    schedule: str = "1h"
    output: OutputSpec = OutputSpec()
    suspend: bool = False
    cost_basis: Literal["auto", "list", "reconciled"] = Field("auto", alias="costBasis")
