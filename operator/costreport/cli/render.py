"""Terminal output of allocations and assets (CSV comes from `engine.export`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from costreport.engine.export import allocation_csv, asset_csv, describe_idle, describe_sharing
from costreport.model.allocation import AllocationSet, AllocationSetRange, format_time
from costreport.model.asset import AssetSet

TABLE_COLUMNS = (
    ("CPU", "cpuCost"),
    ("RAM", "ramCost"),
    ("GPU", "gpuCost"),
    ("PV", "pvCost"),
    ("NETWORK", "networkCost"),
    ("LB", "loadBalancerCost"),
    ("SHARED", "sharedCost"),
    ("TOTAL", "totalCost"),
)
NAME_WIDTH = 48
"""Longest name column in tables; longer names are cut with '…'."""

__all__ = ["allocation_csv", "asset_csv", "render_assets_table", "render_table"]


def _cut(text: str, width: int = NAME_WIDTH) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _efficiency(s: AllocationSet, rows: Sequence[int]) -> float:
    """Cost-weighted efficiency of rows (idle rows have none and are left out)."""
    keep = [i for i in rows if s.names[i] != "__idle__"]
    if not keep:
        return 0.0
    weights = s.columns["cpuCost"][keep] + s.columns["ramCost"][keep]
    total = float(weights.sum())
    if total <= 0:
        return 0.0
    return float((s.columns["totalEfficiency"][keep] * weights).sum()) / total


def _shown_end(end: str, coverage: Any) -> str:
    """The window end, or where the data stops when it stops earlier (an open window)."""
    covered = (coverage or {}).get("end")
    if covered and covered < end:
        return f"{covered} (data so far; the window ends {end})"
    return end


ADJUSTED = ("cpuCost", "ramCost", "gpuCost", "pvCost", "loadBalancerCost")


def _as_paid(s: AllocationSet) -> AllocationSet:
    """Resource costs with their adjustments (reconciled to the bill), so columns add up."""
    columns = dict(s.columns)
    for name in ADJUSTED:
        columns[name] = columns[name] + columns[name + "Adjustment"]
    return replace(s, columns=columns)


def render_table(result: AllocationSetRange) -> str:
    """Rows by total cost with a totals line per set, a grand total over several sets, and
    the idle, sharing, coverage and warning declarations (like `kubectl cost`). Costs are
    what is paid: list prices plus their adjustments where reconciled to a bill."""
    result = AllocationSetRange([_as_paid(s) for s in result.sets], result.meta)
    out: list[str] = []
    currency = str(result.meta.get("currency", "USD"))
    coverage = result.meta.get("coverage")
    grand = {f: 0.0 for _, f in TABLE_COLUMNS}
    header = ""
    width = len("TOTAL")
    for s in result.sets:
        window = s.window.to_json()
        end = _shown_end(window["end"], coverage)
        out.append(f"window {window['start']} → {end} ({currency})")
        order = sorted(range(len(s)), key=lambda i: (-s.columns["totalCost"][i], s.names[i]))
        names = [_cut(s.names[i] or "(all)") for i in order]
        width = max([len(n) for n in names] + [width, len("NAME")])
        header = "NAME".ljust(width) + "".join(f"{h:>12}" for h, _ in TABLE_COLUMNS) + "   EFF"
        out.append(header)
        for name, i in zip(names, order, strict=True):
            cells = "".join(f"{s.columns[f][i]:>12.2f}" for _, f in TABLE_COLUMNS)
            eff = s.columns["totalEfficiency"][i]
            out.append(f"{name.ljust(width)}{cells}  {eff:>4.0%}")
        totals = {f: s.total(f) for _, f in TABLE_COLUMNS}
        for f, v in totals.items():
            grand[f] += v
        out.append("-" * len(header))
        cells = "".join(f"{totals[f]:>12.2f}" for _, f in TABLE_COLUMNS)
        out.append(f"{'TOTAL'.ljust(width)}{cells}  {_efficiency(s, order):>4.0%}")
        out.append("")
    if len(result.sets) > 1:
        cells = "".join(f"{grand[f]:>12.2f}" for _, f in TABLE_COLUMNS)
        out.append(f"{f'ALL {len(result.sets)} SETS'.ljust(width)}{cells}")
        out.append("")
    idle = describe_idle(result.meta.get("idle") or {})
    sharing = describe_sharing(result.meta.get("sharing") or {})
    basis = result.meta.get("costBasis")
    basis_text = ""
    if isinstance(basis, dict) and basis.get("basis") == "reconciled":
        matched = float(basis.get("nodeCostMatched") or 0.0)
        basis_text = f" · costs: reconciled to the bill ({matched:.0%} of node cost matched)"
    elif isinstance(basis, dict):
        basis_text = " · costs: list prices"
    out.append(f"idle: {idle} · shared costs: {sharing}{basis_text}")
    for warning in result.meta.get("warnings") or []:
        out.append(f"warning: {warning}")
    return "\n".join(out)


def render_assets_table(sets: Sequence[AssetSet]) -> str:
    """Assets by total cost per set, with a totals line; names, not OpenCost's long keys."""
    out = []
    for s in sets:
        window = s.window.to_json()
        last = max((a.end for a in s.assets.values()), default=None)
        seen = {"end": format_time(last)} if last is not None else None
        out.append(f"window {window['start']} → {_shown_end(window['end'], seen)}")
        items = sorted(s.assets.items(), key=lambda kv: (-kv[1].total_cost, kv[0]))
        names = [_cut(a.properties.get("name") or key) for key, a in items]
        clusters = [_cut(a.properties.get("cluster", ""), 24) for _, a in items]
        width = max([len(n) for n in names] + [len("NAME")])
        cwidth = max([len(c) for c in clusters] + [len("CLUSTER")])
        out.append(
            "NAME".ljust(width) + f"  {'TYPE':<18}{'CLUSTER':<{cwidth}}{'HOURS':>10}{'TOTAL':>12}"
        )
        for name, cluster, (_, asset) in zip(names, clusters, items, strict=True):
            out.append(
                f"{name.ljust(width)}  {asset.type:<18}{cluster:<{cwidth}}"
                f"{asset.minutes / 60:>10.1f}{asset.total_cost:>12.2f}"
            )
        hours = float(np.sum([a.minutes for a in s.assets.values()])) / 60 if s.assets else 0.0
        out.append(
            "TOTAL".ljust(width) + f"  {'':<18}{'':<{cwidth}}{hours:>10.1f}{s.total_cost():>12.2f}"
        )
        out.append("")
    return "\n".join(out).rstrip("\n")
