"""Assets (reference §5): nodes, disks, load balancers and cluster management fees."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from costreport.model.allocation import format_time, round_for_response
from costreport.model.window import Window

UNDEFINED = "__undefined__"
ASSET_KEY_PROPERTIES = (
    "provider",
    "account",
    "project",
    "category",
    "cluster",
    "type",
    "service",
    "providerID",
    "name",
)


def round6(value: float) -> float | None:
    """Asset floats in responses: 12 significant digits (like allocations); NaN/±Inf null."""
    if not math.isfinite(value):
        return None
    [rounded] = round_for_response(np.array([value], dtype=np.float64))
    return rounded


@dataclass(slots=True)
class Asset:
    """One asset over one window.

    `fields` are the type-specific keys that come before `totalCost` on the wire, `trailing`
    those after it (a Disk's claim, a LoadBalancer's ip), each in wire order.
    """

    type: str
    properties: dict[str, str]
    window: Window
    start: float
    end: float
    total_cost: float
    fields: dict[str, Any] = field(default_factory=dict)
    trailing: dict[str, Any] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)

    @property
    def minutes(self) -> float:
        """Running minutes inside the window."""
        return max(0.0, self.end - self.start) / 60.0

    def key(self) -> str:
        """OpenCost's unaggregated asset key: nine properties joined by `/`."""
        values = {**self.properties, "type": self.type}
        return "/".join(values.get(k) or UNDEFINED for k in ASSET_KEY_PROPERTIES)

    def filter_record(self) -> dict[str, object]:
        """The record shape the v2 asset filter matches against."""
        return {
            "name": self.properties.get("name", ""),
            "assetType": self.type.lower(),  # OpenCost matches the lower-cased type: "node"
            "category": self.properties.get("category", ""),
            "cluster": self.properties.get("cluster", ""),
            "project": self.properties.get("project", ""),
            "provider": self.properties.get("provider", ""),
            "providerID": self.properties.get("providerID", ""),
            "account": self.properties.get("account", ""),
            "service": self.properties.get("service", ""),
            "labels": self.labels,
        }

    def to_json(self) -> dict[str, Any]:
        """The asset object as OpenCost writes it (hand-ordered keys, six-decimal floats)."""
        out: dict[str, Any] = {
            "type": self.type,
            "properties": {k: v for k, v in self.properties.items() if v},
            "labels": self.labels,
            "window": self.window.to_json(),
            "start": format_time(self.start),
            "end": format_time(self.end),
            "minutes": round6(self.minutes),
        }
        for name, value in self.fields.items():
            out[name] = _render(value)
        out["totalCost"] = round6(self.total_cost)
        for name, value in self.trailing.items():
            out[name] = _render(value)
        return out


def _render(value: Any) -> Any:
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, float | int):
        return round6(float(value))
    if isinstance(value, dict):
        return {k: _render(v) for k, v in value.items()}
    return value


@dataclass(slots=True)
class AssetSet:
    """The assets of one window, keyed like OpenCost's `/assets` response."""

    window: Window
    assets: dict[str, Asset]
    meta: dict[str, Any] = field(default_factory=dict)
    """What the answer declares: `costBasis` and its `warnings` (the same for every set)."""

    def to_json(self) -> dict[str, dict[str, Any]]:
        """Asset key → asset object, keys sorted."""
        return {k: self.assets[k].to_json() for k in sorted(self.assets)}

    def total_cost(self, asset_type: str | None = None) -> float:
        """Sum of totalCost, optionally for one asset type."""
        return sum(a.total_cost for a in self.assets.values() if asset_type in (None, a.type))
