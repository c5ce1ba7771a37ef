"""CSV export of allocation and asset sets, and the one-line idle and sharing declarations.

Shared by the CLI (`--format csv`) and the API (`format=csv`, as Kubecost's API offers), so a
spreadsheet gets the same columns from both. Every row carries the idle and sharing
declaration, so a CSV file read on its own still says how idle and shared costs were handled.
Numbers are written in full (12 significant digits, as in JSON): no cost is rounded away.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from costreport.model.allocation import NUMERIC_FIELDS, AllocationSetRange, round_for_response
from costreport.model.asset import AssetSet

ASSET_COLUMNS = ("cpuCost", "ramCost", "gpuCost", "cpuCores", "ramBytes", "gpuCount")
"""Numeric asset fields exported besides hours and total (empty where an asset has none)."""


def describe_idle(idle: Mapping[str, Any]) -> str:
    """`separate`, `shared-weighted by node`, `excluded` … from `meta.idle`."""
    text = str(idle.get("mode", "excluded"))
    if idle.get("byNode"):
        text += " by node"
    if idle.get("remainder") == "hidden":
        text += " (remainder hidden)"
    return text


def describe_sharing(sharing: Mapping[str, Any]) -> str:
    """`none`, or the rules that applied, e.g. `namespaces=kube-system; split=weighted`."""
    if not sharing.get("applied"):
        return "none"
    parts = []
    if sharing.get("namespaces"):
        parts.append("namespaces=" + ",".join(sharing["namespaces"]))
    if sharing.get("labels"):
        parts.append("labels=" + ",".join(sharing["labels"]))
    if sharing.get("monthlyCost"):
        parts.append(f"monthly-cost={float(sharing['monthlyCost']):g}")
    parts.append(f"split={sharing.get('split')}")
    return "; ".join(parts)


def allocation_csv(result: AllocationSetRange) -> str:
    """One line per (set, row), rows by total cost (highest first), no trailing blank line."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(
        ["windowStart", "windowEnd", "name", *NUMERIC_FIELDS, "idleHandling", "sharingPolicy"]
    )
    idle = describe_idle(result.meta.get("idle") or {})
    sharing = describe_sharing(result.meta.get("sharing") or {})
    for s in result.sets:
        window = s.window.to_json()
        rows = s.to_json()
        order = sorted(rows, key=lambda n: (-(rows[n]["totalCost"] or 0.0), n))
        for name in order:
            row = rows[name]
            values = [row[f] if row[f] is not None else "" for f in NUMERIC_FIELDS]
            writer.writerow([window["start"], window["end"], name, *values, idle, sharing])
    return buffer.getvalue().rstrip("\n")


def asset_csv(sets: Sequence[AssetSet]) -> str:
    """One line per (set, asset), by total cost (highest first), no trailing blank line."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    header = ["windowStart", "windowEnd", "key", "type", "cluster", "name", "providerID"]
    writer.writerow([*header, "hours", *ASSET_COLUMNS, "totalCost"])
    for s in sets:
        window = s.window.to_json()
        for key, asset in sorted(s.assets.items(), key=lambda kv: (-kv[1].total_cost, kv[0])):
            numbers = [asset.minutes / 60.0, *(_number(asset.fields.get(c)) for c in ASSET_COLUMNS)]
            numbers.append(asset.total_cost)
            writer.writerow(
                [
                    window["start"],
                    window["end"],
                    key,
                    asset.type,
                    asset.properties.get("cluster", ""),
                    asset.properties.get("name", ""),
                    asset.properties.get("providerID", ""),
                    *(_cell(v) for v in numbers),
                ]
            )
    return buffer.getvalue().rstrip("\n")


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _cell(value: float | None) -> object:
    if value is None:
        return ""
    [rounded] = round_for_response(np.array([value], dtype=np.float64))
    return "" if rounded is None else rounded
