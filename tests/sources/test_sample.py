"""The embedded sample cluster: deterministic, complete, and consistent with the engine."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from costreport.engine.allocation import compute_allocations
from costreport.engine.assets import compute_assets
from costreport.model.cluster import ClusterData
from costreport.model.query import AllocationQuery
from costreport.model.window import Window
from costreport.sources.sample import SampleSource, generate_sample_cluster, pod_count, restrict

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
WEEK = Window(datetime(2026, 11, 15, tzinfo=UTC), datetime(2026, 11, 22, tzinfo=UTC))


@pytest.fixture(scope="module")
def data() -> ClusterData:
    return generate_sample_cluster(now=NOW)


def test_same_seed_same_cluster_other_seed_differs(data: ClusterData) -> None:
    again = generate_sample_cluster(now=NOW)
    assert [p.name for p in again.pods] == [p.name for p in data.pods]
    assert np.array_equal(again.usage.cpu_usage, data.usage.cpu_usage)
    other = generate_sample_cluster(now=NOW, seed=7)
    assert [p.name for p in other.pods] != [p.name for p in data.pods]


def test_nodes(data: ClusterData) -> None:
    assert len({n.instance_type for n in data.nodes}) >= 4
    assert sum(n.spot for n in data.nodes) == 1
    assert any(n.gpu_count > 0 for n in data.nodes)
    late = [n for n in data.nodes if n.start > data.window.start_ts]
    assert len(late) == 1 and NOW.timestamp() - late[0].start == 3.5 * 86400
    spot = next(n for n in data.nodes if n.spot)
    # r5.xlarge: $0.009/vCPU-h spot instead of $0.030 on demand.
    assert spot.cpu_price == 0.009  # the r5.xlarge spot price


def test_workload_variety(data: ClusterData) -> None:
    namespaces = {p.namespace for p in data.pods}
    assert {"kube-system", "monitoring", "team-a", "team-b", "data", "batch"} <= namespaces
    kinds = {p.controller_kind for p in data.pods}
    assert {"deployment", "statefulset", "daemonset", "job", ""} <= kinds
    assert any(p.controller_kind == "" and p.name == "debug-shell" for p in data.pods)
    assert any("team" not in p.labels for p in data.pods if p.namespace.startswith("team"))
    u = data.usage
    assert (u.cpu_request == 0).any() and (u.ram_request == 0).any()
    lengths = set(np.round(u.end - u.start).astype(int).tolist())
    assert {30, 300, 3600} <= lengths
    assert (u.network_transfer_rate > 0).any() and (u.egress_internet_rate > 0).any()
    assert (u.gpu_request > 0).any()


def test_volumes_and_load_balancer(data: ClusterData) -> None:
    assert any(not v.claim_name for v in data.volumes)  # unbound
    mounted = {(m.claim_namespace, m.claim_name) for m in data.mounts}
    claims = {(v.claim_namespace, v.claim_name) for v in data.volumes if v.claim_name}
    assert claims - mounted == {("team-a", "uploads")}  # bound, never mounted
    [lb] = data.load_balancers
    assert lb.pods and all(data.pods[p].namespace == "team-a" for p in lb.pods)


def test_invariants_of_segments(data: ClusterData) -> None:
    u = data.usage
    assert (u.start < u.end).all()
    assert u.start.min() >= data.window.start_ts and u.end.max() <= data.window.end_ts
    assert u.container.max() < len(data.containers)
    assert all(0 <= c.pod < len(data.pods) for c in data.containers)


def test_scale_multiplies_pods() -> None:
    small = pod_count(generate_sample_cluster(now=NOW), WEEK)
    large = pod_count(generate_sample_cluster(now=NOW, scale=10), WEEK)
    assert 8.5 * small <= large <= 11.5 * small


async def test_source_returns_only_overlapping_segments() -> None:
    source = SampleSource(now=NOW)
    day = Window(datetime(2026, 11, 20, tzinfo=UTC), datetime(2026, 11, 21, tzinfo=UTC))
    sliced = await source.cluster_data(day, resolution_seconds=300)
    whole = source.data()
    assert len(sliced.usage) < len(whole.usage)
    assert ((sliced.usage.start < day.end_ts) & (sliced.usage.end > day.start_ts)).all()
    # Compacted to the pods running that day, indices renumbered consistently.
    assert len(sliced.pods) == pod_count(whole, day) < len(whole.pods)
    assert sliced.usage.container.max() == len(sliced.containers) - 1
    assert {sliced.pods[c.pod].name for c in sliced.containers} == {p.name for p in sliced.pods}
    assert all(sliced.pods[m.pod].namespace == m.claim_namespace for m in sliced.mounts)
    assert all(
        sliced.pods[p].name.startswith("frontend") for lb in sliced.load_balancers for p in lb.pods
    )
    assert restrict(whole, day).nodes == sliced.nodes


# -- invariants the issue asks for, on the sample cluster -------------------------------
def _query(**options: object) -> AllocationQuery:
    return AllocationQuery(window=WEEK, step=timedelta(days=1), **options)  # type: ignore[arg-type]


def test_rows_plus_idle_equal_node_costs_per_set(data: ClusterData) -> None:
    result = compute_allocations(
        data, _query(aggregate=("namespace",), include_idle=True), now=NOW.timestamp()
    )
    assets = compute_assets(
        data, WEEK, step=timedelta(days=1), accumulate="none", filter_text='assetType:"node"'
    )
    assert len(result.sets) == len(assets) == 7
    for allocations, nodes in zip(result.sets, assets, strict=True):
        allocated = sum(allocations.total(f) for f in ("cpuCost", "ramCost", "gpuCost"))
        node_cost = nodes.total_cost("Node")
        assert allocated == pytest.approx(node_cost, rel=1e-9)
        assert "__idle__" in allocations.names


def test_share_idle_keeps_the_total_and_removes_idle(data: ClusterData) -> None:
    separate = compute_allocations(
        data, _query(aggregate=("namespace",), include_idle=True), now=NOW.timestamp()
    )
    shared = compute_allocations(
        data,
        _query(aggregate=("namespace",), include_idle=True, share_idle=True),
        now=NOW.timestamp(),
    )
    for a, b in zip(separate.sets, shared.sets, strict=True):
        assert b.total("totalCost") == pytest.approx(a.total("totalCost"), rel=1e-9)
        # GPU idle on the days without a training job has nobody to go to and stays.
        if "__idle__" in b.names:
            idle = b.to_json()["__idle__"]
            assert idle["cpuCost"] == 0.0 and idle["ramCost"] == 0.0


def test_daily_sets_add_up_to_the_accumulated_set(data: ClusterData) -> None:
    daily = compute_allocations(
        data, _query(aggregate=("namespace",), include_idle=True), now=NOW.timestamp()
    )
    week = compute_allocations(
        data,
        _query(aggregate=("namespace",), include_idle=True, accumulate="all"),
        now=NOW.timestamp(),
    )
    [total] = week.sets
    for name in total.names:
        i = total.index_of(name)
        per_day = sum(
            s.columns["totalCost"][s.index_of(name)] for s in daily.sets if name in s.names
        )
        assert total.columns["totalCost"][i] == pytest.approx(per_day, rel=1e-9)


async def test_a_window_longer_than_the_history_declares_what_it_covers() -> None:
    from costreport.sources.service import query_allocations

    source = SampleSource(now=NOW)
    sixty = Window(NOW - timedelta(days=60), NOW)
    result = await query_allocations(
        source, AllocationQuery(window=sixty, aggregate=("namespace",)), now=NOW.timestamp()
    )
    assert result.meta["coverage"] == {
        "start": "2026-10-23T12:00:00Z",  # 30 days of history before NOW
        "end": "2026-11-22T12:00:00Z",
        "complete": False,
    }
    assert result.meta["warnings"] == [
        "the source's data starts at 2026-10-23T12:00:00Z, after the window's start "
        "2026-09-23T12:00:00Z: costs before it are not included"
    ]
    week = await query_allocations(
        source, AllocationQuery(window=WEEK, aggregate=("namespace",)), now=NOW.timestamp()
    )
    assert week.meta["coverage"]["complete"] is True and week.meta["warnings"] == []
