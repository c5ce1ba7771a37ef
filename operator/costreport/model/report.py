"""Identity of CostReport objects, shared by the operator and the API."""

from __future__ import annotations

from dataclasses import dataclass

GROUP = "costreport.io"
VERSION = "v1alpha1"
PLURALS = {
    "CostReport": "costreports",
    "ClusterCostReport": "clustercostreports",
    "CostBudget": "costbudgets",
    "ClusterCostBudget": "clustercostbudgets",
}


@dataclass(frozen=True, slots=True)
class ReportRef:
    """Which report: kind, namespace (None for a ClusterCostReport) and name."""

    kind: str
    namespace: str | None
    name: str

    @property
    def key(self) -> str:
        """`namespace/name` or `name` for cluster-scoped reports."""
        return f"{self.namespace}/{self.name}" if self.namespace else self.name


def configmap_name(report: str, part: int = 0) -> str:
    """`<report>-costreport` for the first part, `<report>-costreport-<n>` after it."""
    return f"{report}-costreport" if part == 0 else f"{report}-costreport-{part + 1}"
