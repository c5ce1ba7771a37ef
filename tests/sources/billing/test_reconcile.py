"""The sample cluster reconciled to its FOCUS bill: per day, to the cent."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from costreport.engine.params import parse_allocation_query
from costreport.model.cluster import GIB
from costreport.sources.billing.reconcile import ReconcilingSource
from costreport.sources.billing.sample_bill import MISSING_NODE, write_sample_bill
from costreport.sources.billing.store import BillingStore
from costreport.sources.ledger import LedgerStore
from costreport.sources.sample import SampleSource
from costreport.sources.service import query_allocations

NOW = datetime(2026, 11, 22, 12, tzinfo=UTC)
RESOURCE_COSTS = ("cpuCost", "ramCost", "gpuCost", "pvCost", "loadBalancerCost")


@pytest.fixture(scope="module")
def reconciled(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[SampleSource, ReconcilingSource, BillingStore]:
    sample = SampleSource(now=NOW)
    root = tmp_path_factory.mktemp("bill")
    write_sample_bill(sample.data(), root / "bills")
    store = BillingStore(LedgerStore(str(root / "ledger")))
    report = store.ingest(str(root / "bills"))
    assert report.failed == {} and report.rows > 0
    return sample, ReconcilingSource(sample, store), store


@pytest.mark.parametrize(
    "day", [datetime(2026, 11, 3, tzinfo=UTC), datetime(2026, 11, 20, tzinfo=UTC)]
)
def test_each_day_sums_to_the_matched_bill_plus_unmatched_list(
    reconciled: tuple[SampleSource, ReconcilingSource, BillingStore], day: datetime
) -> None:
    sample, source, store = reconciled
    window = f"{day:%Y-%m-%dT%H:%M:%SZ},{day + timedelta(days=1):%Y-%m-%dT%H:%M:%SZ}"
    query = parse_allocation_query(
        {"window": window, "aggregate": "namespace", "includeIdle": "true", "accumulate": "true"},
        now=NOW,
    )
    result = asyncio.run(query_allocations(source, query, now=NOW.timestamp()))
    [s] = result.sets
    allocated = sum(
        float(s.columns[c].sum() + s.columns[c + "Adjustment"].sum()) for c in RESOURCE_COSTS
    )
    a, z = day.timestamp(), (day + timedelta(days=1)).timestamp()
    bill = store.read(a, z).to_pylist()
    matched = sum(
        r["effective_cost"]
        for r in bill
        if r["charge_category"] == "Usage"
        and r["resource_type"] in ("Instance", "Volume", "Load Balancer")
        and r["provider_id"] != "i-0bastion"
    )
    [missing] = [n for n in sample.data().nodes if n.name == MISSING_NODE]
    hours = max(min(missing.end, z) - max(missing.start, a), 0.0) / 3600
    unmatched = hours * (
        missing.cpu_cores * missing.cpu_price + missing.ram_bytes / GIB * missing.ram_price
    )
    assert allocated == pytest.approx(matched + unmatched, abs=0.005)  # to the cent
    basis = result.meta["costBasis"]
    assert basis["basis"] == "reconciled"
    assert basis["unmatched"] == ([f"node {MISSING_NODE} ({missing.provider_id})"] if hours else [])
    listed = asyncio.run(
        query_allocations(
            source, query.model_copy(update={"cost_basis": "list"}), now=NOW.timestamp()
        )
    )
    list_total = sum(float(listed.sets[0].columns[c].sum()) for c in RESOURCE_COSTS)
    assert list_total > allocated + 1.0  # the savings plan makes the bill smaller than list
