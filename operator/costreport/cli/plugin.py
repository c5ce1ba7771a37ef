"""`kubectl costreport`: kubectl-cost's verbs and options over costreport (local or `--api`).

    kubectl costreport namespace --window month
    kubectl costreport deployment -n team-a --show-all-resources
    kubectl costreport label --label team --historical -o csv

Like kubectl-cost, the default is the *projected monthly rate*: the window's cost per hour ×
730 h; `--historical` shows what the window cost. Columns are aligned, amounts carry the
currency, a TOTAL line closes the table; `-o json|csv` for machines; colour (a bold header)
only on a terminal.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import orjson

from costreport.cli.kube import through_kube
from costreport.cli.options import (
    add_kube_arguments,
    add_source_arguments,
    build_source,
    close_source,
)
from costreport.cli.remote import bearer_for, get_json, remote_allocations
from costreport.engine.params import parse_allocation_query
from costreport.model.allocation import AllocationSetRange
from costreport.model.allocation_json import from_json
from costreport.model.errors import InvalidParameter, SourceUnavailable
from costreport.model.query import AssetQuery
from costreport.model.window import parse_window
from costreport.sources.arrow_pool import configure_arrow_pool
from costreport.sources.service import query_allocations, query_assets

HOURS_PER_MONTH = 730.0
VERBS = {
    "namespace": ("namespace",),
    "deployment": ("namespace", "deployment"),
    "controller": ("namespace", "controller"),
    "pod": ("namespace", "pod"),
    "node": (),  # node assets: each node's own cost (see node_params)
    "label": (),
}


def build_plugin_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kubectl costreport",
        description="Kubernetes costs by namespace, workload, label, pod or node (kubectl-cost's "
        "verbs), from costreport.",
    )
    parser.add_argument("verb", choices=list(VERBS), help="what to group costs by")
    parser.add_argument("--window", default="1d", help="e.g. 1d, 7d, month, lastmonth (default 1d)")
    parser.add_argument("--label", help="the label key of the label verb, e.g. team")
    parser.add_argument("-n", "--namespace", help="only this namespace")
    parser.add_argument(
        "-A", "--all-namespaces", action="store_true", help="every namespace (default)"
    )
    parser.add_argument(
        "--historical", action="store_true", help="the window's cost, not the monthly rate"
    )
    parser.add_argument("--show-cpu", action="store_true", help="CPU cost column")
    parser.add_argument("--show-memory", action="store_true", help="RAM cost column")
    parser.add_argument("--show-gpu", action="store_true", help="GPU cost column")
    parser.add_argument("--show-pv", action="store_true", help="persistent-volume cost column")
    parser.add_argument("--show-network", action="store_true", help="network cost column")
    parser.add_argument("--show-efficiency", action="store_true", help="cost-weighted efficiency")
    parser.add_argument("--show-all-resources", action="store_true", help="every cost column")
    parser.add_argument("--include-idle", action="store_true", help="an __idle__ row")
    parser.add_argument("-o", "--output", choices=["table", "json", "csv"], default="table")
    parser.add_argument("--api", help="a running costreport or OpenCost API (else computed here)")
    parser.add_argument("--token-file", help="bearer token for --api (env COSTREPORT_TOKEN)")
    add_kube_arguments(parser)
    add_source_arguments(parser)
    return parser


NODE_FILTER = 'assetType:"node"'


def node_params(args: argparse.Namespace) -> dict[str, str]:
    """The asset query behind the `node` verb (kubectl-cost's: each node's own cost)."""
    if args.namespace and not args.all_namespaces:
        raise InvalidParameter(
            "namespace", args.namespace, "no namespace with the node verb (nodes are cluster-wide)"
        )
    return {"window": args.window, "accumulate": "true", "filter": NODE_FILTER}


def nodes_as_rows(assets: Any) -> list[dict[str, Any]]:
    """Node assets (an `/assets` answer's `data`) as one set of rows named by node.

    CPU and RAM at their discounted price, GPU, and the reconciliation `adjustment` spread
    over the three by cost, so the columns add up to each node's `totalCost`."""
    if isinstance(assets, list):
        assets = assets[0] if assets else {}
    if not isinstance(assets, dict):
        raise SourceUnavailable("unreadable assets answer: data is not an object")
    nodes = [a for a in assets.values() if isinstance(a, dict) and a.get("type") == "Node"]
    clusters = {str((a.get("properties") or {}).get("cluster", "")) for a in nodes}
    rows: dict[str, Any] = {}
    for a in nodes:
        properties = a.get("properties") or {}
        name = str(properties.get("name", ""))
        if len(clusters) > 1:
            name = f"{properties.get('cluster', '')}/{name}"
        kept = 1.0 - float(a.get("discount") or 0.0)
        parts = {
            "cpuCost": float(a.get("cpuCost") or 0.0) * kept,
            "ramCost": float(a.get("ramCost") or 0.0) * kept,
            "gpuCost": float(a.get("gpuCost") or 0.0),
        }
        base = sum(parts.values())
        adjustment = float(a.get("adjustment") or 0.0)
        row: dict[str, Any] = {
            "window": a.get("window"),
            "start": a.get("start"),
            "end": a.get("end"),
            "totalCost": float(a.get("totalCost") or 0.0),
            **parts,
        }
        for field, value in parts.items():
            row[field + "Adjustment"] = adjustment * value / base if base else 0.0
        rows[name] = row
    return [rows]


def params_for(args: argparse.Namespace) -> dict[str, str]:
    """The allocation query behind a verb."""
    if args.verb == "label":
        if not args.label:
            raise InvalidParameter(
                "label", "", "a label key with the label verb, e.g. --label team"
            )
        aggregate: tuple[str, ...] = (f"label:{args.label}",)
    else:
        aggregate = VERBS[args.verb]
    params = {
        "window": args.window,
        "aggregate": ",".join(aggregate),
        "accumulate": "true",
        "includeIdle": str(bool(args.include_idle)).lower(),
    }
    if args.namespace and not args.all_namespaces:
        params["filter"] = f'namespace:"{args.namespace}"'
    return params


COLUMNS = (
    ("CPU", "cpuCost", "show_cpu"),
    ("RAM", "ramCost", "show_memory"),
    ("GPU", "gpuCost", "show_gpu"),
    ("PV", "pvCost", "show_pv"),
    ("NETWORK", "networkCost", "show_network"),
)


def hours_of(result: AllocationSetRange, now: float) -> float:
    """Hours the answer covers (an open window counts up to now, or to where data stops)."""
    [s] = result.sets or [None]  # type: ignore[list-item]
    if s is None:
        return 0.0
    end = min(s.window.end_ts, now)
    coverage = result.meta.get("coverage")
    if isinstance(coverage, dict) and coverage.get("end"):
        covered = datetime.fromisoformat(str(coverage["end"]).replace("Z", "+00:00")).timestamp()
        end = min(end, covered)
    return max(end - s.window.start_ts, 0.0) / 3600


def _cell(value: float, column: str, currency: str) -> str:
    return f"{value:.0%}" if column == "EFFICIENCY" else f"{value:,.2f} {currency}"


def render(result: AllocationSetRange, args: argparse.Namespace, now: float, tty: bool) -> str:
    """The table, JSON or CSV of one accumulated answer."""
    currency = str(result.meta.get("currency", "USD"))
    hours = hours_of(result, now)
    factor = 1.0 if args.historical else (HOURS_PER_MONTH / hours if hours > 0 else 0.0)
    nodes = args.verb == "node"
    node_columns = ("CPU", "RAM", "GPU")
    shown = [
        c
        for c in COLUMNS
        if (args.show_all_resources or getattr(args, c[2])) and (not nodes or c[0] in node_columns)
    ]
    efficiency = (args.show_efficiency or args.show_all_resources) and not nodes
    header_names = [label for label, _, _ in shown]
    total_label = "COST" if args.historical else "MONTHLY RATE"
    rows: list[dict[str, Any]] = []
    for s in result.sets:
        for i in sorted(range(len(s)), key=lambda i: -s.columns["totalCost"][i]):
            row: dict[str, Any] = {"name": s.names[i] or "(all)"}
            for label, field, _ in shown:
                adjustment = s.columns.get(field + "Adjustment")
                paid = s.columns[field][i] + (adjustment[i] if adjustment is not None else 0.0)
                row[label] = float(paid) * factor
            if efficiency:
                row["EFFICIENCY"] = float(s.columns["totalEfficiency"][i])
            row[total_label] = float(s.columns["totalCost"][i]) * factor
            rows.append(row)
    if args.output == "json":
        meta = {
            "window": args.window,
            "hours": hours,
            "monthlyRate": not args.historical,
            "currency": currency,
        }
        return orjson.dumps({"rows": rows, "meta": meta}, option=orjson.OPT_INDENT_2).decode()
    names = ["NAME", *header_names, *(["EFFICIENCY"] if efficiency else []), total_label]
    if args.output == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(names)
        for r in rows:
            writer.writerow([r["name"], *(f"{r[n]:.6f}" for n in names[1:])])
        return out.getvalue().rstrip("\n")
    cells = [[r["name"], *(_cell(r[n], n, currency) for n in names[1:])] for r in rows]
    totals = ["TOTAL"] + [
        "" if n == "EFFICIENCY" else f"{sum(r[n] for r in rows):,.2f} {currency}" for n in names[1:]
    ]
    widths = [max(len(str(x)) for x in col) for col in zip(names, *cells, totals, strict=True)]

    def line(values: Sequence[str]) -> str:
        first = str(values[0]).ljust(widths[0])
        rest = [str(v).rjust(w) for v, w in zip(values[1:], widths[1:], strict=True)]
        return "  ".join([first, *rest]).rstrip()

    head = line(names)
    if tty:
        head = f"\033[1m{head}\033[0m"
    body = [head, *(line(c) for c in cells), "-" * len(line(names)), line(totals)]
    window_text = f"{args.window}: {hours:.1f} h"
    if not args.historical:
        window_text += f", projected to {HOURS_PER_MONTH:g} h a month"
    return "\n".join([*body, window_text])


async def _nodes(args: argparse.Namespace, now: datetime) -> AllocationSetRange:
    """The `node` verb's answer: node assets (locally or `--api`) as rows."""
    params = node_params(args)
    window = parse_window(args.window, now=now, utc_offset=args.utc_offset)
    if args.api:
        body = await get_json(args.api, "/assets", params, bearer_for(args))
        raw = body.get("data") if isinstance(body, dict) else None
        meta = body.get("meta") if isinstance(body, dict) else None
    else:
        source = build_source(args)
        try:
            query = AssetQuery(window=window, accumulate="all", filter=NODE_FILTER)
            sets = await query_assets(source, query)
        finally:
            await close_source(source)
        raw, meta = (sets[0].to_json(), sets[0].meta) if sets else ({}, {})
    currency = meta.get("currency", "USD") if isinstance(meta, dict) else "USD"
    return from_json(nodes_as_rows(raw), {"window": window.to_json(), "currency": currency})


async def run(args: argparse.Namespace) -> str:
    """Query (locally or `--api`) and render."""
    now = datetime.now(tz=UTC)
    if args.verb == "node":
        return render(await _nodes(args, now), args, now.timestamp(), sys.stdout.isatty())
    params = params_for(args)
    parse_allocation_query(params, now=now)  # local validation: the same 400 text
    if args.api:
        computed = await remote_allocations(args.api, params, bearer_for(args))
    else:
        source = build_source(args)
        try:
            query = parse_allocation_query(params, now=now)
            local = await query_allocations(source, query)
        finally:
            await close_source(source)
        computed = from_json(local.to_json(), {**local.meta, "window": query.window.to_json()})
    return render(computed, args, now.timestamp(), sys.stdout.isatty())


def main(argv: Sequence[str] | None = None) -> int:
    """`kubectl-costreport` entry point (exit 2 bad input, 3 source unavailable)."""
    configure_arrow_pool()
    args = build_plugin_parser().parse_args(argv)
    try:
        print(asyncio.run(through_kube(args, run)), flush=True)
    except InvalidParameter as error:
        print(f"kubectl-costreport: {error.message}", file=sys.stderr)
        return 2
    except SourceUnavailable as error:
        print(f"kubectl-costreport: source unavailable: {error.reason}", file=sys.stderr)
        return 3
    except BrokenPipeError:
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
