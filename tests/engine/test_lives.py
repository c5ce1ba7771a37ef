"""Pods are lives, not names: two lives of one name, and a 30-second pod, costed on paper.

Window 2026-11-01 00:00Z → 06:00Z, cluster `c1`.

Nodes: `od` 2 cores at $0.04/core-h and 8 GiB at $0.005/GiB-h; `spot` 2 cores at $0.01 and
8 GiB at $0.0015; both all 6 h.

Pods
- `b/db-0`, life 1 (uid u1) on `od`, 00:00–02:00, requests 1 core and 2 GiB:
  CPU 1 · 2 · 0.04 = 0.08, RAM 2 · 2 · 0.005 = 0.02 → 0.10.
- `b/db-0`, life 2 (uid u2, the StatefulSet pod restarted on the spot node), 02:05–06:00
  (3 h 55 min = 47/12 h): CPU 1 · 47/12 · 0.01 = 0.0391667, RAM 2 · 47/12 · 0.0015 = 0.01175
  → 0.0509167.
- `b/tick` (a 30 s Job pod) on `od`, 01:00:00–01:00:30, 0.1 core and 0.125 GiB:
  CPU 0.1 · 30/3600 · 0.04 = 3.33333e-5, RAM 0.125 · 30/3600 · 0.005 = 5.20833e-6
  → 3.85417e-5.

Volume `pv-db` 10 GiB at $0.001/GiB-h, claim `b/data-db-0`, mounted by both lives:
life 1 10 · 2 · 0.001 = 0.02, life 2 10 · 47/12 · 0.001 = 0.0391667, and the 5 minutes
between the lives 10 · 1/12 · 0.001 = 0.000833333 go to `b-unmounted-pvcs`.
"""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest

from costreport.engine.allocation import compute_allocations
from costreport.engine.export import allocation_csv
from costreport.model.cluster import (
    GIB,
    ClusterData,
    Container,
    Node,
    PersistentVolume,
    Pod,
    UsageSegments,
    VolumeMount,
)
from costreport.model.query import AllocationQuery
from costreport.model.window import Window

WINDOW = Window(datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 11, 1, 6, tzinfo=UTC))
T0 = WINDOW.start_ts
H = 3600.0


def cluster() -> ClusterData:
    nodes = [
        Node("c1", "od", T0, T0 + 6 * H, 2, 8 * GIB, 0.04, 0.005, provider_id="i-od"),
        Node("c1", "spot", T0, T0 + 6 * H, 2, 8 * GIB, 0.01, 0.0015, spot=True),
    ]
    pods = [
        Pod("c1", "b", "db-0", "od", "statefulset", "db", uid="u1"),
        Pod("c1", "b", "db-0", "spot", "statefulset", "db", uid="u2"),
        Pod("c1", "b", "tick", "od", "job", "tick", uid="u3"),
    ]
    segments = [
        (0, T0, T0 + 2 * H, 1.0, 2 * GIB),
        (1, T0 + 2 * H + 300, T0 + 6 * H, 1.0, 2 * GIB),
        (2, T0 + H, T0 + H + 30, 0.1, 0.125 * GIB),
    ]
    usage = UsageSegments.from_rows(
        [
            {
                "container": c,
                "start": a,
                "end": z,
                "cpu_request": cpu,
                "cpu_usage": cpu,
                "ram_request": ram,
                "ram_usage": ram,
            }
            for c, a, z, cpu, ram in segments
        ]
    )
    volume = PersistentVolume(
        "c1", "pv-db", T0, T0 + 6 * H, 10 * GIB, 0.001, "ssd", "vol-db", "b", "data-db-0", 10 * GIB
    )
    return ClusterData(
        window=WINDOW,
        nodes=nodes,
        pods=pods,
        containers=[Container(0, "db"), Container(1, "db"), Container(2, "job")],
        usage=usage,
        volumes=[volume],
        mounts=[VolumeMount(0, "b", "data-db-0"), VolumeMount(1, "b", "data-db-0")],
    )


def run(**options: object) -> dict[str, dict[str, object]]:
    query = AllocationQuery(window=WINDOW, **options)  # type: ignore[arg-type]
    result = compute_allocations(cluster(), query, now=WINDOW.end_ts + H)
    rows: dict[str, dict[str, object]] = result.sets[0].to_json()
    return rows


def test_both_lives_of_a_name_are_costed_each_on_its_own_node() -> None:
    pods = run(aggregate=("pod",))
    db = pods["db-0"]
    assert db["cpuCost"] == pytest.approx(0.08 + 47 / 12 * 0.01, rel=1e-9)
    assert db["ramCost"] == pytest.approx(0.02 + 2 * 47 / 12 * 0.0015, rel=1e-9)
    assert db["cpuCoreHours"] == pytest.approx(2 + 47 / 12, rel=1e-9)
    assert db["pvCost"] == pytest.approx(0.02 + 47 / 1200, rel=1e-9)
    assert db["totalCost"] == pytest.approx(0.10 + 0.0509166667 + 0.0591666667, rel=1e-9)
    nodes = run(aggregate=("node",))
    assert nodes["od"]["cpuCost"] == pytest.approx(0.08 + 0.1 * 30 / 3600 * 0.04, rel=1e-9)
    assert nodes["spot"]["cpuCost"] == pytest.approx(47 / 12 * 0.01, rel=1e-9)
    unmounted = run(aggregate=("namespace", "pod"))["b/b-unmounted-pvcs"]
    assert unmounted["pvCost"] == pytest.approx(10 / 12 * 0.001, rel=1e-9)


def test_a_30_second_pod_keeps_six_significant_digits() -> None:
    tick = run(aggregate=("pod",))["tick"]
    assert f"{tick['cpuCost']:.6g}" == "3.33333e-05"
    assert f"{tick['ramCost']:.6g}" == "5.20833e-06"
    assert f"{tick['totalCost']:.6g}" == "3.85417e-05"
    body = orjson.dumps(tick).decode()
    assert '"cpuCost":0.0000333333333333' in body and '"totalCost":0.0000385416666667' in body
    result = compute_allocations(
        cluster(), AllocationQuery(window=WINDOW, aggregate=("pod",)), now=WINDOW.end_ts + H
    )
    line = next(x for x in allocation_csv(result).splitlines() if ",tick," in x)
    assert ",3.33333333333e-05," in line and line.endswith(",3.85416666667e-05,1.0,excluded,none")
