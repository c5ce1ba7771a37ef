"""The embedded sample cluster's cloud bill, as an AWS FOCUS 1.2 export would show it.

Daily rows per resource, for every whole day the sample covers:

- EC2 instances (the nodes): `ListCost` at the on-demand prices the sample uses; `m5.2xlarge`
  and `c5.2xlarge` are covered by a Compute Savings Plan (`EffectiveCost` 72 % of list,
  `BilledCost` 0, the plan's daily `Purchase` row bills the amortised amount); the spot
  `r5.xlarge` is billed at its spot price; the GPU node at list. Each instance is tagged as
  the cluster's (`eks:cluster-name`, `kubernetes.io/cluster/<id>`).
- EBS volumes (the persistent volumes) at list; the ELB (the LoadBalancer service) at list.
- The EKS cluster fee, an S3 bucket and an RDS database (not Kubernetes).
- A $25 credit on the first day; a bastion instance the cluster does not have
  (`i-0bastion`); and no row at all for the node `ip-10-0-0-12` (it joined late: "the bill
  has not caught up"), so the unmatched cases show on both sides.
- A Datadog line (a SaaS provider's FOCUS export): a custom cost, not a cloud cost.
"""

from __future__ import annotations

import csv
import json
import math
from datetime import UTC, datetime
from pathlib import Path

from costreport.model.cluster import GIB, ClusterData

DAY = 86400.0
SAVINGS_PLAN_TYPES = ("m5.2xlarge", "c5.2xlarge")
SAVINGS_PLAN_RATE = 0.72
SAVINGS_PLAN_ID = "arn:aws:savingsplans::123456789012:savingsplan/sp-0demo"
MISSING_NODE = "ip-10-0-0-12.ec2.internal"
ACCOUNT = "123456789012"
ELB = f"arn:aws:elasticloadbalancing:us-east-1:{ACCOUNT}:loadbalancer/net"
EKS = ("EKS cluster-hours", "Cluster", "Amazon Elastic Kubernetes Service", "Compute")
OTHERS = [
    # (description, resource type, service, category, resource id, name, daily cost, tags)
    ("S3 Standard storage", "Bucket", "Amazon Simple Storage Service", "Storage",
     "example-corp-assets", "example-corp-assets", 1.84, json.dumps({"team": "web"})),
    ("db.r6g.large instance-hours", "DB Instance", "Amazon Relational Database Service",
     "Databases", f"arn:aws:rds:us-east-1:{ACCOUNT}:db:orders", "orders", 5.52,
     json.dumps({"team": "payments"})),
    ("t3.micro instance-hours", "Instance", "Amazon Elastic Compute Cloud", "Compute",
     "i-0bastion", "bastion", 0.2496, "{}"),
]  # fmt: skip
"""Daily rows that are not the cluster's nodes, volumes or load balancers."""

COLUMNS = (
    "BillingAccountId",
    "BillingAccountName",
    "BillingAccountType",
    "InvoiceId",
    "BillingCurrency",
    "BillingPeriodStart",
    "BillingPeriodEnd",
    "ChargeCategory",
    "ChargeClass",
    "ChargeDescription",
    "ChargePeriodStart",
    "ChargePeriodEnd",
    "BilledCost",
    "EffectiveCost",
    "ListCost",
    "ContractedCost",
    "ProviderName",
    "PublisherName",
    "InvoiceIssuerName",
    "SubAccountId",
    "SubAccountName",
    "RegionId",
    "AvailabilityZone",
    "ResourceId",
    "ResourceName",
    "ResourceType",
    "ServiceName",
    "ServiceCategory",
    "PricingCategory",
    "CommitmentDiscountId",
    "Tags",
)


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _month(ts: float) -> tuple[str, str]:
    moment = datetime.fromtimestamp(ts, tz=UTC)
    start = moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    end = start.replace(year=start.year + (start.month == 12), month=start.month % 12 + 1)
    return _iso(start.timestamp()), _iso(end.timestamp())


def sample_bill_rows(data: ClusterData) -> list[dict[str, str]]:
    """Every row of the sample's bill."""
    first = math.ceil(data.window.start_ts / DAY) * DAY
    last = math.floor(data.window.end_ts / DAY) * DAY
    cluster = next(iter(data.cluster_management_hourly), "sample-cluster")
    rows: list[dict[str, str]] = []

    def row(day: float, **fields: object) -> None:
        period = _month(day)
        base: dict[str, object] = {
            "BillingAccountId": ACCOUNT,
            "BillingAccountName": "Example Corp",
            "BillingAccountType": "Billing Account",
            "InvoiceId": f"INV-{period[0][:7]}",
            "BillingCurrency": "USD",
            "BillingPeriodStart": period[0],
            "BillingPeriodEnd": period[1],
            "ChargeCategory": "Usage",
            "ChargeClass": "",
            "ChargePeriodStart": _iso(day),
            "ChargePeriodEnd": _iso(day + DAY),
            "ProviderName": "AWS",
            "PublisherName": "AWS",
            "InvoiceIssuerName": "AWS",
            "SubAccountId": ACCOUNT,
            "SubAccountName": "production",
            "RegionId": "us-east-1",
            "PricingCategory": "Standard",
            "Tags": "{}",
        }
        base.update(fields)
        for cost in ("BilledCost", "EffectiveCost", "ListCost", "ContractedCost"):
            base[cost] = f"{float(base.get(cost, 0.0)):.10f}"  # type: ignore[arg-type]
        rows.append({c: str(base.get(c, "")) for c in COLUMNS})

    cluster_tags = json.dumps(
        {"eks:cluster-name": cluster, f"kubernetes.io/cluster/{cluster}": "owned"}
    )
    day = first
    while day < last:
        committed = 0.0
        for node in data.nodes:
            seconds = min(node.end, day + DAY) - max(node.start, day)
            if seconds <= 0 or node.name == MISSING_NODE:
                continue
            hours = seconds / 3600
            list_cost = hours * (
                node.cpu_cores * node.cpu_price
                + node.ram_bytes / GIB * node.ram_price
                + node.gpu_count * node.gpu_price
            )
            covered = node.instance_type in SAVINGS_PLAN_TYPES
            effective = list_cost * SAVINGS_PLAN_RATE if covered else list_cost
            committed += effective if covered else 0.0
            row(
                day,
                ChargeDescription=f"{node.instance_type} instance-hours",
                BilledCost=0.0 if covered else effective,
                EffectiveCost=effective,
                ListCost=list_cost,
                ContractedCost=list_cost,
                AvailabilityZone=node.labels.get("topology_kubernetes_io_zone", ""),
                ResourceId=node.provider_id,
                ResourceName=node.name,
                ResourceType="Instance",
                ServiceName="Amazon Elastic Compute Cloud",
                ServiceCategory="Compute",
                PricingCategory="Committed"
                if covered
                else ("Dynamic" if node.spot else "Standard"),
                CommitmentDiscountId=SAVINGS_PLAN_ID if covered else "",
                Tags=cluster_tags,
            )
        if committed:
            row(
                day,
                ChargeCategory="Purchase",
                ChargeDescription="Compute Savings Plan, amortised daily",
                BilledCost=committed,
                EffectiveCost=0.0,
                ListCost=0.0,
                ContractedCost=0.0,
                ResourceId=SAVINGS_PLAN_ID,
                ResourceType="Savings Plan",
                ServiceName="Savings Plans for AWS Compute usage",
                ServiceCategory="Compute",
                PricingCategory="Committed",
                CommitmentDiscountId=SAVINGS_PLAN_ID,
            )
        for volume in data.volumes:
            seconds = min(volume.end, day + DAY) - max(volume.start, day)
            if seconds <= 0:
                continue
            cost = seconds / 3600 * volume.bytes / GIB * volume.price_gib_hour
            row(
                day,
                ChargeDescription="EBS gp3 GiB-hours",
                BilledCost=cost, EffectiveCost=cost, ListCost=cost, ContractedCost=cost,
                ResourceId=volume.provider_id, ResourceName=volume.name, ResourceType="Volume",
                ServiceName="Amazon Elastic Block Store", ServiceCategory="Storage",
                Tags=cluster_tags,
            )  # fmt: skip
        for balancer in data.load_balancers:
            seconds = min(balancer.end, day + DAY) - max(balancer.start, day)
            if seconds <= 0:
                continue
            cost = seconds / 3600 * balancer.price_hour
            name = f"{balancer.namespace}-{balancer.service}"
            row(
                day,
                ChargeDescription="Elastic Load Balancing hours",
                BilledCost=cost, EffectiveCost=cost, ListCost=cost, ContractedCost=cost,
                ResourceId=f"{ELB}/{name}",
                ResourceName=name, ResourceType="Load Balancer",
                ServiceName="Elastic Load Balancing", ServiceCategory="Networking",
                Tags=json.dumps({
                    **json.loads(cluster_tags),
                    "kubernetes.io/service-name": f"{balancer.namespace}/{balancer.service}",
                }),
            )  # fmt: skip
        fee = 24 * data.cluster_management_hourly.get(cluster, 0.1)
        arn = f"arn:aws:eks:us-east-1:{ACCOUNT}:cluster/{cluster}"
        others = [(*EKS, arn, cluster, fee, cluster_tags), *OTHERS]
        for description, rtype, service, category, rid, name, cost, tags in others:
            row(
                day,
                ChargeDescription=description, ResourceType=rtype, ServiceName=service,
                ServiceCategory=category, ResourceId=rid, ResourceName=name, Tags=tags,
                BilledCost=cost, EffectiveCost=cost, ListCost=cost, ContractedCost=cost,
                AvailabilityZone="us-east-1a" if rid.startswith("i-") else "",
            )  # fmt: skip
        row(
            day,
            ProviderName="Datadog", PublisherName="Datadog", InvoiceIssuerName="Datadog",
            BillingAccountId="dd-4242", BillingAccountName="Example Corp (Datadog)",
            SubAccountId="dd-4242", SubAccountName="Example Corp", RegionId="",
            ChargeDescription="Infrastructure hosts", ResourceId="datadog-infra",
            ResourceName="Infrastructure Pro", ResourceType="Subscription",
            ServiceName="Datadog Infrastructure", ServiceCategory="Management and Governance",
            BilledCost=4.6, EffectiveCost=4.6, ListCost=5.0, ContractedCost=4.6,
        )  # fmt: skip
        if day == first:
            row(
                day,
                ChargeCategory="Credit",
                ChargeDescription="AWS Activate credit",
                BilledCost=-25.0, EffectiveCost=-25.0, ListCost=0.0, ContractedCost=0.0,
                ServiceName="Amazon Elastic Compute Cloud", ServiceCategory="Compute",
            )  # fmt: skip
        day += DAY
    return rows


def write_sample_bill(data: ClusterData, directory: Path) -> Path:
    """Write the bill as `focus-<first day>.csv` under `directory` (same content, same file)."""
    rows = sample_bill_rows(data)
    directory.mkdir(parents=True, exist_ok=True)
    name = f"focus-{rows[0]['ChargePeriodStart'][:10]}.csv" if rows else "focus-empty.csv"
    path = directory / name
    temporary = path.with_suffix(".tmp")
    with temporary.open("w", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    if path.exists() and path.read_bytes() == temporary.read_bytes():
        temporary.unlink()  # unchanged: keep its mtime, so it is not ingested again
    else:
        temporary.replace(path)
    return path
