"""Idle per node, shared weighted, and shared by node (tiny cluster, numbers in its docstring)."""

from __future__ import annotations

import pytest

from tests.engine.helpers import approx, rows, run


def test_idle_is_node_cost_minus_allocated_per_resource() -> None:
    idle = rows(run(aggregate=("node",), include_idle=True))["__idle__"]
    assert idle["cpuCost"] == approx(2.30 + 0.75)
    assert idle["ramCost"] == approx(2.86 + 0.78)
    assert idle["gpuCost"] == approx(12.0)
    assert idle["totalCost"] == approx(18.69)
    assert idle["properties"] == {"cluster": "c1"}
    assert idle["cpuCoreHours"] == 0.0


def test_filtered_idle_follows_the_filtered_node() -> None:
    data = rows(run(aggregate=("node",), include_idle=True, filter='node:"n2"'))
    # n2 alone after the filter: idle scaled by n2's share of allocated cost per resource.
    assert set(data) == {"n2", "__idle__"}
    assert data["__idle__"]["cpuCost"] == approx(3.05 * 0.45 / 2.95)
    assert data["__idle__"]["gpuCost"] == approx(12.0)


def test_share_idle_by_cluster_is_weighted_by_resource_cost() -> None:
    data = rows(run(aggregate=("namespace",), include_idle=True, share_idle=True))
    assert "__idle__" not in data
    # CPU: idle 3.05 over allocated 2.95 (a 1.20, b 1.65, c 0.10) → factor 6.00/2.95.
    assert data["a"]["cpuCost"] == approx(1.20 * 6.00 / 2.95)
    # RAM: idle 3.64 over allocated 1.16 → factor 4.80/1.16.
    assert data["a"]["ramCost"] == approx(0.48 * 4.80 / 1.16)
    # GPU: only train used the GPU, it takes all 24.
    assert data["b"]["gpuCost"] == approx(24.0)
    assert data["a"]["sharedCost"] == 0.0  # idle goes into resource costs, not sharedCost
    total = sum(row["totalCost"] for row in data.values())
    assert total == pytest.approx(36.0, abs=1e-4)


def test_share_idle_by_node_keeps_each_nodes_idle_on_its_own_pods() -> None:
    data = rows(
        run(aggregate=("namespace",), include_idle=True, share_idle=True, idle_by_node=True)
    )
    # n1 CPU idle 2.30 over web 1.20, db 1.20, cron 0.10 (2.50); web's share = 1.20·4.80/2.50.
    assert data["a"]["cpuCost"] == approx(1.20 * 4.80 / 2.50)
    # n2's idle all goes to train (the only pod on n2): CPU 1.20, RAM 0.96, GPU 24.
    b_cpu = 1.20 * 4.80 / 2.50 + 1.20
    assert data["b"]["cpuCost"] == approx(b_cpu)
    assert data["b"]["gpuCost"] == approx(24.0)
    assert sum(r["totalCost"] for r in data.values()) == pytest.approx(36.0, abs=1e-4)


def test_idle_that_has_no_allocation_to_go_to_stays_idle() -> None:
    from costreport.engine.allocation import compute_allocations
    from costreport.model.query import AllocationQuery
    from tests.engine.tiny_cluster import WINDOW, tiny_cluster

    data = tiny_cluster()
    data.usage.gpu_request[2] = 0.0  # nobody requests the GPU any more
    query = AllocationQuery(
        window=WINDOW, aggregate=("namespace",), include_idle=True, share_idle=True
    )
    result = compute_allocations(data, query, now=WINDOW.end_ts).sets[0].to_json()
    assert result["__idle__"]["gpuCost"] == 24.0
    assert result["__idle__"]["cpuCost"] == 0.0
    assert result["__idle__"]["ramCost"] == 0.0
    assert result["b"]["gpuCost"] == 0.0


def test_filtered_idle_is_scaled_to_the_filtered_share_of_cost() -> None:
    data = rows(run(aggregate=("namespace",), include_idle=True, filter='namespace:"a"'))
    assert set(data) == {"a", "__idle__"}
    idle = data["__idle__"]
    assert idle["cpuCost"] == approx(3.05 * 1.20 / 2.95)
    assert idle["ramCost"] == approx(3.64 * 0.48 / 1.16)
    assert idle["gpuCost"] == 0.0


def test_hidden_idle_remainder_drops_what_could_not_be_shared() -> None:
    from costreport.engine.allocation import compute_allocations
    from costreport.model.query import AllocationQuery
    from tests.engine.tiny_cluster import WINDOW, tiny_cluster

    data = tiny_cluster()
    data.usage.gpu_request[2] = 0.0  # the GPU idle has nowhere to go
    query = AllocationQuery(
        window=WINDOW,
        aggregate=("namespace",),
        include_idle=True,
        share_idle=True,
        hide_idle_remainder=True,
    )
    result = compute_allocations(data, query, now=WINDOW.end_ts)
    assert "__idle__" not in result.sets[0].names
    assert result.meta["idle"] == {
        "mode": "shared-weighted",
        "byNode": False,
        "remainder": "hidden",
    }
