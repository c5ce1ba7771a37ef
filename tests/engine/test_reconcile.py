"""Costs reconciled to the bill, on the tiny cluster, by hand.

Bills: n1 (`i-n1`) a daily line of 6.048 = 0.7 × its list 8.64; n2 (as an EC2 ARN) a daily
line of 13.08 = 0.5 × its list 26.16, though it lived only 12:00–24:00 (the line is spread
over the hours it lived); the LoadBalancer a/web (tagged `kubernetes.io/service-name`) 0.36
= 0.5 × 0.72; no line for the volumes. Expected, per namespace (list costs from the tiny
cluster's docstring, × the factor of the node or balancer they ran on):

- a: (1.20 + 0.48) × 0.7 + 0.72 × 0.5 = 1.536;  b: 1.68 × 0.7 + 12.63 × 0.5 + 0.24 = 7.731
- c: 0.12 × 0.7 = 0.084;  __unmounted__: 0.24;  idle: 5.16 × 0.7 + 13.53 × 0.5 = 10.377
- total 19.968 = the matched bill 19.488 + the unmatched volumes' list 0.48.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import numpy as np
import pytest

from costreport.engine.allocation import compute_allocations
from costreport.engine.reconcile import resource_key, service_key
from costreport.model.cluster import ResourceBill
from costreport.model.query import AllocationQuery
from tests.engine.tiny_cluster import T0, WINDOW, tiny_cluster

H = 3600.0


def bill(cost: float, start: float = T0, end: float = T0 + 24 * H) -> ResourceBill:
    one = np.array([cost])
    return ResourceBill(np.array([start]), np.array([end]), one, one, one)


def billed_cluster():  # type: ignore[no-untyped-def]
    return replace(
        tiny_cluster(),
        bills={
            resource_key("i-n1"): bill(6.048),
            resource_key("arn:aws:ec2:us-east-1:111:instance/i-n2"): bill(13.08),
            service_key("a", "web"): bill(0.36),
        },
    )


Rows = dict[str, dict[str, float]]


def totals(basis: str = "auto", **options: object) -> tuple[Rows, dict[str, object]]:
    query = AllocationQuery(window=WINDOW, include_idle=True, cost_basis=basis, **options)  # type: ignore[arg-type]
    result = compute_allocations(billed_cluster(), query, now=WINDOW.end_ts + H)
    s = result.sets[0]
    fields = (
        "totalCost",
        "cpuCost",
        "cpuCostAdjustment",
        "ramCostAdjustment",
        "gpuCostAdjustment",
        "loadBalancerCostAdjustment",
        "pvCostAdjustment",
    )
    return {
        n: {f: float(s.columns[f][i]) for f in fields} for i, n in enumerate(s.names)
    }, result.meta


def test_resource_keys_meet_across_providers() -> None:
    assert (
        resource_key("aws:///us-east-1a/i-0abc")
        == resource_key("arn:aws:ec2:us-east-1:1:instance/i-0abc")
        == "i-0abc"
    )
    assert resource_key("gce://proj/us-central1-a/gke-pool-1") == resource_key(
        "//compute.googleapis.com/projects/proj/zones/us-central1-a/instances/gke-pool-1"
    )
    vmss = (
        "/subscriptions/s/resourceGroups/mc_rg/providers/Microsoft.Compute/"
        "virtualMachineScaleSets/aks-pool-1-vmss"
    )
    assert resource_key("azure://" + vmss + "/virtualMachines/3") == resource_key(vmss.upper())
    assert resource_key("") == ""


def test_allocations_plus_idle_sum_to_the_bill() -> None:
    rows, meta = totals(aggregate=("namespace",))
    expected = {"a": 1.536, "b": 7.731, "c": 0.084, "__unmounted__": 0.24, "__idle__": 10.377}
    assert {n: r["totalCost"] for n, r in rows.items()} == pytest.approx(expected, abs=1e-9)
    assert sum(r["totalCost"] for r in rows.values()) == pytest.approx(19.968, abs=1e-9)
    # List prices stay in OpenCost's cost fields; the difference is in the adjustments.
    assert rows["a"]["cpuCost"] == pytest.approx(1.20)
    assert rows["a"]["cpuCostAdjustment"] == pytest.approx(-0.36)
    assert rows["a"]["ramCostAdjustment"] == pytest.approx(-0.144)
    assert rows["a"]["loadBalancerCostAdjustment"] == pytest.approx(-0.36)
    assert rows["b"]["gpuCostAdjustment"] == pytest.approx(-6.0)  # 12.00 GPU at half
    assert rows["b"]["pvCostAdjustment"] == 0.0  # no bill line for the volume
    assert meta["costBasis"] == {
        "basis": "reconciled",
        "nodeCostMatched": 1.0,
        "unmatched": ["volume pv1", "volume pv2"],
    }
    assert "volume pv1 has no bill line in the window: its list price is kept" in meta["warnings"]


def test_a_line_is_spread_over_the_hours_its_resource_lived_in_each_set() -> None:
    """n2 joined at 12:00: its whole daily line (13.08) bills the second half; n1's and the
    balancer's lines split evenly. Second half: n1 3.024 + n2 13.08 + LB 0.18 + the volumes'
    list 0.24 = 16.524; first half: 3.024 + 0.18 + 0.24 = 3.444."""
    query = AllocationQuery(
        window=WINDOW, include_idle=True, aggregate=("node",), step=timedelta(hours=12)
    )
    result = compute_allocations(billed_cluster(), query, now=WINDOW.end_ts + H)
    first, second = (
        {n: float(s.columns["totalCost"][i]) for i, n in enumerate(s.names)} for s in result.sets
    )
    assert "n2" not in first
    assert second["n2"] == pytest.approx(12.63 * 0.5, abs=1e-9)
    assert sum(first.values()) == pytest.approx(3.444, abs=1e-9)
    assert sum(second.values()) == pytest.approx(16.524, abs=1e-9)


def test_list_basis_and_no_bill() -> None:
    rows, meta = totals("list", aggregate=("namespace",))
    assert rows["a"]["totalCost"] == pytest.approx(2.40) and rows["a"]["cpuCostAdjustment"] == 0.0
    assert meta["costBasis"] == {"basis": "list"}
    query = AllocationQuery(window=WINDOW, cost_basis="reconciled")
    plain = compute_allocations(tiny_cluster(), query, now=WINDOW.end_ts + H)
    assert plain.meta["costBasis"] == {"basis": "list"}
    assert (
        "costBasis=reconciled: no bill covers this window; list prices are shown"
        in plain.meta["warnings"]
    )


def test_an_unmatched_node_keeps_its_list_price_and_is_named() -> None:
    data = replace(billed_cluster(), bills={resource_key("i-n1"): bill(6.048)})
    query = AllocationQuery(window=WINDOW, include_idle=True, aggregate=("node",))
    result = compute_allocations(data, query, now=WINDOW.end_ts + H)
    assert result.meta["costBasis"]["nodeCostMatched"] == pytest.approx(8.64 / (8.64 + 26.16))
    assert "node n2 (i-n2)" in result.meta["costBasis"]["unmatched"]


def test_hours_the_bill_does_not_cover_yet_keep_their_list_price() -> None:
    """n1's bill covers only 00:00–12:00 (2.16 = 0.5 × its 4.32 list for those hours): the
    later hours stay at list, so n1's day factor is (2.16 + 4.32) / 8.64 = 0.75, not 0.25.
    a: 1.68 × 0.75 + 0.36 = 1.62; b: 1.68 × 0.75 + 12.63 × 0.5 + 0.24 = 7.815; c: 0.09;
    idle: 5.16 × 0.75 + 13.53 × 0.5 = 10.635; total 20.4 = bills 15.6 + n1's uncovered 4.32
    + the volumes' 0.48. With 12-hour sets, a's web-1 is 0.84 × 0.5 + 0.18 and 0.84 + 0.18."""
    data = billed_cluster()
    data.bills = {**data.bills, resource_key("i-n1"): bill(2.16, T0, T0 + 12 * H)}
    query = AllocationQuery(window=WINDOW, include_idle=True, aggregate=("namespace",))
    result = compute_allocations(data, query, now=WINDOW.end_ts + H)
    s = result.sets[0]
    got = {n: float(s.columns["totalCost"][i]) for i, n in enumerate(s.names)}
    assert got == pytest.approx(
        {"a": 1.62, "b": 7.815, "c": 0.09, "__idle__": 10.635, "__unmounted__": 0.24}
    )
    assert sum(got.values()) == pytest.approx(20.4)
    assert result.meta["costBasis"]["nodeCostMatched"] == pytest.approx(
        (4.32 + 26.16) / (8.64 + 26.16), abs=1e-6
    )
    halves = AllocationQuery(window=WINDOW, aggregate=("namespace",), step=timedelta(hours=12))
    sets = compute_allocations(data, halves, now=WINDOW.end_ts + H).sets
    a = [float(x.columns["totalCost"][x.names.index("a")]) for x in sets]
    assert a == pytest.approx([0.84 * 0.5 + 0.18, 0.84 + 0.18])
