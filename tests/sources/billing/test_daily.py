"""Bills summed per UTC day at ingest: hand-computed day rows, and whole-day cloud-cost queries
answered from them exactly as from the lines."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from costreport.engine.cloudcost import CloudCostSet, parse_cloud_cost_query
from costreport.sources.billing import daily
from costreport.sources.billing.sample_bill import write_sample_bill
from costreport.sources.billing.service import COLUMN_OF, CloudCosts
from costreport.sources.billing.store import BillingStore
from costreport.sources.ledger import LedgerStore
from costreport.sources.sample import SampleSource

D = datetime(2026, 11, 2, tzinfo=UTC).timestamp()
H = 3600.0
NOW = datetime(2026, 11, 22, 12, tzinfo=UTC)


def lines(rows: list[tuple[float, float, float, str, str]]) -> pa.Table:
    """(start, end, cost, resource, charge category) lines; every other key the same."""
    n = len(rows)
    columns: dict[str, object] = {
        "start": [r[0] for r in rows],
        "end": [r[1] for r in rows],
        **{c: [r[2] for r in rows] for c in daily.COSTS},
    }
    for key in daily.KEYS:
        columns[key] = ["AWS"] * n
    columns["provider_id"] = [r[3] for r in rows]
    columns["charge_category"] = [r[4] for r in rows]
    columns["tags"] = ['{"team":"a"}'] * n
    return pa.table(columns)


def test_day_rows_sum_each_day_and_cut_lines_at_midnight() -> None:
    table = lines(
        [
            (D + 10 * H, D + 11 * H, 1.0, "i-a", "Usage"),
            (D + 22 * H, D + 26 * H, 4.0, "i-b", "Usage"),  # 2 h each side of midnight
            (D + 11 * H, D + 12 * H, 2.0, "i-a", "Usage"),  # same day and keys as line 1
            (D + 5 * H, D + 5 * H, 5.0, "i-c", "Usage"),  # zero-length: kept as it is
            (D + 12 * H, D + 13 * H, -0.5, "i-a", "Credit"),  # a credit: its own row
        ]
    )
    first = daily.day_rows(table.slice(0, 3), 0)
    rest = daily.day_rows(table.slice(3), 3)
    out = daily.merge([first, rest]).to_pylist()
    got = [
        (r["start"], r["end"], r["provider_id"], r["charge_category"], r["list_cost"]) for r in out
    ]
    assert got == [  # in the order of each row's first line
        (D, D + 24 * H, "i-a", "Usage", 3.0),
        (D, D + 24 * H, "i-b", "Usage", 2.0),
        (D + 24 * H, D + 48 * H, "i-b", "Usage", 2.0),
        (D + 5 * H, D + 5 * H, "i-c", "Usage", 5.0),
        (D, D + 24 * H, "i-a", "Credit", -0.5),
    ]
    assert [c for c in out[0]] == list(daily.COLUMNS)
    assert set(COLUMN_OF.values()) | {"tags", "currency", "charge_category"} == set(daily.KEYS)


def test_only_windows_of_whole_utc_days_are_answered_from_day_rows() -> None:
    assert daily.aligned(D, D + 3 * 24 * H)
    assert not daily.aligned(D, D + 30 * H)
    assert not daily.aligned(D + H, D + 25 * H)


@pytest.fixture(scope="module")
def ledger(tmp_path_factory: pytest.TempPathFactory) -> LedgerStore:
    root = tmp_path_factory.mktemp("daily")
    write_sample_bill(SampleSource(now=NOW).data(), root / "bills")
    store = LedgerStore(str(root / "ledger"))
    assert BillingStore(store).ingest(str(root / "bills")).failed == {}
    return store


def _sets(ledger: LedgerStore, params: dict[str, str], by_day: bool) -> list[CloudCostSet]:
    query = parse_cloud_cost_query(params, now=NOW)
    return asyncio.run(CloudCosts(BillingStore(ledger), by_day=by_day).sets(query))


@pytest.mark.parametrize(
    "params",
    [
        {"window": "2026-11-01T00:00:00Z,2026-11-22T00:00:00Z", "aggregate": "service"},
        {"window": "7d", "aggregate": "providerID", "accumulate": "day"},
        {"window": "2026-11-03T00:00:00Z,2026-11-20T00:00:00Z", "aggregate": "category,label:team",
         "accumulate": "week", "costMetric": "AmortizedCost"},
        {"window": "30d", "filter": 'service:"Amazon Elastic Compute Cloud"',
         "aggregate": "regionID"},
    ],
)  # fmt: skip
def test_whole_day_queries_equal_line_by_line(ledger: LedgerStore, params: dict[str, str]) -> None:
    from_lines = _sets(ledger, params, by_day=False)
    from_days = _sets(ledger, params, by_day=True)
    assert sum(len(s.names) for s in from_lines) > 0
    assert [s.names for s in from_days] == [s.names for s in from_lines]
    assert [s.properties for s in from_days] == [s.properties for s in from_lines]
    for a, b in zip(from_days, from_lines, strict=True):
        for metric in a.costs:
            assert np.allclose(a.costs[metric], b.costs[metric], rtol=1e-12, atol=0)
            assert np.allclose(a.kubernetes[metric], b.kubernetes[metric], rtol=1e-12, atol=1e-15)


def test_a_bill_ingested_without_day_rows_is_read_line_by_line(ledger: LedgerStore) -> None:
    store = BillingStore(ledger)
    window = (datetime(2026, 11, 1, tzinfo=UTC).timestamp(), D + 10 * 24 * H)
    assert store.read_days(*window) is not None
    older = [  # as an earlier version wrote them
        {k: v for k, v in entry.items() if k != "daily"} for entry in store.entries()
    ]
    ledger_copy = BillingStore(ledger)
    ledger_copy.entries = lambda: older  # type: ignore[method-assign]
    assert ledger_copy.read_days(*window) is None
    params = {"window": "2026-11-01T00:00:00Z,2026-11-11T00:00:00Z", "aggregate": "service"}
    query = parse_cloud_cost_query(params, now=NOW)
    service = CloudCosts(ledger_copy)
    answered = asyncio.run(service.sets(query))
    assert [s.names for s in answered] == [s.names for s in _sets(ledger, params, by_day=False)]


def test_a_bill_ingested_before_day_rows_gets_them_on_the_next_pass(tmp_path: Path) -> None:
    write_sample_bill(SampleSource(now=NOW).data(), tmp_path / "bills")
    ledger = LedgerStore(str(tmp_path / "ledger"))
    store = BillingStore(ledger)
    store.ingest(str(tmp_path / "bills"))
    window = (datetime(2026, 11, 1, tzinfo=UTC).timestamp(), D + 10 * 24 * H)
    expected = store.read_days(*window)
    assert expected is not None and expected.num_rows > 0
    for relative in ledger.list_files("_billing/files"):  # as an earlier version left them
        entry = ledger.read_json(relative)
        assert entry is not None
        ledger.delete([entry.pop("daily")])
        ledger.write_json(relative, entry)
    fresh = BillingStore(ledger)
    assert fresh.read_days(*window) is None
    report = fresh.ingest(str(tmp_path / "bills"))
    assert (report.ingested, report.unchanged) == ([], 1)  # the lines are not read again
    again = BillingStore(ledger).read_days(*window)
    assert again is not None and again.equals(expected)
