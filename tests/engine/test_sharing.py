"""Shared namespaces (weighted and even, with breakdown) and a fixed monthly shared cost."""

from __future__ import annotations

from tests.engine.helpers import approx, rows, run


def test_shared_namespace_weighted_by_row_cost() -> None:
    data = rows(run(aggregate=("namespace",), share_namespaces=("b",)))
    assert set(data) == {"a", "c", "__unmounted__"}
    # b's 14.55 goes to a (2.40) and c (0.12); __unmounted__ receives nothing.
    assert data["a"]["sharedCost"] == approx(14.55 * 2.40 / 2.52)
    assert data["c"]["sharedCost"] == approx(14.55 * 0.12 / 2.52)
    assert data["__unmounted__"]["sharedCost"] == 0.0
    assert data["a"]["totalCost"] == approx(2.40 + 14.55 * 2.40 / 2.52)


def test_shared_namespace_even_split_with_breakdown() -> None:
    data = rows(
        run(
            aggregate=("namespace",),
            share_namespaces=("b",),
            share_split="even",
            include_shared_cost_breakdown=True,
        )
    )
    assert data["a"]["sharedCost"] == approx(14.55 / 2)
    assert data["c"]["sharedCost"] == approx(14.55 / 2)
    assert data["a"]["sharedCostBreakdown"] == {
        "b": {
            "name": "b",
            "totalCost": approx(7.275),
            "cpuCost": approx(1.65 / 2),
            "gpuCost": approx(6.0),
            "ramCost": approx(0.66 / 2),
            "pvCost": approx(0.12),
        }
    }
    assert "sharedCostBreakdown" not in data["__unmounted__"]


def test_shared_label_and_filtered_rows_keep_their_share() -> None:
    # Share pods labelled app=db; only namespace a is shown: c's share is dropped, not given to a.
    data = rows(
        run(aggregate=("namespace",), share_labels=(("app", "db"),), filter='namespace:"a"')
    )
    # db costs 1.20 + 0.48 + 0.12 (PV) = 1.80. Weights: a 2.40, b without db 12.63 (train;
    # b's unmounted-PVC cost does not weigh), c 0.12, __unmounted__ 0 (unmounted PV cost).
    assert set(data) == {"a"}
    assert data["a"]["sharedCost"] == approx(1.80 * 2.40 / (2.40 + 12.63 + 0.12))


def test_fixed_monthly_cost_is_hourly_over_730() -> None:
    data = rows(run(aggregate=("namespace",), share_cost=730.0))
    # $730/month = $1/h → $24 for the day, weighted a 2.40, b 14.43 (its 0.12 unmounted-PVC
    # cost does not weigh), c 0.12; __unmounted__ receives nothing.
    assert data["a"]["sharedCost"] == approx(24 * 2.40 / 16.95)
    assert data["__unmounted__"]["sharedCost"] == 0.0
    assert sum(r["sharedCost"] for r in data.values()) == approx(24.0)


def test_fixed_cost_is_trimmed_to_now_for_a_set_ending_in_the_future() -> None:
    from costreport.engine.allocation import compute_allocations
    from costreport.model.query import AllocationQuery
    from tests.engine.tiny_cluster import WINDOW, tiny_cluster

    query = AllocationQuery(window=WINDOW, aggregate=("namespace",), share_cost=730.0)
    result = compute_allocations(tiny_cluster(), query, now=WINDOW.start_ts + 6 * 3600)
    assert sum(r["sharedCost"] for r in result.sets[0].to_json().values()) == approx(6.0)
