"""`costreport ledger status|ingest|repair`: look after the cost ledger from a terminal."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime

from tqdm import tqdm

from costreport.cli.options import build_live_source, close_source
from costreport.model.allocation import format_time
from costreport.model.errors import InvalidParameter
from costreport.model.window import parse_window
from costreport.sources.ledger import LedgerStore, close_hours, last_closable_hour
from costreport.sources.ledger.compact import housekeep
from costreport.sources.ledger.store import MERGED


def _store(args: argparse.Namespace) -> LedgerStore:
    if not getattr(args, "ledger", None):
        raise InvalidParameter("ledger", "", "the ledger's URL: a directory or s3://, gs://, az://")
    return LedgerStore(args.ledger)


def _moment(text: str, parameter: str) -> float:
    try:
        return float(text)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidParameter(
            parameter, text, "RFC3339 (2026-11-01T00:00:00Z) or unix seconds"
        ) from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def status(args: argparse.Namespace, now: float | None = None) -> str:
    """Clusters, what they hold, first and last closed hour, lag and size."""
    store = _store(args)
    return status_text(store, datetime.now(tz=UTC).timestamp() if now is None else now)


def status_text(store: LedgerStore, now: float) -> str:
    """Per cluster: hours answerable at a 1 h step (closed hours, bundled or not), days merged
    (finest step 1 d), the first and last closed moment, and the lag behind `now`."""
    commits = store.commits()
    lines = [f"ledger {store.url} ({store.size_bytes() / 2**20:.1f} MiB)"]
    if not commits:
        return lines[0] + "\nno closed hour yet"
    lines.append(f"{'CLUSTER':<24}{'HOURLY':>8}{'DAYS':>6}  {'FIRST':<22}{'LAST CLOSED':<22}LAG")
    for cluster in sorted({c.cluster for c in commits}):
        mine = [c for c in commits if c.cluster == cluster]
        hourly = sum(c.end - c.start for c in mine if c.grain not in MERGED) / 3600
        days = sum(1 for c in mine if c.grain in MERGED)
        last = max(c.end for c in mine)
        lag = max(0.0, now - last) / 3600
        lines.append(
            f"{cluster:<24}{hourly:>8.0f}{days:>6}  "
            f"{format_time(min(c.start for c in mine)):<22}{format_time(last):<22}{lag:.1f} h"
        )
    return "\n".join(lines)


async def ingest(args: argparse.Namespace, *, rewrite: bool = False) -> str:
    """Close hours from the live source (`repair`: rewrite them), with a progress bar."""
    store = _store(args)
    now = datetime.now(tz=UTC)
    if rewrite:
        start = _moment(args.repair_from, "from")
        end = min(_moment(args.repair_to, "to"), last_closable_hour(now.timestamp()))
    elif args.window:
        window = parse_window(args.window, now=now, utc_offset=args.utc_offset)
        start, end = window.start_ts, min(window.end_ts, last_closable_hour(now.timestamp()))
    else:
        end = last_closable_hour(now.timestamp())
        start = end - args.ledger_backfill_days * 86400
    live = build_live_source(args)
    bar = tqdm(
        total=0, unit="h", desc="closing hours", disable=not sys.stderr.isatty(), leave=False
    )

    def progress(done: int, total: int) -> None:
        bar.total = total
        bar.n = done
        bar.refresh()

    try:
        report = await close_hours(live, store, start, end, rewrite=rewrite, progress=progress)
    finally:
        bar.close()
        await close_source(live)
    return (
        f"{'rewrote' if rewrite else 'closed'} {len(report.written)} hours "
        f"({report.hours_per_second:.2f} hours/s), {report.already} already in the ledger, "
        f"{len(report.skipped_no_data)} without data; {format_time(start)} → {format_time(end)}"
    )


def compact(args: argparse.Namespace, now: float | None = None) -> str:
    """Housekeeping now: bundle and compact closed days into month bundles, drop expired
    partitions."""
    store = _store(args)
    report = housekeep(
        store,
        datetime.now(tz=UTC).timestamp() if now is None else now,
        hourly_days=args.ledger_hourly_days,
        retention_days=args.ledger_retention,
    )
    days = ", ".join(format_time(d)[:10] for d in report.compacted_days) or "none"
    months = [format_time(m)[:7] for m in report.bundled_months] + [
        f"{format_time(m)[:7]} (hours)" for m in report.bundled_hours_months
    ]
    return (
        f"compacted days: {days}; month bundles written: {', '.join(months) or 'none'}; "
        f"dropped {report.dropped} partitions"
    )
