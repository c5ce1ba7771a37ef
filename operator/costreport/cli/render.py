"""Terminal and CSV output of allocations and assets."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

from costreport.model.allocation import NUMERIC_FIELDS, AllocationSetRange
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


def render_table(result: AllocationSetRange) -> str:
    """Rows sorted by total cost with a totals line, one block per set (like `kubectl cost`)."""
    out: list[str] = []
    currency = str(result.meta.get("currency", "USD"))
    for s in result.sets:
        window = s.window.to_json()
        out.append(f"window {window['start']} → {window['end']} ({currency})")
        order = sorted(range(len(s)), key=lambda i: (-s.columns["totalCost"][i], s.names[i]))
        names = [s.names[i] or "(all)" for i in order]
        width = max([len(n) for n in names] + [len("NAME"), len("TOTAL")])
        header = "NAME".ljust(width) + "".join(f"{h:>12}" for h, _ in TABLE_COLUMNS) + "  EFF"
        out.append(header)
        for name, i in zip(names, order, strict=True):
            cells = "".join(f"{s.columns[f][i]:>12.2f}" for _, f in TABLE_COLUMNS)
            eff = s.columns["totalEfficiency"][i]
            out.append(f"{name.ljust(width)}{cells}  {eff:>4.0%}")
        totals = "".join(f"{s.total(f):>12.2f}" for _, f in TABLE_COLUMNS)
        out.append("-" * len(header))
        out.append("TOTAL".ljust(width) + totals)
        out.append("")
    idle = result.meta.get("idle", {})
    sharing = result.meta.get("sharing", {})
    out.append(f"idle: {idle}; sharing: {sharing}")
    return "\n".join(out)


def render_csv(result: AllocationSetRange) -> str:
    """One CSV line per (set, row) with every numeric field."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["windowStart", "windowEnd", "name", *NUMERIC_FIELDS])
    for s in result.sets:
        window = s.window.to_json()
        for name, row in s.to_json().items():
            writer.writerow(
                [window["start"], window["end"], name, *(row[f] for f in NUMERIC_FIELDS)]
            )
    return buffer.getvalue()


def render_assets_table(sets: Sequence[AssetSet]) -> str:
    """Assets sorted by total cost per set, with a totals line."""
    out = []
    for s in sets:
        window = s.window.to_json()
        out.append(f"window {window['start']} → {window['end']}")
        items = sorted(s.assets.items(), key=lambda kv: (-kv[1].total_cost, kv[0]))
        width = max([len(k) for k, _ in items] + [4])
        out.append("ASSET".ljust(width) + f"{'TYPE':>20}{'HOURS':>10}{'TOTAL':>12}")
        for key, asset in items:
            out.append(
                f"{key.ljust(width)}{asset.type:>20}{asset.minutes / 60:>10.1f}"
                f"{asset.total_cost:>12.2f}"
            )
        out.append("TOTAL".ljust(width) + f"{'':>30}{s.total_cost():>12.2f}")
        out.append("")
    return "\n".join(out)
