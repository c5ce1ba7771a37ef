"""`costreport ledger status`: what each cluster's ledger holds, in hours and days."""

from __future__ import annotations

import argparse
import asyncio
from datetime import UTC, datetime
from pathlib import Path

from costreport.cli.ledger import compact, status_text
from costreport.sources.ledger import LedgerStore, close_hours
from costreport.sources.sample import SampleSource

NOW = datetime(2026, 11, 4, 12, tzinfo=UTC)


def test_status_counts_hourly_hours_and_merged_days(tmp_path: Path) -> None:
    store = LedgerStore(str(tmp_path / "ledger"))
    assert status_text(store, NOW.timestamp()).endswith(" MiB)\nno closed hour yet")
    sample = SampleSource(now=NOW, scale=0.25, days=11)
    first = datetime(2026, 11, 1, tzinfo=UTC).timestamp()
    asyncio.run(close_hours(sample, store, first, NOW.timestamp()))
    # 11-01 merged (older than 2 days), 11-02 and 11-03 bundled hours, 12 hours of 11-04.
    args = argparse.Namespace(ledger=store.url, ledger_hourly_days=2.0, ledger_retention=400.0)
    assert compact(args, now=NOW.timestamp()) == (
        "compacted days: 2026-11-01; month bundles written: 2026-11, 2026-11 (hours); "
        "dropped 0 partitions"
    )
    assert compact(args, now=NOW.timestamp()) == (
        "compacted days: none; month bundles written: none; dropped 0 partitions"
    )
    head, columns, row = status_text(store, NOW.timestamp() + 5400).splitlines()
    assert head.startswith(f"ledger {store.url} (") and head.endswith(" MiB)")
    assert columns.split() == ["CLUSTER", "HOURLY", "DAYS", "FIRST", "LAST", "CLOSED", "LAG"]
    assert row.split() == [
        "sample-cluster",
        "60",
        "1",
        "2026-11-01T00:00:00Z",
        "2026-11-04T12:00:00Z",
        "1.5",
        "h",
    ]
