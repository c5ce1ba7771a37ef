"""FOCUS 1.3 export columns and the parts every exported row shares (period, origin, bill)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import numpy as np

from costreport.model.cluster import ClusterData
from costreport.model.window import Window

METHOD_ID = "costreport-max-request-usage-v1"
"""`AllocatedMethodId`: a container's CPU/RAM cost is max(request, usage) × its node's price;
GPU by request; the node's unallocated remainder is its own row."""

COLUMNS: tuple[str, ...] = (
    "BilledCost",
    "BillingAccountId",
    "BillingAccountName",
    "BillingCurrency",
    "BillingPeriodStart",
    "BillingPeriodEnd",
    "ChargeCategory",
    "ChargeClass",
    "ChargeDescription",
    "ChargeFrequency",
    "ChargePeriodStart",
    "ChargePeriodEnd",
    "ConsumedQuantity",
    "ConsumedUnit",
    "ContractedCost",
    "EffectiveCost",
    "InvoiceId",
    "InvoiceIssuerName",
    "ListCost",
    "PricingQuantity",
    "PricingUnit",
    "ServiceProviderName",
    "HostProviderName",
    "ProviderName",
    "PublisherName",
    "RegionId",
    "AvailabilityZone",
    "ResourceId",
    "ResourceName",
    "ResourceType",
    "ServiceCategory",
    "ServiceSubcategory",
    "ServiceName",
    "SubAccountId",
    "Tags",
    "AllocatedMethodId",
    "AllocatedMethodDetails",
    "AllocatedResourceId",
    "AllocatedResourceName",
    "AllocatedTags",
    "x_ClusterId",
    "x_Namespace",
    "x_ControllerKind",
    "x_Controller",
    "x_Pod",
    "x_Node",
    "x_CostBasis",
)
"""Export columns: FOCUS 1.3 mandatory ones (with `ProviderName` and `PublisherName`, deprecated
in 1.3 but still MUST be present, holding the service provider as 1.3's `ServiceProviderName`),
recommended `InvoiceId` (null: an allocation row is on no invoice) and `ServiceSubcategory`, the
split-allocation ones, then `x_` ones."""

SUBCATEGORIES = {
    "Compute": "Virtual Machines",
    "Storage": "Block Storage",
    "Networking": "Application Networking",
}
"""`ServiceSubcategory` of each origin's `ServiceCategory`: nodes are virtual machines, volumes
block storage, load balancers "distribution of incoming network traffic" (FOCUS's allowed
values)."""

PROVIDERS = {"aws": "AWS", "gcp": "Google Cloud", "azure": "Microsoft", "custom": "Not Applicable"}


def iso(ts: float) -> str:
    return datetime.fromtimestamp(round(ts), tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def month_of(ts: float) -> tuple[str, str]:
    moment = datetime.fromtimestamp(ts, tz=UTC).replace(day=1, hour=0, minute=0, second=0)
    following = moment.replace(year=moment.year + (moment.month == 12), month=moment.month % 12 + 1)
    return iso(moment.timestamp()), iso(following.timestamp())


def complete_row(
    data: ClusterData,
    day: Window,
    dims: Mapping[str, Any],
    row: Mapping[str, Any],
    basis: str,
    billed: float,
) -> dict[str, Any]:
    """Every export column of a row: the period, the origin's dimensions, the row's own."""
    period = month_of(day.start_ts)
    provider = dims.get("ServiceProviderName") or "Not Applicable"
    out = {
        "BilledCost": row["EffectiveCost"] * billed,
        "BillingAccountName": dims.get("BillingAccountId"),
        "BillingCurrency": data.currency,
        "BillingPeriodStart": period[0],
        "BillingPeriodEnd": period[1],
        "ChargeCategory": "Usage",
        "ChargeClass": None,
        "ChargeFrequency": "Usage-Based",
        "ChargePeriodStart": iso(day.start_ts),
        "ChargePeriodEnd": iso(day.end_ts),
        "ContractedCost": row["ListCost"],
        "InvoiceId": None,
        "InvoiceIssuerName": provider,
        "ProviderName": provider,
        "PublisherName": provider,
        "ServiceSubcategory": SUBCATEGORIES.get(str(dims.get("ServiceCategory"))),
        "PricingQuantity": row.get("ConsumedQuantity"),
        "PricingUnit": row.get("ConsumedUnit"),
        "SubAccountId": None,
        "Tags": json.dumps({"kubernetes.io/cluster": dims.get("x_ClusterId")}),
        "x_CostBasis": basis,
        **dims,
        **row,
    }
    return {name: out.get(name) for name in COLUMNS}


def origin_basis(data: ClusterData, key: str, day: Window, basis: str) -> tuple[str, float]:
    """An origin's `x_CostBasis` and BilledCost / EffectiveCost ratio for the day: the query's
    basis and the bill's ratio where a bill line covers the resource that day, else list
    prices (an estimate, flagged `list`) and 1."""
    if basis != "reconciled":
        return basis, 1.0
    bill = data.bills.get(key) if key else None
    if bill is None or not np.any((bill.start < day.end_ts) & (bill.end > day.start_ts)):
        return "list", 1.0
    return basis, billed_ratio(data, key, day)


def billed_ratio(data: ClusterData, key: str, day: Window) -> float:
    """A resource's BilledCost / EffectiveCost over the day (1 without a bill line; 0 under a
    savings plan, whose purchase row is billed instead), so split rows sum to the origin's
    BilledCost."""
    bill = data.bills.get(key) if key else None
    if bill is None:
        return 1.0
    overlap = np.clip(
        np.minimum(bill.end, day.end_ts) - np.maximum(bill.start, day.start_ts), 0, None
    )
    share = overlap / np.maximum(bill.end - bill.start, 1e-9)
    effective = float((bill.cost * share).sum())
    return float((bill.billed * share).sum()) / effective if effective else 1.0
