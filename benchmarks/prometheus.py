# ruff: noqa: E501  (PromQL query literals are kept whole so they can be read as queries)
"""costreport against OpenCost's own query set, on the same real Prometheus.

For a simulated cluster (kube-state-metrics, cAdvisor and OpenCost's exporter series, scraped
every 60 s) the script prints:
(a) the time the Prometheus needs to answer OpenCost's allocation query set (reference §3.2,
    every query fired concurrently per ≤1-day chunk, as OpenCost does) — the anchor;
(b) costreport's end-to-end time for aggregate=namespace&step=1d&includeIdle=true over the
    whole data window (Prometheus source + engine + JSON);
(c) their ratio (target ≤ 0.5); (d) costreport's PromQL query count (target ≤ 20);
(e) costreport's peak RSS (target ≤ 1 GiB at 10k pods), measured in its own process.

    .venv/bin/python benchmarks/prometheus.py [--sizes small,large]

Sizes: small = 50 nodes / 1,000 pods / 2 days; large = 200 nodes / 10,000 pods / 6 hours;
large-day = the same over 24 hours; large-month = the same over 30 days, scraped every 600 s
(a tenth of the samples a 60 s scrape would make: generating and backfilling those would take
hours here; fewer samples only make the live path cheaper, so the live-vs-ledger ratio it
prints is a bound on the 60 s one). Before anything is measured, Prometheus is left to compact
the backfilled 2-hour blocks, as a real one has long since done.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import resource
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aiohttp
from tests.sources.prom_harness import (
    SimCluster,
    SimContainer,
    SimNode,
    SimPod,
)
from tests.sources.prom_server import running_prometheus, tools_available

SIZES = {  # nodes, pods, seconds, scrape interval
    "small": (50, 1_000, 2 * 86400, 60.0),
    "large": (200, 10_000, 6 * 3600, 60.0),
    "large-day": (200, 10_000, 86400, 60.0),  # the live vs ledger ratio over a longer window
    "large-month": (200, 10_000, 30 * 86400, 600.0),  # ... and over the 30 days
}
START = datetime(2026, 9, 1, tzinfo=UTC).timestamp()
C = "cluster_id"


def simulation(
    nodes: int, pods: int, seconds: float, scrape: float = 60.0, seed: int = 3
) -> SimCluster:
    """Long-running pods spread over the nodes, a tenth of them replaced once mid-window."""
    rng = random.Random(seed)
    sim = SimCluster(start=START, end=START + seconds, scrape=scrape, export_allocation=True)
    sim.nodes = [
        SimNode("c1", f"node-{i}", START, START + seconds, 16, 64, "m5.4xlarge", 0.04, 0.005)
        for i in range(nodes)
    ]
    for i in range(pods):
        node = f"node-{i % nodes}"
        namespace = f"ns-{i % 40}"
        cpu, ram = rng.choice([(0.1, 0.25), (0.5, 1.0), (1.0, 2.0)])
        container = [SimContainer("app", cpu, cpu * 0.5, ram, ram * 0.6)]
        owner = ("ReplicaSet", f"app-{i % 300}-rs", ("Deployment", f"app-{i % 300}"))
        if i % 10 == 0:
            cut = START + rng.uniform(0.2, 0.8) * seconds
            sim.pods.append(
                SimPod(
                    "c1", namespace, f"pod-{i}-a", node, START, cut, container, *owner, deleted=True
                )
            )
            sim.pods.append(
                SimPod(
                    "c1", namespace, f"pod-{i}-b", node, cut + 5, START + seconds, container, *owner
                )
            )
        else:
            sim.pods.append(
                SimPod("c1", namespace, f"pod-{i}", node, START, START + seconds, container, *owner)
            )
    return sim


def opencost_queries(w: str, r: str) -> list[str]:
    """OpenCost's allocation queries (reference §3.2), with window `w` and resolution `r`."""
    cont = 'container!="",container!="POD",node!=""'
    usage_by = f"container_name,container,pod_name,pod,namespace,instance,{C}"
    pvc_by = f"persistentvolumeclaim,storageclass,volumename,namespace,{C}"
    queries = [
        f"avg(kube_pod_container_status_running{{}} != 0) by (pod, namespace, {C})[{w}:{r}]",
        f"avg(avg_over_time(container_memory_allocation_bytes{{{cont}}}[{w}])) "
        f"by (container,pod,namespace,node,{C},provider_id)",
        f'avg(avg_over_time(kube_pod_container_resource_requests{{resource="memory",unit="byte",{cont}}}[{w}])) '
        f"by (container,pod,namespace,node,{C})",
        f'avg(avg_over_time(container_memory_working_set_bytes{{container!="",container_name!="POD",container!="POD"}}[{w}])) by ({usage_by})',
        f'max(max_over_time(container_memory_working_set_bytes{{container!="",container_name!="POD",container!="POD"}}[{w}])) by ({usage_by})',
        f"avg(avg_over_time(container_cpu_allocation{{{cont}}}[{w}])) by (container,pod,namespace,node,{C})",
        f'avg(avg_over_time(kube_pod_container_resource_requests{{resource="cpu",unit="core",{cont}}}[{w}])) '
        f"by (container,pod,namespace,node,{C})",
        f'avg(rate(container_cpu_usage_seconds_total{{container!="",container_name!="POD",container!="POD"}}[{w}])) by ({usage_by})',
        f"max(max_over_time(kubecost_container_cpu_usage_irate{{}}[{w}])) by ({usage_by})",
        f'max(max_over_time(irate(container_cpu_usage_seconds_total{{container!="POD",container!=""}}[2{r}])[{w}:{r}])) '
        f"by (container,pod_name,pod,namespace,instance,{C})",
        f'avg(avg_over_time(kube_pod_container_resource_requests{{resource="nvidia_com_gpu",{cont}}}[{w}])) '
        f"by (container,pod,namespace,node,{C})",
        f'avg(avg_over_time(DCGM_FI_PROF_GR_ENGINE_ACTIVE{{container!=""}}[{w}])) by (container,pod,namespace,{C})',
        f"avg(avg_over_time(container_gpu_allocation{{{cont}}}[{w}])) by (container,pod,namespace,node,{C})",
    ]
    for kind in ("cpu", "ram", "gpu"):
        queries.append(
            f"avg(avg_over_time(node_{kind}_hourly_cost{{}}[{w}])) by (node,{C},instance_type,provider_id)"
        )
    queries += [
        f"avg_over_time(kubecost_node_is_spot{{}}[{w}])",
        f'avg(kube_persistentvolumeclaim_info{{volumename != ""}}) by ({pvc_by})[{w}:{r}]',
        f"avg(avg_over_time(pod_pvc_allocation{{}}[{w}])) by (persistentvolume,persistentvolumeclaim,pod,namespace,{C})",
        f"avg(avg_over_time(kube_persistentvolumeclaim_resource_requests_storage_bytes{{}}[{w}])) by (persistentvolumeclaim,namespace,{C})",
        f"count(kube_persistentvolume_capacity_bytes{{}}) by (persistentvolume,{C})[{w}:{r}]",
        f"avg(avg_over_time(kube_persistentvolume_capacity_bytes{{}}[{w}])) by (persistentvolume,{C})",
        f"avg(avg_over_time(pv_hourly_cost{{}}[{w}])) by (volumename,{C})",
        f"avg(avg_over_time(kubecost_pv_info{{}}[{w}])) by ({C},persistentvolume,provider_id)",
    ]
    for selector in (
        'internet="false",same_zone="false",same_region="true"',
        'internet="false",same_zone="false",same_region="false"',
        'internet="true"',
    ):
        queries.append(
            f"sum(increase(kubecost_pod_network_egress_bytes_total{{{selector}}}[{w}])) "
            f"by (pod_name,namespace,{C}) / 1024 / 1024 / 1024"
        )
    for kind in ("zone", "region", "internet"):
        queries.append(f"avg(avg_over_time(kubecost_network_{kind}_egress_cost{{}}[{w}])) by ({C})")
    for direction in ("receive", "transmit"):
        queries.append(
            f'sum(increase(container_network_{direction}_bytes_total{{pod!=""}}[{w}])) '
            f"by (pod_name,pod,namespace,{C})"
        )
    for metric in (
        "kube_node_labels",
        "kube_namespace_labels",
        "kube_namespace_annotations",
        "kube_pod_labels",
        "kube_pod_annotations",
        "service_selector_labels",
        "deployment_match_labels",
        "statefulSet_match_labels",
    ):
        queries.append(f"avg_over_time({metric}{{}}[{w}])")
    for kind in ("DaemonSet", "Job", "ReplicaSet"):
        queries.append(
            f'sum(avg_over_time(kube_pod_owner{{owner_kind="{kind}"}}[{w}])) by (pod,owner_name,namespace,{C})'
        )
    queries += [
        f'avg(avg_over_time(kube_replicaset_owner{{owner_kind="<none>",owner_name="<none>"}}[{w}])) by (replicaset,namespace,{C})',
        f'avg(avg_over_time(kube_replicaset_owner{{owner_kind="Rollout"}}[{w}])) by (replicaset,namespace,owner_kind,owner_name,{C})',
        f"avg(avg_over_time(kubecost_load_balancer_cost{{}}[{w}])) by (namespace,service_name,ingress_ip,{C})",
        f"count(kubecost_load_balancer_cost{{}}) by (namespace,service_name,{C})[{w}:{r}]",
    ]
    return queries


async def opencost_anchor(url: str, sim: SimCluster) -> tuple[float, int]:
    """Fire OpenCost's query set per ≤1-day chunk, all concurrently within a chunk."""
    chunks = []
    t = sim.start
    while t < sim.end:
        end = min(t + 86400, sim.end)
        chunks.append((end, int(end - t)))
        t = end
    total = 0
    started = time.perf_counter()
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=1800)) as session:

        async def one(expr: str, at: float) -> None:
            async with session.post(
                url + "/api/v1/query", data={"query": expr, "time": str(at)}
            ) as r:
                body = await r.read()
                assert r.status == 200, body[:300]

        for end, seconds in chunks:
            w = f"{seconds // 3600}h" if seconds % 86400 else f"{seconds // 86400}d"
            queries = opencost_queries(w, "1m")
            total += len(queries)
            await asyncio.gather(*(one(q, end) for q in queries))
    return time.perf_counter() - started, total


def settle(url: str, quiet_seconds: float = 120.0, limit: float = 3600.0) -> int:
    """Wait until Prometheus has compacted the backfilled blocks; returns the blocks loaded."""
    deadline = time.monotonic() + limit
    last, since = -1, time.monotonic()
    while time.monotonic() < deadline:
        with urllib.request.urlopen(url + "/metrics", timeout=30) as response:
            text = response.read().decode()
        blocks = next(
            int(float(line.split()[1]))
            for line in text.splitlines()
            if line.startswith("prometheus_tsdb_blocks_loaded ")
        )
        if blocks != last:
            last, since = blocks, time.monotonic()
        elif time.monotonic() - since >= quiet_seconds:
            return blocks
        time.sleep(5)
    return last


def costreport_child(url: str, start: float, end: float, scrape: float) -> None:
    """Run costreport's query in this (fresh) process and print its figures as JSON."""
    from costreport.engine.params import parse_allocation_query
    from costreport.model.pricing import InstancePrice, PricingConfig
    from costreport.sources.prometheus import PrometheusConfig, PrometheusSource
    from costreport.sources.service import query_allocations

    window = f"{datetime.fromtimestamp(start, tz=UTC):%Y-%m-%dT%H:%M:%SZ},{datetime.fromtimestamp(end, tz=UTC):%Y-%m-%dT%H:%M:%SZ}"
    params = {"window": window, "aggregate": "namespace", "step": "1d", "includeIdle": "true"}
    query = parse_allocation_query(params, now=datetime.now(tz=UTC))
    pricing = PricingConfig(instanceTypes={"m5.4xlarge": InstancePrice(cpu=0.04, ram=0.005)})
    source = PrometheusSource(
        PrometheusConfig(url, scrape_interval_seconds=scrape, timeout_seconds=1800), pricing
    )

    async def run() -> tuple[float, int, int]:
        import orjson

        t0 = time.perf_counter()
        result = await query_allocations(source, query, now=end)
        orjson.dumps(result.to_json())
        elapsed = time.perf_counter() - t0
        await source.close()
        return elapsed, int(result.meta["queries"]), sum(len(s) for s in result.sets)

    elapsed, queries, rows = asyncio.run(run())
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    async def ledger() -> tuple[float, float, float]:
        """Close the window's hours from Prometheus into a ledger, then answer from it."""
        import tempfile

        from costreport.sources.ledger import LedgerSource, LedgerStore, close_hours
        from costreport.sources.ledger.compact import housekeep

        store = LedgerStore(tempfile.mkdtemp(prefix="prom-ledger-"))
        report = await close_hours(source, store, start, end)
        await source.close()
        t0 = time.perf_counter()
        await query_allocations(LedgerSource(store), query, now=end)
        raw = time.perf_counter() - t0
        housekeep(store, end, hourly_days=14)  # what the operator does to hours past 14 days
        t0 = time.perf_counter()
        await query_allocations(LedgerSource(store), query, now=end)
        return raw, time.perf_counter() - t0, report.hours_per_second

    ledger_seconds, kept_seconds, hours_per_second = asyncio.run(ledger())
    print(
        json.dumps(
            {
                "seconds": elapsed,
                "queries": queries,
                "rows": rows,
                "rss_mib": rss,
                "ledger_seconds": ledger_seconds,
                "housekept_seconds": kept_seconds,
                "ingest_hours_per_second": hours_per_second,
            }
        )
    )


def main() -> None:
    """Print the figures for each size."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="small,large")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        costreport_child(args.child[0], *(float(a) for a in args.child[1:]))
        return
    if reason := tools_available():
        sys.exit(reason)
    for size in args.sizes.split(","):
        nodes, pods, seconds, scrape = SIZES[size]
        sim = simulation(nodes, pods, seconds, scrape)
        t0 = time.perf_counter()
        for server in running_prometheus(sim, workers=2, group=12):
            prepared = time.perf_counter() - t0
            blocks = settle(server.url)
            settled = time.perf_counter() - t0 - prepared
            anchor, anchor_queries = asyncio.run(opencost_anchor(server.url, sim))
            child = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--child",
                    server.url,
                    *map(str, (sim.start, sim.end, scrape)),
                ],
                capture_output=True,
                text=True,
            )
            if child.returncode != 0:
                sys.exit(f"costreport's run failed:\n{child.stderr[-3000:]}")
            out = child.stdout
            ours = json.loads(out)
        ratio = ours["seconds"] / anchor
        print(
            f"{size}: {nodes} nodes, {pods} pods, {seconds / 3600:g} h at {scrape:g} s scrape "
            f"(generated and backfilled in {prepared:.0f} s, compacted into {blocks} blocks "
            f"in {settled:.0f} s more)"
        )
        print(f"  (a) OpenCost's query set: {anchor:.2f} s for {anchor_queries} queries")
        print(f"  (b) costreport end to end: {ours['seconds']:.2f} s, {ours['rows']} rows")
        print(f"  (c) ratio {ratio:.2f} {'PASS' if ratio <= 0.5 else 'MISS'} (target ≤ 0.5)")
        print(
            f"  (d) PromQL queries {ours['queries']} {'PASS' if ours['queries'] <= 20 else 'MISS'} (target ≤ 20)"
        )
        print(
            f"  (e) peak RSS {ours['rss_mib']:.0f} MiB {'PASS' if ours['rss_mib'] <= 1024 else 'MISS'} (target ≤ 1024)"
        )
        print(
            f"  (f) the same query from a ledger closed from this Prometheus: "
            f"{ours['ledger_seconds']:.2f} s ({ours['ledger_seconds'] / ours['seconds']:.3f}× live); "
            f"closing hours from Prometheus: {ours['ingest_hours_per_second']:.2f} hours/s"
        )
        print(
            f"  (g) the same after housekeeping (days past 14 merged and bundled into months): "
            f"{ours['housekept_seconds']:.2f} s ({ours['housekept_seconds'] / ours['seconds']:.3f}× live)"
        )


if __name__ == "__main__":
    main()
