"""FOCUS 1.3 export of the tiny cluster, reconciled to its bill: each test names the rule.

Origins (node-days, from test_reconcile): n1 6.048 = web-1 1.176 + db-0 1.176 + cron-1 0.084
+ unallocated 3.612; n2 13.08 = train 6.315 + unallocated 6.765.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest

from costreport.engine.focus_export import COLUMNS, METHOD_ID, focus_rows, origin_totals
from costreport.engine.reconcile import resource_key
from tests.engine.test_reconcile import WINDOW, H, billed_cluster
from tests.engine.tiny_cluster import tiny_cluster

MANDATORY = (  # FOCUS 1.3 Mandatory columns (ProviderName, PublisherName: deprecated, still MUST)
    "BilledCost", "BillingAccountId", "BillingAccountName", "BillingCurrency",
    "BillingPeriodStart", "BillingPeriodEnd", "ChargeCategory", "ChargeClass",
    "ChargeDescription", "ChargePeriodStart", "ChargePeriodEnd", "ContractedCost",
    "EffectiveCost", "InvoiceIssuerName", "ListCost", "PricingQuantity", "PricingUnit",
    "ServiceCategory", "ServiceName", "ServiceProviderName", "HostProviderName",
    "ProviderName", "PublisherName",
)  # fmt: skip
FOCUS_NAMES = {*MANDATORY, "ChargeFrequency", "ConsumedQuantity", "ConsumedUnit", "RegionId",
               "AvailabilityZone", "ResourceId", "ResourceName", "ResourceType", "SubAccountId",
               "Tags", "AllocatedMethodId", "AllocatedMethodDetails", "AllocatedResourceId",
               "AllocatedResourceName", "AllocatedTags", "InvoiceId",
               "ServiceSubcategory"}  # fmt: skip


@pytest.fixture(scope="module")
def rows() -> list[dict[str, object]]:
    return list(focus_rows(billed_cluster(), WINDOW, now=WINDOW.end_ts + H))


def test_mandatory_columns_and_the_x_prefix(rows: list[dict[str, object]]) -> None:
    """Columns: every Mandatory column present; custom columns MUST use the `x_` prefix."""
    assert set(MANDATORY) <= set(COLUMNS)
    assert [c for c in COLUMNS if c not in FOCUS_NAMES and not c.startswith("x_")] == []
    assert all(set(r) == set(COLUMNS) for r in rows)


def test_deprecated_provider_columns_invoice_and_subcategory(
    rows: list[dict[str, object]],
) -> None:
    """ProviderName and PublisherName (deprecated in 1.3, still MUST be present and not null)
    hold the service provider; InvoiceId is null (no allocation row is on an invoice);
    ServiceSubcategory is the allowed value under each origin's ServiceCategory."""
    assert all(r["ProviderName"] == r["PublisherName"] == r["ServiceProviderName"] for r in rows)
    assert all(r["ProviderName"] for r in rows)
    assert {r["InvoiceId"] for r in rows} == {None}
    assert {(r["ServiceCategory"], r["ServiceSubcategory"]) for r in rows} == {
        ("Compute", "Virtual Machines"),
        ("Storage", "Block Storage"),
        ("Networking", "Application Networking"),
    }


def test_charge_periods_are_utc_start_inclusive_end_exclusive(
    rows: list[dict[str, object]],
) -> None:
    """Date/time: UTC, ISO 8601 with Z; ChargePeriodStart inclusive, End exclusive (a day)."""
    assert {(r["ChargePeriodStart"], r["ChargePeriodEnd"]) for r in rows} == {
        ("2026-11-01T00:00:00Z", "2026-11-02T00:00:00Z")
    }
    assert {(r["BillingPeriodStart"], r["BillingPeriodEnd"]) for r in rows} == {
        ("2026-11-01T00:00:00Z", "2026-12-01T00:00:00Z")
    }
    assert all(
        re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", str(r["ChargePeriodStart"])) for r in rows
    )


def test_allocated_rows_sum_to_their_origin_charge(rows: list[dict[str, object]]) -> None:
    """Split allocation: summable metrics across an origin's allocated rows MUST sum to it."""
    day = "2026-11-01T00:00:00Z"
    assert origin_totals(rows) == pytest.approx(
        {
            ("i-n1", day): 6.048,
            ("i-n2", day): 13.08,
            ("vol-1", day): 0.24,  # db-0's 12 h + b's unmounted 12 h (no bill line: list)
            ("vol-2", day): 0.24,  # unbound: all unmounted
            ("c1/a/web", day): 0.36,  # the balancer billed at half its list 0.72
        },
        abs=1e-9,
    )
    [lb] = [r for r in rows if r["ResourceType"] == "Load Balancer"]
    assert (lb["x_Pod"], lb["EffectiveCost"], lb["ListCost"]) == (
        "web-1",
        pytest.approx(0.36),
        pytest.approx(0.72),
    )
    volume = sorted(
        (r["x_Pod"] or "", r["EffectiveCost"]) for r in rows if r["ResourceId"] == "vol-1"
    )
    assert volume == [("", pytest.approx(0.12)), ("db-0", pytest.approx(0.12))]
    compute = [r for r in rows if r["ResourceType"] == "Virtual Machine"]
    by_pod = {r["x_Pod"]: r["EffectiveCost"] for r in compute}
    assert by_pod == pytest.approx(
        {"web-1": 1.176, "db-0": 1.176, "cron-1": 0.084, "train": 6.315, None: 6.765}
    )
    unallocated = sorted(
        float(r["EffectiveCost"]) for r in compute if r["AllocatedResourceId"] is None
    )  # type: ignore[arg-type]
    assert unallocated == pytest.approx([3.612, 6.765])
    for field in ("BilledCost", "ListCost", "ContractedCost"):
        n1 = sum(float(r[field]) for r in rows if r["ResourceId"] == "i-n1")  # type: ignore[arg-type]
        assert n1 == pytest.approx(
            {"BilledCost": 6.048, "ListCost": 8.64, "ContractedCost": 8.64}[field]
        )


def test_allocated_rows_copy_the_origin_dimensions(rows: list[dict[str, object]]) -> None:
    """An allocated charge MUST copy the origin charge's dimensions."""
    for node in ("i-n1", "i-n2"):
        mine = [r for r in rows if r["ResourceId"] == node]
        for column in (
            "ResourceName",
            "ResourceType",
            "ServiceName",
            "ServiceCategory",
            "BillingAccountId",
            "x_Node",
        ):
            assert len({r[column] for r in mine}) == 1, (node, column)


def test_method_details_ratios_sum_to_one_and_unallocated_has_no_resource(
    rows: list[dict[str, object]],
) -> None:
    """AllocatedMethodDetails Elements[].AllocatedRatio MUST sum to 1; the unallocated
    remainder has AllocatedResourceId null."""
    for r in rows:
        if r["ResourceType"] == "Virtual Machine":
            assert r["AllocatedMethodId"] == METHOD_ID
        if r["AllocatedResourceId"] is None:
            assert r["AllocatedResourceName"] is None and r["x_Pod"] is None
            continue
        elements = json.loads(str(r["AllocatedMethodDetails"]))["Elements"]
        assert sum(e["AllocatedRatio"] for e in elements) == pytest.approx(1.0)
    [train] = [r for r in rows if r["x_Pod"] == "train"]
    elements = {
        e["UsageUnit"]: e for e in json.loads(str(train["AllocatedMethodDetails"]))["Elements"]
    }
    # CPU 0.45, RAM 0.18, GPU 12.00 at list, all × 0.5: ratios 0.45/12.63 …
    assert elements["GPU-Hours"]["AllocatedRatio"] == pytest.approx(12.0 / 12.63)
    assert elements["Core-Hours"]["UsageQuantity"] == pytest.approx(9.0)  # 1.5 cores × 6 h
    assert train["AllocatedResourceName"] == "c1/b/train" and train["x_CostBasis"] == "reconciled"
    assert json.loads(str(train["AllocatedTags"])) == {}


def test_list_basis_scoped_namespaces_and_open_days() -> None:
    listed = list(focus_rows(tiny_cluster(), WINDOW, now=WINDOW.end_ts + H))
    assert origin_totals(listed)[("i-n1", "2026-11-01T00:00:00Z")] == pytest.approx(8.64)
    assert origin_totals(listed)[("c1/a/web", "2026-11-01T00:00:00Z")] == pytest.approx(0.72)
    assert {r["x_CostBasis"] for r in listed} == {"list"}
    scoped = list(focus_rows(billed_cluster(), WINDOW, now=WINDOW.end_ts + H, namespaces=["a"]))
    # web-1's compute and its load-balancer share; no other tenant, no idle, no remainder.
    assert sorted((r["x_Pod"], r["ResourceType"]) for r in scoped) == [
        ("web-1", "Load Balancer"),
        ("web-1", "Virtual Machine"),
    ]
    assert (
        list(
            focus_rows(
                billed_cluster(), WINDOW, now=WINDOW.end_ts - timedelta(hours=1).total_seconds()
            )
        )
        == []
    )


def test_volume_and_load_balancer_rows_name_their_resource_and_whole_share(
    rows: list[dict[str, object]],
) -> None:
    """Volume and load-balancer origins: their resource columns, consumed unit and method, and
    an allocated row's one element holding the whole of what it consumed."""
    expected = {
        "vol-1": ("Volume", "Storage", "Kubernetes persistent volumes", "GiB-Hours",
                  "costreport-volume-claim-hours-v1"),
        "c1/a/web": ("Load Balancer", "Networking", "Kubernetes load balancers", "Hours",
                     "costreport-loadbalancer-running-time-v1"),
    }  # fmt: skip
    for resource, (kind, category, service, unit, method) in expected.items():
        mine = [r for r in rows if r["ResourceId"] == resource]
        assert mine
        for r in mine:
            assert (r["ResourceType"], r["ServiceCategory"], r["ServiceName"]) == (
                kind,
                category,
                service,
            )
            assert (r["HostProviderName"], r["x_Node"], r["x_ClusterId"]) == (
                "Not Applicable",
                None,
                "c1",
            )
            assert (r["ConsumedUnit"], r["AllocatedMethodId"]) == (unit, method)
            if r["AllocatedResourceId"] is None:
                assert r["AllocatedMethodDetails"] is None
                continue
            assert json.loads(str(r["AllocatedMethodDetails"])) == {
                "Elements": [
                    {
                        "AllocatedRatio": 1.0,
                        "UsageUnit": unit,
                        "UsageQuantity": r["ConsumedQuantity"],
                    }
                ]
            }


def test_origins_without_a_bill_line_that_day_are_flagged_list() -> None:
    """Reconciled rows copy their origin's bill; an origin with no bill line that day keeps
    list-price estimates and says so in `x_CostBasis` (n2's line removed here; the volumes
    never had one)."""
    data = billed_cluster()
    data.bills = {
        k: v
        for k, v in data.bills.items()
        if k != resource_key("arn:aws:ec2:us-east-1:111:instance/i-n2")
    }
    got = {
        (r["ResourceType"], r["ResourceId"]): r["x_CostBasis"]
        for r in focus_rows(data, WINDOW, now=WINDOW.end_ts + H)
    }
    assert got == {
        ("Virtual Machine", "i-n1"): "reconciled",
        ("Virtual Machine", "i-n2"): "list",
        ("Load Balancer", "c1/a/web"): "reconciled",
        ("Volume", "vol-1"): "list",
        ("Volume", "vol-2"): "list",
    }
