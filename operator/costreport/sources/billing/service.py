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
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from costreport.engine.cloudcost import CloudCostQuery, CloudCostSet, compute_cloud_costs
from costreport.model.billing import PROPERTIES, BillLines
from costreport.model.window import Window
from costreport.sources.billing import daily
from costreport.sources.billing.focus import COLUMN_OF, NORMALISED
from costreport.sources.billing.store import BillingReport, BillingStore

CLOUDS = ("aws", "amazon", "microsoft", "azure", "google", "gcp", "oracle", "alibaba", "ibm")
"""Provider names (lower-case prefixes) whose lines are cloud costs; others are custom costs."""
KUBERNETES_TAGS = re.compile(
    r"^(kubernetes\.io/cluster/|aws:eks:cluster-name$|eks:cluster-name$|"
    r"goog-k8s-cluster-name$|goog-gke-|aks-managed-|k8s-cluster|kubernetes-cluster)",
    re.IGNORECASE,
)


def is_cloud(provider: str) -> bool:
    """Whether a provider name is a cloud's (its lines are cloud costs)."""
    lower = provider.strip().lower()
    return any(lower.startswith(c) for c in CLOUDS)


def cost_metrics(table: pa.Table) -> dict[str, np.ndarray]:
    """OpenCost's cost metrics from normalised FOCUS columns (the README's mapping table):
    list = ListCost, net and invoiced = BilledCost, amortised net = EffectiveCost, amortised
    = EffectiveCost without credits."""
    effective = np.asarray(table["effective_cost"].to_numpy(), np.float64)
    billed = np.asarray(table["billed_cost"].to_numpy(), np.float64)
    credit = np.asarray(
        pc.equal(table["charge_category"], "Credit").to_numpy(zero_copy_only=False), bool
    )
    return {
        "listCost": np.asarray(table["list_cost"].to_numpy(), np.float64),
        "netCost": billed,
        "amortizedNetCost": effective,
        "invoicedCost": billed,
        "amortizedCost": np.where(credit, 0.0, effective),
    }


def _on_kubernetes(provider_id: str | None, tags: Iterable[str], ids: frozenset[str]) -> float:
    """1.0 for a line of a cluster's resource (a known node/volume id, or a cluster tag)."""
    if provider_id and provider_id in ids:
        return 1.0
    return 1.0 if any(KUBERNETES_TAGS.match(k) for k in tags) else 0.0


def _currency(table: pa.Table) -> str:
    """The bill's currency (the first, sorted, when several; USD when none is named)."""
    currencies = [c for c in pc.unique(table["currency"]).to_pylist() if c]
    return sorted(currencies)[0] if currencies else "USD"


GROUPED = (*(COLUMN_OF[p] for p in PROPERTIES), "tags", "currency", "provider")
"""Columns cloud-cost queries read as dictionary arrays (few distinct texts, many lines)."""


def _value_codes(column: pa.ChunkedArray, null_as: str) -> np.ndarray:
    """Per row a code, equal exactly for equal values (a null counts as `null_as`)."""
    arr = column.combine_chunks() if column.num_chunks else pa.array([], column.type)
    if not pa.types.is_dictionary(arr.type):
        arr = pc.dictionary_encode(arr)
    assert isinstance(arr, pa.DictionaryArray)
    found = pc.index(arr.dictionary, null_as).as_py()
    fill = found if found >= 0 else len(arr.dictionary)
    return np.asarray(pc.fill_null(arr.indices, fill).to_numpy(zero_copy_only=False), np.int64)


def _first_seen(key: np.ndarray) -> np.ndarray:
    """Dense codes of an integer key, numbered in order of first appearance."""
    encoded = pc.dictionary_encode(pa.array(key, pa.int64()))
    return np.asarray(encoded.indices.to_numpy(zero_copy_only=False), np.int64)


def grouped_lines(table: pa.Table, kubernetes_ids: frozenset[str] = frozenset()) -> BillLines:
    """Bill rows as engine columns grouped by identical properties and tags (in Arrow and
    numpy, not per line in Python): what cloud-cost queries read. Each column's values are
    coded (from Parquet's dictionaries when read so), the codes combined column by column and
    renumbered in order of first appearance."""
    if not table.num_rows:
        return BillLines.empty()
    costs = cost_metrics(table)
    table = table.unify_dictionaries()
    codes = [_value_codes(table[COLUMN_OF[p]], "") for p in PROPERTIES]
    codes.append(_value_codes(table["tags"], "{}"))
    key = codes[0]
    for column in codes[1:]:
        key = _first_seen(key * (int(column.max()) + 1) + column)  # stays below rows²
    group = key  # already numbered in order of first appearance
    first = np.unique(group, return_index=True)[1]
    picked = table.take(pa.array(first, pa.int64()))
    values = list(zip(*(picked[COLUMN_OF[p]].to_pylist() for p in PROPERTIES), strict=True))
    labels = [json.loads(t or "{}") for t in picked["tags"].to_pylist()]
    groups = [(tuple(v or "" for v in vs), lab) for vs, lab in zip(values, labels, strict=True)]
    # PROPERTIES[0] is providerID.
    group_k8s = np.array([_on_kubernetes(vs[0], lab, kubernetes_ids) for vs, lab in groups])
    return BillLines(
        start=np.asarray(table["start"].to_numpy(), np.float64),
        end=np.asarray(table["end"].to_numpy(), np.float64),
        costs=costs,
        kubernetes=group_k8s[group],
        properties={p: [] for p in PROPERTIES},
        labels=[],
        currency=_currency(table),
        group=group,
        groups=groups,
    )


def bill_lines(table: pa.Table, kubernetes_ids: frozenset[str] = frozenset()) -> BillLines:
    """Normalised bill rows as engine columns, with the cost-metric mapping above."""
    costs = cost_metrics(table)
    properties = {p: table[COLUMN_OF[p]].to_pylist() for p in PROPERTIES}
    labels = [dict(m or []) for m in table["labels"].to_pylist()]
    ids = properties["providerID"]
    kubernetes = np.fromiter(
        (_on_kubernetes(i, lab, kubernetes_ids) for i, lab in zip(ids, labels, strict=True)),
        np.float64,
        len(labels),
    )
    return BillLines(
        start=np.asarray(table["start"].to_numpy(), np.float64),
        end=np.asarray(table["end"].to_numpy(), np.float64),
        costs=costs,
        kubernetes=kubernetes,
        properties=properties,
        labels=labels,
        currency=_currency(table),
    )


class CloudCosts:
    """Queries over the bills of a ledger (and their refresh from `--billing`)."""

    def __init__(
        self,
        store: BillingStore,
        url: str | None = None,
        kubernetes_ids: Callable[[], frozenset[str]] | None = None,
        by_day: bool = True,
    ) -> None:
        self.store, self.url = store, url
        self.by_day = by_day
        """Whether windows of whole UTC days read the bills' day rows (`daily`)."""
        self.kubernetes_ids = kubernetes_ids or (lambda: frozenset())
        self.last: BillingReport | None = None

    def _lines(self, start: float, end: float, cloud: bool) -> BillLines:
        table = None
        if cloud and self.by_day and daily.aligned(start, end):
            table = self.store.read_days(start, end, dictionary=GROUPED)
        if table is None:
            columns = [c for c in NORMALISED.names if c != "labels"] if cloud else None
            table = self.store.read(
                start, end, columns=columns, dictionary=GROUPED if cloud else ()
            )
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
