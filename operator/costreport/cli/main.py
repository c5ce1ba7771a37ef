"""The `costreport` command: query allocations and assets, serve the API, run the operator."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from costreport.cli import ledger
from costreport.cli.kube import through_kube
from costreport.cli.options import (
    build_live_source,
    build_parser,
    build_source,
    close_source,
    label_policy,
    query_params,
)
from costreport.cli.remote import bearer_for, get_json, remote_allocations
from costreport.cli.render import allocation_csv, asset_csv, render_assets_table, render_table
from costreport.cli.servers import check_port, run_operator, serve
from costreport.engine.assets import parse_asset_aggregate
from costreport.engine.filters import parse_filter
from costreport.engine.params import QueryLimits, check_limits, parse_allocation_query
from costreport.model.allocation_json import from_json
from costreport.model.asset_json import assets_from_json
from costreport.model.cluster import ClusterSource
from costreport.model.errors import InvalidParameter, SourceUnavailable
from costreport.model.query import AssetQuery
from costreport.model.window import (
    Window,
    parse_accumulate,
    parse_duration,
    parse_window,
    split_window,
)
from costreport.sources.arrow_pool import configure_arrow_pool
from costreport.sources.billing.reconcile import ReconcilingSource
from costreport.sources.billing.sample_bill import write_sample_bill
from costreport.sources.billing.store import BillingStore
from costreport.sources.ledger import HybridSource, LedgerStore, close_hours, last_closable_hour
from costreport.sources.sample import SampleSource
from costreport.sources.service import fetch_for, query_allocations, query_assets

DEMO_LEDGER = ".costreport/ledger"
"""Where `costreport demo` keeps its ledger (under the working directory)."""


def _now() -> datetime:
    return datetime.now(tz=UTC)


async def run_query(args: argparse.Namespace, source: ClusterSource | None = None) -> str:
    """The `query` command's output (over `source`, or the one the options describe)."""
    params = query_params(args)
    query = parse_allocation_query(params, now=_now(), utc_offset=args.utc_offset)
    check_limits(query, params, QueryLimits())
    if getattr(args, "api", None) and source is None:
        result = await remote_allocations(args.api, params, bearer_for(args))
    else:
        source = source or build_source(args)
        try:
            computed = await query_allocations(source, query)
        finally:
            await close_source(source)
        # Rendered from the API's own JSON (12 significant digits), so a local answer prints
        # exactly as the same answer fetched with --api.
        result = from_json(computed.to_json(), {**computed.meta, "window": query.window.to_json()})
    if args.format == "json":
        body = {"code": 200, "status": "success", "data": result.to_json(), "meta": result.meta}
        return orjson.dumps(body, option=orjson.OPT_INDENT_2).decode()
    if args.format == "csv":
        return allocation_csv(result)
    return render_table(result)


async def run_assets(args: argparse.Namespace) -> str:
    """The `assets` command's output."""
    parse_filter(args.filter or "", kind="asset")
    query = AssetQuery(
        window=parse_window(args.window, now=_now(), utc_offset=args.utc_offset),
        step=parse_duration(args.step, parameter="step") if args.step else None,
        accumulate=parse_accumulate(args.accumulate or "true"),
        aggregate=parse_asset_aggregate(args.aggregate),
        filter=args.filter or "",
        cost_basis=args.cost_basis or "auto",
    )
    check_limits(query, {"window": args.window, "step": args.step or ""}, QueryLimits())
    if getattr(args, "api", None):
        params = {"window": args.window, "aggregate": args.aggregate or "", "step": args.step or "",
                  "accumulate": args.accumulate or "", "filter": args.filter or "",
                  "costBasis": args.cost_basis or ""}  # fmt: skip
        body = await get_json(
            args.api, "/assets", {k: v for k, v in params.items() if v}, bearer_for(args)
        )
        raw = body.get("data") if isinstance(body, dict) else None
    else:
        source = build_source(args)
        try:
            computed = await query_assets(source, query)
        finally:
            await close_source(source)
        raw = computed[0].to_json() if len(computed) == 1 else [s.to_json() for s in computed]
    # Rendered from the API's JSON either way, so local and --api print the same.
    try:
        sets = assets_from_json(raw)
    except (ValueError, TypeError) as error:
        raise SourceUnavailable(f"unreadable assets answer: {error}") from None
    if args.format == "json":  # the API's own JSON, as the server wrote it
        body = {"code": 200, "status": "success", "data": raw}
        return orjson.dumps(body, option=orjson.OPT_INDENT_2).decode()
    if args.format == "csv":
        return asset_csv(sets)
    return render_assets_table(sets)


async def run_demo(args: argparse.Namespace) -> str:
    """The main job on the embedded sample cluster: last week's costs by namespace."""
    args.window, args.aggregate, args.format = "7d", "namespace", "table"
    for name in ("step", "accumulate", "resolution", "share_namespaces", "share_labels"):
        setattr(args, name, None)
    args.share_cost = args.share_split = args.filter = None
    args.include_idle, args.share_idle, args.idle_by_node = True, False, False
    args.shared_breakdown = False
    args.source = args.source or "sample"  # the demo's live source, behind its ledger
    if not args.ledger:
        args.ledger = DEMO_LEDGER
    store = LedgerStore(args.ledger)
    live = build_live_source(args)
    end = last_closable_hour(_now().timestamp())
    report = await close_hours(live, store, end - 8 * 86400, end)
    closed = len(store.commits())
    note = (
        f"ledger {args.ledger}: {closed} closed hours ({len(report.written)} new); "
        "the table above read them from it and only the open hour live"
    )
    bills = BillingStore(store)
    if isinstance(live, SampleSource) and not args.billing:
        args.billing = str(Path(args.ledger).parent / "billing")
        bill = await asyncio.to_thread(write_sample_bill, live.data(), Path(args.billing))
        read = await asyncio.to_thread(bills.ingest, args.billing)
        note += (
            f"\nbill {bill} (FOCUS 1.2, {read.rows or 'unchanged, no new'} rows read): costs "
            "are reconciled to it; /cloudCost and the OpenCost UI's cloud cost pages answer from it"
        )
    source = ReconcilingSource(HybridSource(store, live), bills)  # the sample generated once
    table = await run_query(args, source)
    totals = []
    for basis in ("list", "reconciled"):
        params = {**query_params(args), "costBasis": basis, "accumulate": "true"}
        query = parse_allocation_query(params, now=_now(), utc_offset=args.utc_offset)
        result = await query_allocations(source, query)
        totals.append(sum(float(s.columns["totalCost"].sum()) for s in result.sets))
    if totals[0] != totals[1]:
        note += (
            f"\n7 days at list prices {totals[0]:.2f}; reconciled to the bill {totals[1]:.2f} "
            f"({totals[1] - totals[0]:+.2f}: a savings plan covers two instance types)"
        )
    return f"{table}\n{note}"


async def run_mcp(args: argparse.Namespace) -> None:
    """`costreport mcp`: MCP over stdio; tools ask `--api` with the token, or an API served
    here on a private loopback port over the source options (the local user sees everything)."""
    from aiohttp import web

    from costreport.api.app import ApiSettings, create_app
    from costreport.api.mcp import BACKEND, build_mcp, http_backend
    from costreport.cli.options import build_cloud_costs

    server = build_mcp()
    # Our structured lines on stderr (stdout is the protocol), in place of the SDK's own
    # handler; the HTTP client's one line per request (kr8s' port-forward) only if it fails.
    from costreport.logs import configure_logging

    configure_logging(getattr(args, "log_format", None) or "auto")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    runner = None
    if getattr(args, "api", None):
        bearer = bearer_for(args)
        BACKEND.set(http_backend(args.api, f"Bearer {bearer}" if bearer else None))
    else:
        app = create_app(
            build_source(args),
            ApiSettings(policy=label_policy(args)),
            None,
            None,
            build_cloud_costs(args),
        )
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        BACKEND.set(http_backend(f"http://127.0.0.1:{port}", None))
    try:
        await server.run_stdio_async()
    finally:
        if runner is not None:
            await runner.cleanup()


async def list_budgets(args: argparse.Namespace) -> str:
    """`costreport budgets`: read every budget through the kubeconfig."""
    from costreport.api.budgets import budget_row
    from costreport.cli.budgets import render_budgets
    from costreport.cli.servers import kubernetes_reader

    if getattr(args, "api", None):
        body = await get_json(args.api, "/budgets", {}, bearer_for(args))
        rows = body.get("data") if isinstance(body, dict) else None
        if not isinstance(rows, list):
            raise SourceUnavailable(f"{args.api}: not a budgets answer")
        return (
            orjson.dumps(rows, option=orjson.OPT_INDENT_2).decode()
            if args.format == "json"
            else render_budgets(rows)
        )
    kube = kubernetes_reader()
    if kube is None:
        raise SourceUnavailable("no Kubernetes cluster: set KUBECONFIG to read its budgets")
    try:
        rows = [budget_row(item) for item in await kube.list_budgets()]
    except Exception as error:
        raise SourceUnavailable(f"cannot list budgets: {str(error)[:300]}") from None
    finally:
        await kube.close()
    if args.format == "json":
        return orjson.dumps(rows, option=orjson.OPT_INDENT_2).decode()
    return render_budgets(rows)


def _focus_day(rows: Any, data: Any, day: Window, now: float, basis: str) -> list[dict[str, Any]]:
    return list(rows(data, day, now=now, cost_basis=basis))


async def export_focus(args: argparse.Namespace) -> str:
    """`costreport export focus`: the window's FOCUS rows, day by day, to a file or stdout."""
    import pyarrow.parquet as pq

    from costreport.engine.focus_export import focus_rows
    from costreport.sources.billing import focus_writer

    if args.format == "parquet" and not args.out:
        raise InvalidParameter("out", "", "a file to write Parquet to (--out focus.parquet)")
    now = _now()
    window = parse_window(args.window, now=now, utc_offset=args.utc_offset)
    start = window.start.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    days = [d for d in split_window(Window(start, window.end), timedelta(days=1)) if d.end <= now]
    source = build_source(args)
    rows = 0
    text = open(args.out, "w", newline="") if args.out and args.format == "csv" else sys.stdout  # noqa: SIM115
    writer = (
        pq.ParquetWriter(args.out, focus_writer.SCHEMA, compression="zstd")
        if args.format == "parquet"
        else None
    )
    try:
        if writer is None:
            text.write(focus_writer.csv_header())
        for day in days:
            data = await fetch_for(source, day, None, timedelta(minutes=1), label_policy(args))
            day_rows = await asyncio.to_thread(
                _focus_day, focus_rows, data, day, now.timestamp(), args.cost_basis
            )
            rows += len(day_rows)
            if writer is None:
                text.write(focus_writer.csv_rows(day_rows))
            elif day_rows:
                writer.write_table(focus_writer.table(day_rows))
    finally:
        if writer is not None:
            writer.close()
        if text is not sys.stdout:
            text.close()
        close = getattr(source, "close", None)
        if close is not None:
            await close()
    return f"{rows} FOCUS rows over {len(days)} days" + (
        f" written to {args.out}" if args.out else ""
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: exit 2 with one clear line for bad input, 3 when the source fails.

    No traceback reaches the terminal: an unexpected error is one line (exit 1), and the
    traceback is printed only with COSTREPORT_DEBUG=1.
    """
    configure_arrow_pool()
    args = build_parser().parse_args(argv)
    runners = {"query": run_query, "assets": run_assets, "demo": run_demo}
    try:
        if args.command == "serve":
            serve(args)
            return 0
        if args.command == "operator":
            run_operator(args)
            return 0
        if args.command == "mcp":
            asyncio.run(through_kube(args, run_mcp))
            return 0
        if args.command == "budgets":
            print(asyncio.run(through_kube(args, list_budgets)), flush=True)
            return 0
        if args.command == "export":
            print(asyncio.run(export_focus(args)), file=sys.stderr, flush=True)
            return 0
        if args.command == "ledger":
            if args.ledger_command == "status":
                print(ledger.status(args), flush=True)
            elif args.ledger_command == "compact":
                print(ledger.compact(args), flush=True)
            else:
                rewrite = args.ledger_command == "repair"
                print(asyncio.run(ledger.ingest(args, rewrite=rewrite)), flush=True)
            return 0
        if args.command == "demo" and not args.no_serve:
            check_port(getattr(args, "host", "127.0.0.1"), args.port)
        print(asyncio.run(through_kube(args, runners[args.command])), flush=True)
        if args.command == "demo" and not args.no_serve:
            serve(args)
    except InvalidParameter as error:
        print(f"costreport: {error.message}", file=sys.stderr)
        return 2
    except SourceUnavailable as error:
        print(f"costreport: source unavailable: {error.reason}", file=sys.stderr)
        return 3
    except BrokenPipeError:
        # The reader (`| head`) went away: stop quietly, as other command-line tools do.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        return 130
    except OSError as error:
        print(
            f"costreport: {error.strerror or error}: {error.filename or ''}".rstrip(": "),
            file=sys.stderr,
        )
        return 2
    except Exception as error:
        if os.environ.get("COSTREPORT_DEBUG") == "1":
            raise
        print(
            f"costreport: internal error: {type(error).__name__}: {error} "
            "(COSTREPORT_DEBUG=1 shows the traceback)",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
