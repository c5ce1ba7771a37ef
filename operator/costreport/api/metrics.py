"""`/metrics`: the API's own health figures and OpenCost's cost metrics for Grafana.

Each application has its own registry (no process-global state, so tests and several servers
in one process do not collide). Cost gauges are produced at scrape time from the latest cluster
snapshot the handler fetched, with OpenCost's metric names and label sets (reference §6.1).
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Iterator, Sequence

from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from costreport.model.allocation import AllocationSetRange
from costreport.model.cluster import GIB, ClusterData

LATENCY_WINDOW_SECONDS = 300.0


FIGURE_WINDOWS = ("24h", "month")
"""Windows of the scheduled cost figures: the trailing 24 hours and the month to date."""
FIGURES_TTL_SECONDS = 300.0
"""How long scheduled cost figures are reused before being computed again."""


class QueryStats(Collector):
    """Sliding-window p95 latency, and cost figures with a fixed meaning per cluster.

    `cluster_cost_total`, `idle_cost_share` and `shared_cost_share` never depend on which query
    ran last: they are computed (at most every `FIGURES_TTL_SECONDS`, when scraped) per cluster
    over the trailing 24 h and the month to date, with idle included and no sharing, and
    labelled `window="24h"` or `window="month"`. The shared share is the cost of the
    `shared_namespaces` (default `kube-system`) over the cluster's total.
    """

    def __init__(self) -> None:
        self.latencies: deque[tuple[float, float]] = deque(maxlen=10_000)
        self.figures: dict[tuple[str, str], tuple[float, float, float]] = {}
        self.namespaces: dict[tuple[str, str, str], float] = {}
        self.figures_at = -math.inf

    def observe_latency(self, seconds: float) -> None:
        """Record one query's latency."""
        self.latencies.append((time.monotonic(), seconds))

    def p95_ms(self) -> float:
        """95th percentile latency over the last five minutes, in milliseconds."""
        cutoff = time.monotonic() - LATENCY_WINDOW_SECONDS
        recent = sorted(s for t, s in self.latencies if t >= cutoff)
        if not recent:
            return 0.0
        return recent[min(len(recent) - 1, int(0.95 * len(recent)))] * 1000.0

    def figures_due(self) -> bool:
        """Whether the scheduled cost figures should be computed again."""
        return time.monotonic() - self.figures_at >= FIGURES_TTL_SECONDS

    def set_figures(
        self, window: str, result: AllocationSetRange, shared_namespaces: Sequence[str]
    ) -> None:
        """Per cluster: (total, idle share, shared share) of a `cluster,namespace` result."""
        sums: dict[str, list[float]] = {}
        per_namespace: dict[tuple[str, str, str], float] = {}
        for s in result.sets:
            cost = s.columns["totalCost"]
            for i, name in enumerate(s.names):
                cluster = str(s.properties[i].get("cluster") or name.split("/")[0])
                namespace = name.split("/")[-1]
                key = (cluster, namespace, window)
                per_namespace[key] = per_namespace.get(key, 0.0) + float(cost[i])
                entry = sums.setdefault(cluster, [0.0, 0.0, 0.0])
                entry[0] += float(cost[i])
                if name.endswith("__idle__"):
                    entry[1] += float(cost[i])
                elif namespace in shared_namespaces:
                    entry[2] += float(cost[i])
        for cluster, (total, idle, shared) in sums.items():
            self.figures[(cluster, window)] = (
                total,
                idle / total if total else 0.0,
                shared / total if total else 0.0,
            )
        self.namespaces = {k: v for k, v in self.namespaces.items() if k[2] != window}
        self.namespaces.update(per_namespace)
        self.figures_at = time.monotonic()

    def collect(self) -> Iterator[Metric]:
        """Gauges computed at scrape time."""
        yield GaugeMetricFamily(
            "allocation_query_latency_p95_ms",
            "95th percentile allocation query latency over the last 5 minutes (ms)",
            value=self.p95_ms(),
        )
        families = (
            ("cluster_cost_total", "Total cost incl. idle of the cluster over the window", 0),
            ("idle_cost_share", "Idle cost over total cost of the cluster in the window", 1),
            ("shared_cost_share", "Cost of shared namespaces over total cost in the window", 2),
        )
        for name, text, index in families:
            family = GaugeMetricFamily(name, text, labels=["cluster", "window"])
            for (cluster, window), values in sorted(self.figures.items()):
                family.add_metric([cluster, window], values[index])
            yield family
        namespaces = GaugeMetricFamily(
            "namespace_cost_total",
            "Total cost of a namespace over the window (idle as __idle__)",
            labels=["cluster", "namespace", "window"],
        )
        for (cluster, namespace, window), value in sorted(self.namespaces.items()):
            namespaces.add_metric([cluster, namespace, window], value)
        yield namespaces


class LedgerFigures(Collector):
    """The ledger's freshness and size, per cluster, as of the last scrape."""

    def __init__(self) -> None:
        self.last_closed: dict[str, float] = {}
        self.size_bytes: float | None = None
        self.now = 0.0
        self.updated_at = -math.inf

    def due(self) -> bool:
        """Whether to look at the ledger again (its size is a walk over every file)."""
        return time.monotonic() - self.updated_at >= FIGURES_TTL_SECONDS

    def update(self, last_closed: dict[str, float], size_bytes: float, now: float) -> None:
        """Record the latest commit per cluster and the ledger's size."""
        self.last_closed, self.size_bytes, self.now = last_closed, size_bytes, now
        self.updated_at = time.monotonic()

    def collect(self) -> Iterator[Metric]:
        """`costreport_ledger_*` gauges (absent without a ledger)."""
        if self.size_bytes is None:
            return
        closed = GaugeMetricFamily(
            "costreport_ledger_last_closed_timestamp_seconds",
            "End of the last hour closed into the ledger (unix seconds)",
            labels=["cluster"],
        )
        lag = GaugeMetricFamily(
            "costreport_ledger_lag_seconds",
            "Seconds between now and the end of the last closed hour",
            labels=["cluster"],
        )
        for cluster, end in sorted(self.last_closed.items()):
            closed.add_metric([cluster], end)
            lag.add_metric([cluster], max(0.0, self.now - end))
        yield closed
        yield lag
        yield GaugeMetricFamily(
            "costreport_ledger_bytes", "Bytes stored in the ledger", value=self.size_bytes
        )


class BudgetFigures(Collector):
    """`costreport_budget_*` gauges from the budgets' latest status (refreshed per scrape,
    at most every `FIGURES_TTL_SECONDS`)."""

    def __init__(self) -> None:
        self.rows: list[dict[str, object]] = []
        self.updated_at = -math.inf

    def due(self) -> bool:
        """Whether to list the budgets again."""
        return time.monotonic() - self.updated_at >= FIGURES_TTL_SECONDS

    def update(self, rows: list[dict[str, object]]) -> None:
        """Record the budgets."""
        self.rows, self.updated_at = rows, time.monotonic()

    def collect(self) -> Iterator[Metric]:
        """Amount, spend and forecast per budget."""
        labels = ["namespace", "budget", "period"]
        families = {
            "amount": GaugeMetricFamily(
                "costreport_budget_amount", "Budget per period", labels=labels
            ),
            "spent": GaugeMetricFamily(
                "costreport_budget_spent", "Spend of the period so far", labels=labels
            ),
            "forecast": GaugeMetricFamily(
                "costreport_budget_forecast", "Forecast spend by the period's end", labels=labels
            ),
        }
        for row in self.rows:
            key = [str(row.get("namespace") or ""), str(row.get("name")), str(row.get("period"))]
            for field, family in families.items():
                value = row.get(field)
                if value not in (None, ""):
                    family.add_metric(key, float(str(value)))
        yield from families.values()


NODE_LABELS = ["instance", "node", "instance_type", "region", "provider_id", "arch"]


class CostMetrics(Collector):
    """OpenCost's exporter metrics from the latest cluster snapshot (reference §6.1)."""

    def __init__(self) -> None:
        self.snapshot: ClusterData | None = None

    def collect(self) -> Iterator[Metric]:
        """One gauge family per OpenCost cost metric."""
        data = self.snapshot
        families = {
            name: GaugeMetricFamily(name, help_text, labels=NODE_LABELS)
            for name, help_text in (
                ("node_cpu_hourly_cost", "Hourly cost per vCPU on this node"),
                ("node_ram_hourly_cost", "Hourly cost per GiB of memory on this node"),
                ("node_gpu_hourly_cost", "Hourly cost per GPU on this node"),
                ("node_gpu_count", "Number of GPUs on this node"),
                ("node_total_hourly_cost", "Total node cost per hour"),
                ("kubecost_node_is_spot", "Whether the node is spot/preemptible"),
            )
        }
        pv = GaugeMetricFamily(
            "pv_hourly_cost",
            "Cost per GiB-hour of a persistent volume",
            labels=["volumename", "persistentvolume", "provider_id"],
        )
        lb = GaugeMetricFamily(
            "kubecost_load_balancer_cost",
            "Hourly cost of a load balancer",
            labels=["ingress_ip", "namespace", "service_name"],
        )
        mgmt = GaugeMetricFamily(
            "kubecost_cluster_management_cost",
            "Hourly cluster management fee",
            labels=["provisioner_name"],
        )
        if data is not None:
            for n in data.nodes:
                labels = [
                    n.name,
                    n.name,
                    n.instance_type,
                    n.labels.get("topology_kubernetes_io_region", ""),
                    n.provider_id,
                    n.labels.get("kubernetes_io_arch", "amd64"),
                ]
                keep = 1.0 - n.discount
                cpu, ram = n.cpu_price * keep, n.ram_price * keep
                total = cpu * n.cpu_cores + ram * n.ram_bytes / GIB + n.gpu_price * n.gpu_count
                for name, value in (
                    ("node_cpu_hourly_cost", cpu),
                    ("node_ram_hourly_cost", ram),
                    ("node_gpu_hourly_cost", n.gpu_price),
                    ("node_gpu_count", n.gpu_count),
                    ("node_total_hourly_cost", total),
                    ("kubecost_node_is_spot", 1.0 if n.spot else 0.0),
                ):
                    families[name].add_metric(labels, value)
            for v in data.volumes:
                pv.add_metric([v.name, v.name, v.provider_id], v.price_gib_hour)
            for b in data.load_balancers:
                lb.add_metric([b.ip, b.namespace, b.service], b.price_hour)
            for cluster, hourly in sorted(data.cluster_management_hourly.items()):
                mgmt.add_metric([cluster], hourly)
        yield from families.values()
        yield pv
        yield lb
        yield mgmt


class ApiMetrics:
    """Everything `/metrics` exposes, in one registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.latency = Histogram(
            "allocation_query_latency_seconds",
            "Latency of allocation and asset queries",
            ["endpoint"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=self.registry,
        )
        self.rows = Histogram(
            "allocation_rows_returned",
            "Rows returned per allocation query",
            ["endpoint"],
            buckets=(0, 1, 10, 50, 100, 500, 1000, 5000, 10000, 50000),
            registry=self.registry,
        )
        self.stats = QueryStats()
        self.costs = CostMetrics()
        self.ledger = LedgerFigures()
        self.budgets = BudgetFigures()
        self.registry.register(self.stats)
        self.registry.register(self.costs)
        self.registry.register(self.ledger)
        self.registry.register(self.budgets)
