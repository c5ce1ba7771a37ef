"""Ledger fixtures: a local directory and a real S3-protocol server (moto) on 127.0.0.1."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from costreport.sources.ledger import LedgerStore, close_hours
from costreport.sources.sample import SampleSource

FORTY_NOW = datetime(2026, 11, 8, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="session")
def forty_days(tmp_path_factory: pytest.TempPathFactory) -> tuple[SampleSource, LedgerStore]:
    """Forty days of a small sample cluster closed into a local ledger (shared: ~30 s)."""
    sample = SampleSource(now=FORTY_NOW, scale=0.25, days=40)
    store = LedgerStore(str(tmp_path_factory.mktemp("forty-days")))
    start = (FORTY_NOW - timedelta(days=40)).timestamp()
    report = asyncio.run(close_hours(sample, store, start, FORTY_NOW.timestamp()))
    assert len(report.written) == 40 * 24 and report.skipped_no_data == []
    return sample, store
