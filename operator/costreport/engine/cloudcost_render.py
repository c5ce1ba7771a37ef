"""Cloud-cost results in OpenCost's JSON shapes: `/cloudCost` sets and the UI's three views.

Shapes from `core/pkg/opencost/cloudcost.go` (CloudCostSetRange: `sets` of `cloudCosts`,
`window`, `aggregationProperties`) and `pkg/cloudcost/view.go` (graph sets of `{name, value}`
with the tenth item onwards summed into `Other`; totals `{numResults, combined}`; table rows
`{name, labels, kubernetesPercent, cost}`); costs keep 12 significant digits.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Any

import numpy as np

from costreport.engine.cloudcost import (
    CHART_ITEMS,
    CloudCostQuery,
    CloudCostSet,
    accumulate_all,
)
from costreport.model.allocation import round_for_response
from costreport.model.billing import COST_METRICS


def cloud_cost_json(sets: Sequence[CloudCostSet], query: CloudCostQuery) -> dict[str, Any]:
    """`/cloudCost`'s `data`: a CloudCostSetRange."""
    out_sets = []
    for s in sets:
        window = s.window.to_json()
        rounded = {m: round_for_response(s.costs[m]) for m in COST_METRICS}
        shares = {m: round_for_response(s.kubernetes[m]) for m in COST_METRICS}
        items = {}
        for i, name in enumerate(s.names):
            item: dict[str, Any] = {"properties": s.properties[i], "window": window}
            for m in COST_METRICS:
                item[m] = {"cost": rounded[m][i], "kubernetesPercent": shares[m][i]}
            items[name] = item
        out_sets.append(
            {"cloudCosts": items, "window": window, "aggregationProperties": list(query.aggregate)}
        )
    return {"sets": out_sets, "window": query.window.to_json()}


def view_graph(sets: Sequence[CloudCostSet], metric: str) -> list[dict[str, Any]]:
    """`/cloudCost/view/graph`: per set, items by value, the rest as `Other`."""
    out = []
    for s in sets:
        values = s.costs[metric]
        order = sorted(range(len(s.names)), key=lambda i: -values[i])
        named = [(s.names[i], float(values[i])) for i in order]
        if len(named) > CHART_ITEMS:
            rest = sum(value for _, value in named[CHART_ITEMS:])
            named = named[:CHART_ITEMS]
            named[-1] = ("Other", named[-1][1] + rest)
        rounded = round_for_response(np.array([value for _, value in named], dtype=float))
        items: list[dict[str, Any]] = [
            {"name": name, "value": value} for (name, _), value in zip(named, rounded, strict=True)
        ]
        window = s.window.to_json()
        out.append({"start": window["start"], "end": window["end"], "items": items})
    return out


def view_totals(sets: Sequence[CloudCostSet], metric: str) -> dict[str, Any] | None:
    """`/cloudCost/view/totals`: the number of items and their sum (null when none)."""
    total = accumulate_all(sets)
    if total is None or not total.names:
        return None
    cost = float(total.costs[metric].sum())
    k8s = float((total.costs[metric] * total.kubernetes[metric]).sum())
    share = k8s / cost if cost > 0 else 0.0
    [cost_r, share_r] = round_for_response(np.array([cost, share]))
    return {
        "numResults": len(total.names),
        "combined": {
            "name": "Totals",
            "labels": None,
            "kubernetesPercent": share_r,
            "cost": cost_r,
        },
    }


def view_table(sets: Sequence[CloudCostSet], query: CloudCostQuery) -> list[dict[str, Any]]:
    """`/cloudCost/view/table`: one row per item over the whole window, sorted and paged."""
    total = accumulate_all(sets)
    if total is None:
        return []
    metric = query.cost_metric
    costs = round_for_response(total.costs[metric])
    shares = round_for_response(total.kubernetes[metric])
    rows: list[dict[str, Any]] = [
        {
            "name": name,
            "labels": total.properties[i].get("labels") or {},
            "kubernetesPercent": shares[i],
            "cost": costs[i],
        }
        for i, name in enumerate(total.names)
    ]
    rows.sort(key=lambda r: r["name"], reverse=True)  # upstream's stable base order
    if query.sort_by == "name":
        rows.sort(key=lambda r: r["name"], reverse=query.descending)
    else:
        field = query.sort_by
        rows.sort(key=lambda r: r[field] or 0.0, reverse=query.descending)
    start = min(query.offset, len(rows))
    end = start + query.limit if query.limit else len(rows)
    return rows[start:end]


def table_csv(rows: Sequence[dict[str, Any]], window: str) -> str:
    """The table as OpenCost's CSV (Name, K8s Utilization, Total, Window)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["Name", "K8s Utilization", "Total", "Window"])
    for r in rows:
        writer.writerow(
            [r["name"], f"{r['kubernetesPercent'] or 0:.3f}", f"{r['cost'] or 0:.3f}", window]
        )
    return out.getvalue()
