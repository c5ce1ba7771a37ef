"""`costreport budgets`: the cluster's budgets as a table with spend and forecast bars."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

BAR = 20
"""Characters of a bar at 100 % (a forecast past 100 % runs on, up to twice that)."""


def bar(percent: float | None, forecast: float | None) -> str:
    """`█` for spend so far, `░` for the forecast beyond it, `|` at 100 %."""
    spent = max(0.0, min(float(percent or 0), 200.0))
    ahead = max(spent, min(float(forecast or 0), 200.0))
    filled, projected = round(spent / 100 * BAR), round(ahead / 100 * BAR)
    cells = ["█"] * filled + ["░"] * (projected - filled)
    cells += [" "] * max(0, BAR - len(cells))
    if len(cells) > BAR:
        cells.insert(BAR, "|")
    else:
        cells.append("|")
    return "".join(cells)


def render_budgets(rows: Sequence[Mapping[str, Any]], color: bool = False) -> str:
    """Rows like `kubectl get costbudgets -A`, plus the bars."""
    if not rows:
        return "no budgets"
    header = (
        "NAMESPACE",
        "NAME",
        "PERIOD",
        "BUDGET",
        "SPENT",
        "FORECAST",
        "%",
        "SPEND / FORECAST",
        "READY",
    )
    lines = []
    for r in sorted(rows, key=lambda r: (str(r.get("namespace") or ""), str(r.get("name")))):
        currency = r.get("currency") or ""
        percent = r.get("percentSpent")
        line = (
            r.get("namespace") or "(cluster)",
            str(r.get("name")),
            str(r.get("period")),
            f"{r.get('amount')} {currency}",
            f"{r.get('spent') or '-'} {currency}" if r.get("spent") else "-",
            f"{r.get('forecast')} {currency}" if r.get("forecast") else "-",
            f"{float(percent):.1f}" if percent is not None else "-",
            bar(percent, r.get("percentForecast")),
            str(r.get("ready")) + (" (partial)" if r.get("partial") else ""),
        )
        lines.append(line)
    widths = [max(len(str(x)) for x in column) for column in zip(header, *lines, strict=True)]
    out = [
        "  ".join(str(x).ljust(w) for x, w in zip(row, widths, strict=True)).rstrip()
        for row in (header, *lines)
    ]
    return "\n".join(out)
