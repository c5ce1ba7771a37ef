"""The sample cluster reconciled to its FOCUS bill: per day, to the cent."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from costreport.engine.params import parse_allocation_query
from costreport.model.cluster import GIB
from costreport.model.query import AssetQuery
from costreport.model.window import parse_window
from costreport.sources.billing.reconcile import ReconcilingSource
from costreport.sources.billing.sample_bill import MISSING_NODE, write_sample_bill
from costreport.sources.billing.store import BillingStore
from costreport.sources.ledger import LedgerStore
from costreport.sources.sample import SampleSource
from costreport.sources.service import query_allocations, query_assets

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


@pytest.mark.parametrize(
    "day", [datetime(2026, 11, 3, tzinfo=UTC), datetime(2026, 11, 20, tzinfo=UTC)]
)
def test_assets_are_reconciled_as_allocations_are(
    reconciled: tuple[SampleSource, ReconcilingSource, BillingStore], day: datetime
) -> None:
    """Nodes, disks and balancers carry billed minus list in `adjustment`: their totals are
    the bill of the day, and equal the allocations' (rows and idle), as kubectl cost node's
    and kubectl cost namespace's must."""
    _, source, _ = reconciled
    window = f"{day:%Y-%m-%dT%H:%M:%SZ},{day + timedelta(days=1):%Y-%m-%dT%H:%M:%SZ}"
    params = {"window": window, "aggregate": "namespace", "includeIdle": "true",
              "accumulate": "true"}  # fmt: skip
    totals = {}
    for basis in ("auto", "list"):
        query = parse_allocation_query({**params, "costBasis": basis}, now=NOW)
        [s] = asyncio.run(query_allocations(source, query, now=NOW.timestamp())).sets
        allocated = sum(
            float(s.columns[c].sum() + s.columns[c + "Adjustment"].sum()) for c in RESOURCE_COSTS
        )
        assets_query = AssetQuery(window=parse_window(window, now=NOW), cost_basis=basis)
        [a] = asyncio.run(query_assets(source, assets_query, now=NOW.timestamp()))
        kinds = ("Node", "Disk", "LoadBalancer")
        assets = sum(x.total_cost for x in a.assets.values() if x.type in kinds)
        adjustments = sum(float(x.fields.get("adjustment", 0.0)) for x in a.assets.values())
        assert assets == pytest.approx(allocated, abs=0.005), basis  # to the cent
        assert a.meta["costBasis"]["basis"] == ("reconciled" if basis == "auto" else "list")
        totals[basis] = (assets, adjustments)
    assert totals["list"][1] == 0.0
    assert totals["auto"][1] < -1.0  # the savings plan: billed below list
    assert totals["auto"][0] == pytest.approx(totals["list"][0] + totals["auto"][1], abs=1e-9)
