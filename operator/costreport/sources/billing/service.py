"""Cloud and custom costs from the ledger's bills: what `/cloudCost` and `/customCost` read.

FOCUS → OpenCost cost metric (one home for the mapping; the README has it with reasons):

| costMetric       | FOCUS                                        |
| ---------------- | -------------------------------------------- |
| listCost         | ListCost                                     |
| netCost          | BilledCost (credits included, as own rows)   |
| invoicedCost     | BilledCost (what the invoice charges)        |
| amortizedNetCost | EffectiveCost (commitments amortised, net)   |
| amortizedCost    | EffectiveCost of every row but credits       |

A line is Kubernetes (`kubernetesPercent` 1) when its `ResourceId` is a node, volume or load
balancer the ledger knows, or its tags carry a Kubernetes cluster tag (EKS, GKE, AKS or
`kubernetes.io/cluster/*`). Lines of providers that are not clouds (SaaS exports) are custom
costs.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from costreport.engine.cloudcost import CloudCostQuery, CloudCostSet, compute_cloud_costs
from costreport.model.billing import PROPERTIES, BillLines
from costreport.model.window import Window
from costreport.sources.billing.focus import NORMALISED
from costreport.sources.billing.store import BillingReport, BillingStore

CLOUDS = ("aws", "amazon", "microsoft", "azure", "google", "gcp", "oracle", "alibaba", "ibm")
"""Provider names (lower-case prefixes) whose lines are cloud costs; others are custom costs."""
KUBERNETES_TAGS = re.compile(
    r"^(kubernetes\.io/cluster/|aws:eks:cluster-name$|eks:cluster-name$|"
    r"goog-k8s-cluster-name$|goog-gke-|aks-managed-|k8s-cluster|kubernetes-cluster)",
    re.IGNORECASE,
)

COLUMN_OF = {
    "providerID": "provider_id",
    "provider": "provider",
    "accountID": "account_id",
    "accountName": "account_name",
    "invoiceEntityID": "invoice_entity_id",
    "invoiceEntityName": "invoice_entity_name",
    "regionID": "region_id",
    "availabilityZone": "availability_zone",
    "service": "service",
    "category": "category",
}


def is_cloud(provider: str) -> bool:
    """Whether a provider name is a cloud's (its lines are cloud costs)."""
    lower = provider.strip().lower()
    return any(lower.startswith(c) for c in CLOUDS)


def grouped_lines(table: pa.Table, kubernetes_ids: frozenset[str] = frozenset()) -> BillLines:
    """Bill rows as engine columns grouped by identical properties and tags (in Arrow, not per
    line in Python): what cloud-cost queries read."""
    effective = np.asarray(table["effective_cost"].to_numpy(), np.float64)
    billed = np.asarray(table["billed_cost"].to_numpy(), np.float64)
    credit = np.asarray(
        pc.equal(table["charge_category"], "Credit").to_numpy(zero_copy_only=False), bool
    )
    costs = {
        "listCost": np.asarray(table["list_cost"].to_numpy(), np.float64),
        "netCost": billed,
        "amortizedNetCost": effective,
        "invoicedCost": billed,
        "amortizedCost": np.where(credit, 0.0, effective),
    }
    columns = [pc.fill_null(table[COLUMN_OF[p]], "") for p in PROPERTIES]
    key = pc.binary_join_element_wise(*columns, pc.fill_null(table["tags"], "{}"), "\x1f")
    encoded = pc.dictionary_encode(key).combine_chunks() if table.num_rows else None
    if encoded is None:
        return BillLines.empty()
    group = np.asarray(encoded.indices.to_numpy(zero_copy_only=False), np.int64)
    first = pc.index_in(encoded.dictionary, value_set=key).to_numpy(zero_copy_only=False)
    picked = table.take(pa.array(np.asarray(first, np.int64)))
    values = list(zip(*(picked[COLUMN_OF[p]].to_pylist() for p in PROPERTIES), strict=True))
    labels = [json.loads(t or "{}") for t in picked["tags"].to_pylist()]
    groups = [(tuple(v or "" for v in vs), lab) for vs, lab in zip(values, labels, strict=True)]
    group_k8s = np.array(
        [
            1.0
            if (vs[0] and vs[0] in kubernetes_ids) or any(KUBERNETES_TAGS.match(k) for k in lab)
            else 0.0
            for vs, lab in groups
        ]
    )
    currencies = [c for c in pc.unique(table["currency"]).to_pylist() if c]
    return BillLines(
        start=np.asarray(table["start"].to_numpy(), np.float64),
        end=np.asarray(table["end"].to_numpy(), np.float64),
        costs=costs,
        kubernetes=group_k8s[group],
        properties={p: [] for p in PROPERTIES},
        labels=[],
        currency=sorted(currencies)[0] if currencies else "USD",
        group=group,
        groups=groups,
    )


def bill_lines(table: pa.Table, kubernetes_ids: frozenset[str] = frozenset()) -> BillLines:
    """Normalised bill rows as engine columns, with the cost-metric mapping above."""
    effective = np.asarray(table["effective_cost"].to_numpy(), np.float64)
    billed = np.asarray(table["billed_cost"].to_numpy(), np.float64)
    categories = table["charge_category"].to_pylist()
    credit = np.fromiter((c == "Credit" for c in categories), bool, len(categories))
    costs = {
        "listCost": np.asarray(table["list_cost"].to_numpy(), np.float64),
        "netCost": billed,
        "amortizedNetCost": effective,
        "invoicedCost": billed,
        "amortizedCost": np.where(credit, 0.0, effective),
    }
    properties = {p: table[COLUMN_OF[p]].to_pylist() for p in PROPERTIES}
    labels = [dict(m or []) for m in table["labels"].to_pylist()]
    ids = properties["providerID"]
    kubernetes = np.fromiter(
        (
            1.0
            if (ids[i] and ids[i] in kubernetes_ids)
            or any(KUBERNETES_TAGS.match(k) for k in labels[i])
            else 0.0
            for i in range(len(labels))
        ),
        np.float64,
        len(labels),
    )
    currencies = {c for c in table["currency"].to_pylist() if c}
    return BillLines(
        start=np.asarray(table["start"].to_numpy(), np.float64),
        end=np.asarray(table["end"].to_numpy(), np.float64),
        costs=costs,
        kubernetes=kubernetes,
        properties=properties,
        labels=labels,
        currency=sorted(currencies)[0] if currencies else "USD",
    )


class CloudCosts:
    """Queries over the bills of a ledger (and their refresh from `--billing`)."""

    def __init__(
        self,
        store: BillingStore,
        url: str | None = None,
        kubernetes_ids: Callable[[], frozenset[str]] | None = None,
    ) -> None:
        self.store, self.url = store, url
        self.kubernetes_ids = kubernetes_ids or (lambda: frozenset())
        self.last: BillingReport | None = None

    def _lines(self, start: float, end: float, cloud: bool) -> BillLines:
        columns = [c for c in NORMALISED.names if c != "labels"] if cloud else None
        table = self.store.read(start, end, columns=columns)
        providers = pc.unique(table["provider"]).to_pylist()
        wanted = [p for p in providers if is_cloud(p or "") == cloud]
        table = table.filter(pc.is_in(table["provider"], value_set=pa.array(wanted, pa.string())))
        if cloud:
            return grouped_lines(table, self.kubernetes_ids())
        return bill_lines(table, self.kubernetes_ids())

    async def sets(self, query: CloudCostQuery) -> list[CloudCostSet]:
        """The cloud-cost sets of a query (computed in a worker thread)."""
        a, z = query.window.start_ts, query.window.end_ts

        def run() -> list[CloudCostSet]:
            return compute_cloud_costs(self._lines(a, z, cloud=True), query)

        return await asyncio.to_thread(run)

    async def custom_lines(self, start: float, end: float) -> BillLines:
        """Lines of providers that are not clouds."""
        return await asyncio.to_thread(self._lines, start, end, False)

    async def refresh(self) -> BillingReport | None:
        """Ingest new or changed bill files (when a `--billing` URL is set)."""
        if self.url is None:
            return None
        self.last = await asyncio.to_thread(self.store.ingest, self.url)
        return self.last

    async def status(self) -> list[dict[str, Any]]:
        """OpenCost's `/cloudCost/status` entries: one per bill file."""
        entries = await asyncio.to_thread(self.store.entries)
        out = []
        for e in entries:
            valid = bool(e.get("data")) and not e.get("error")
            out.append(
                {
                    "key": e.get("path"),
                    "source": "focus",
                    "provider": "FOCUS " + str(e.get("version") or ""),
                    "active": True,
                    "valid": valid,
                    "lastRun": e.get("checked") or e.get("ingested"),
                    "nextRun": None,
                    "RefreshRate": "5m",
                    "created": e.get("ingested"),
                    "runs": 1,
                    "coverage": _coverage(e),
                    "connectionStatus": "Successful Connection"
                    if valid
                    else f"Failed: {e.get('error')}",
                    "config": {"billing": self.url or ""},
                }
            )
        return out


def _coverage(entry: Mapping[str, Any]) -> str:
    if entry.get("start") is None:
        return ""
    window = Window.from_timestamps(float(entry["start"]), float(entry["end"])).to_json()
    return f"{window['start']} - {window['end']}"
