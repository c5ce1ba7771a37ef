"""Per-container costs, volumes and load balancers on the tiny cluster (see its docstring)."""

from __future__ import annotations

from datetime import timedelta

from costreport.engine.allocation import compute_allocations
from costreport.model.cluster import GIB, LoadBalancer
from costreport.model.query import AllocationQuery
from tests.engine.helpers import approx, rows, run
from tests.engine.tiny_cluster import T0, WINDOW, H, tiny_cluster


def test_container_costs_on_their_node_prices() -> None:
    data = rows(run())
    web = data["c1/n1/a/web-1/app"]
    assert web["cpuCoreHours"] == 24.0
    assert web["cpuCost"] == approx(1.20)
    assert web["ramByteHours"] == 48 * GIB
    assert web["ramCost"] == approx(0.48)
    assert web["minutes"] == 1440.0
    assert web["cpuCoreRequestAverage"] == 1.0
    assert web["cpuCoreUsageAverage"] == 0.5
    assert web["cpuEfficiency"] == 0.5
    assert web["ramEfficiency"] == 0.5
    # totalEfficiency = (0.5·1.20 + 0.5·0.48) / 1.68
    assert web["totalEfficiency"] == 0.5
    assert web["start"] == "2026-11-01T00:00:00Z"
    assert web["end"] == "2026-11-02T00:00:00Z"


def test_usage_above_request_is_billed_and_gpu_is_not_discounted() -> None:
    train = rows(run())["c1/n2/b/train/trainer"]
    assert train["cpuCoreHours"] == 9.0  # 1.5 cores used for 6 h, above the 1-core request
    assert train["cpuCost"] == approx(0.45)  # $0.10 less the 50 % discount
    assert train["ramCost"] == approx(0.18)  # 3 GiB · 6 h · $0.01
    assert train["gpuHours"] == 6.0
    assert train["gpuCost"] == 12.0
    assert train["gpuEfficiency"] == 0.5
    assert train["cpuEfficiency"] == 1.5
    assert train["minutes"] == 360.0


def test_mounted_pvc_bills_the_pod_for_its_time_and_the_rest_is_unmounted() -> None:
    data = rows(run())
    db = data["c1/n1/b/db-0/db"]
    assert db["pvCost"] == approx(0.12)
    assert db["pvByteHours"] == approx(10 * GIB * 12)
    assert db["pvs"] == {
        "cluster=c1:name=pv1": {
            "byteHours": approx(10 * GIB * 12),
            "cost": approx(0.12),
            "providerID": "vol-1",
            "adjustment": 0.0,
        }
    }
    assert data["c1//b/b-unmounted-pvcs/__unmounted__"]["pvCost"] == approx(0.12)
    unbound = data["c1//__unmounted__/__unmounted__/__unmounted__"]
    assert unbound["pvCost"] == approx(0.24)
    assert unbound["properties"] == {
        "cluster": "c1",
        "container": "__unmounted__",
        "namespace": "__unmounted__",
        "pod": "__unmounted__",
    }


def test_load_balancer_cost_goes_to_the_selected_pod() -> None:
    web = rows(run())["c1/n1/a/web-1/app"]
    assert web["loadBalancerCost"] == approx(0.72)
    assert web["lbAllocations"] == {
        "c1/a/web": {
            "service": "a/web",
            "cost": approx(0.72),
            "private": False,
            "ip": "34.1.2.3",
            "hours": 24.0,
            "adjustment": 0.0,
        }
    }
    assert web["totalCost"] == approx(2.40)


def test_load_balancer_splits_by_time_behind_it_per_set_and_idles_unmounted() -> None:
    # b/db runs 6–18 h, c/cron-1 0–2 h; $0.03/h, so $0.18 per 6-hour set: [0, 6) only cron
    # is behind it, [6, 12) and [12, 18) only db, [18, 24) nobody (the unmounted bucket). With
    # 12-hour sets, [0, 12) splits $0.36 by time: db 6 h → $0.27, cron 2 h → $0.09.
    data = tiny_cluster()
    data.load_balancers = [LoadBalancer("c1", "b", "db", T0, T0 + 24 * H, 0.03, pods=(1, 3, 1))]
    costs = {}
    for step in (6, 12):
        query = AllocationQuery(window=WINDOW, aggregate=("pod",), step=timedelta(hours=step))
        result = compute_allocations(data, query, now=WINDOW.end_ts + 3600)
        costs[step] = [
            {
                name: row["loadBalancerCost"]
                for name, row in s.to_json().items()
                if row["loadBalancerCost"]
            }
            for s in result.sets
        ]
    assert costs[6] == [
        {"cron-1": approx(0.18)},
        {"db-0": approx(0.18)},
        {"db-0": approx(0.18)},
        {"__unmounted__": approx(0.18)},
    ]
    assert costs[12] == [{"db-0": approx(0.27), "cron-1": approx(0.09)}, {"db-0": approx(0.36)}]


def test_raw_rows_keep_labels_services_and_raw_usage_maxima() -> None:
    web = rows(run())["c1/n1/a/web-1/app"]
    assert web["properties"] == {
        "cluster": "c1",
        "node": "n1",
        "container": "app",
        "controller": "web",
        "controllerKind": "deployment",
        "namespace": "a",
        "pod": "web-1",
        "services": ["web"],
        "providerID": "i-n1",
        "labels": {"app": "web", "team": "x"},
        "namespaceLabels": {"owner": "team-a"},
    }
    assert web["rawAllocationOnly"] == {"cpuCoreUsageMax": 0.5, "ramByteUsageMax": GIB}


def test_namespace_rows_reconcile_with_hand_totals() -> None:
    data = rows(run(aggregate=("namespace",)))
    totals = {name: row["totalCost"] for name, row in data.items()}
    assert totals == {
        "a": approx(2.40),
        "b": approx(14.55),
        "c": approx(0.12),
        "__unmounted__": approx(0.24),
    }
    b = data["b"]
    # Merged rows keep only the properties every member agrees on.
    assert b["properties"] == {"cluster": "c1", "namespace": "b"}
    assert "rawAllocationOnly" not in b
    # Request averages of merged rows add concurrent requests over the row's span, which the
    # unmounted-PVC bucket stretches to the whole day: (2 cores · 720 min + 1 · 360 min) / 1440.
    assert b["minutes"] == 1440.0
    assert b["cpuCoreRequestAverage"] == approx(1.25)


def test_a_window_with_no_pods_gives_one_empty_set() -> None:
    from datetime import UTC, datetime

    from costreport.model.window import Window

    empty = Window(datetime(2025, 1, 1, tzinfo=UTC), datetime(2025, 1, 2, tzinfo=UTC))
    result = run(window=empty, aggregate=("namespace",))
    assert result.to_json() == [{}]
