"""Cloud-cost queries on hand-made bill lines: proration, keys, properties, k8s share, views."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from costreport.engine.cloudcost import compute_cloud_costs, parse_cloud_cost_query
from costreport.engine.cloudcost_render import cloud_cost_json, view_graph, view_table, view_totals
from costreport.model.billing import COST_METRICS, PROPERTIES, BillLines
from costreport.model.errors import InvalidParameter

D0 = datetime(2026, 11, 1, tzinfo=UTC).timestamp()
DAY = 86400.0
NOW = datetime(2026, 11, 10, tzinfo=UTC)


def lines() -> BillLines:
    """A: one day of a k8s node (list 10, effective 7.2, billed 0 under a savings plan).
    B: a two-day non-k8s VM (list = effective = billed 4). C: a credit of -1 on day 2."""
    props = {p: ["", "", ""] for p in PROPERTIES}
    props["provider"] = ["AWS", "AWS", "AWS"]
    props["providerID"] = ["i-1", "i-2", ""]
    props["service"] = ["EC2", "EC2", "EC2"]
    props["category"] = ["Compute", "Compute", "Compute"]
    props["accountID"] = ["111", "111", "111"]
    costs = {
        "listCost": np.array([10.0, 4.0, 0.0]),
        "netCost": np.array([0.0, 4.0, -1.0]),
        "amortizedNetCost": np.array([7.2, 4.0, -1.0]),
        "invoicedCost": np.array([0.0, 4.0, -1.0]),
        "amortizedCost": np.array([7.2, 4.0, 0.0]),
    }
    return BillLines(
        start=np.array([D0, D0, D0 + DAY]),
        end=np.array([D0 + DAY, D0 + 2 * DAY, D0 + 2 * DAY]),
        costs=costs,
        kubernetes=np.array([1.0, 0.0, 0.0]),
        properties=props,
        labels=[{"team": "a"}, {"team": "b"}, {}],
    )


def query(**params: str):  # type: ignore[no-untyped-def]
    return parse_cloud_cost_query(
        {"window": "2026-11-01T00:00:00Z,2026-11-03T00:00:00Z", **params}, now=NOW
    )


def test_daily_sets_prorate_a_line_over_its_days() -> None:
    sets = compute_cloud_costs(lines(), query(aggregate="service"))
    assert [s.window.to_json()["start"] for s in sets] == [
        "2026-11-01T00:00:00Z",
        "2026-11-02T00:00:00Z",
    ]
    day1, day2 = sets
    assert day1.names == ["EC2"] and day2.names == ["EC2"]
    assert day1.costs["amortizedNetCost"][0] == pytest.approx(7.2 + 2.0)
    assert day2.costs["amortizedNetCost"][0] == pytest.approx(2.0 - 1.0)
    assert day1.costs["listCost"][0] == pytest.approx(12.0)
    # k8s share: cost-weighted, 7.2 of 9.2 on day 1; none on day 2.
    assert day1.kubernetes["amortizedNetCost"][0] == pytest.approx(7.2 / 9.2)
    assert day2.kubernetes["amortizedNetCost"][0] == 0.0
    # An item keeps the properties its lines agree on.
    assert day1.properties[0] == {
        "provider": "AWS", "accountID": "111", "service": "EC2", "category": "Compute",
        "labels": {},
    }  # fmt: skip


def test_keys_filters_and_accumulation() -> None:
    [total] = compute_cloud_costs(
        lines(), query(aggregate="providerID,label:team", accumulate="true")
    )
    by_name = dict(zip(total.names, total.costs["amortizedNetCost"].tolist(), strict=True))
    assert by_name == pytest.approx(
        {"i-1/a": 7.2, "i-2/b": 4.0, "__unallocated__/__unallocated__": -1.0}
    )
    [only] = compute_cloud_costs(
        lines(), query(aggregate="providerID", accumulate="true", filter='providerID:"i-2"')
    )
    assert only.names == ["i-2"] and only.properties[0]["providerID"] == "i-2"
    [tagged] = compute_cloud_costs(
        lines(), query(aggregate="service", accumulate="true", filter='label[team]:"a"')
    )
    assert tagged.costs["invoicedCost"].tolist() == [0.0] and tagged.costs["listCost"].tolist() == [
        10.0
    ]


def test_views_and_json_shapes() -> None:
    q = query(aggregate="providerID", costMetric="AmortizedNetCost", accumulate="day")
    sets = compute_cloud_costs(lines(), q)
    assert view_totals(sets, q.cost_metric) == {
        "numResults": 3,
        "combined": {
            "name": "Totals",
            "labels": None,
            "kubernetesPercent": 0.705882352941,
            "cost": 10.2,
        },
    }  # 7.2 of 7.2 + 4 - 1: the credit lowers the sum, as OpenCost's CostMetric.add does
    assert view_graph(sets, q.cost_metric)[1] == {
        "start": "2026-11-02T00:00:00Z", "end": "2026-11-03T00:00:00Z",
        "items": [{"name": "i-2", "value": 2.0}, {"name": "__unallocated__", "value": -1.0}],
    }  # fmt: skip
    table = view_table(
        sets, query(aggregate="providerID", sortBy="name", sortByOrder="asc", limit="2")
    )
    assert [r["name"] for r in table] == ["__unallocated__", "i-1"]
    data = cloud_cost_json(sets, q)
    item = data["sets"][0]["cloudCosts"]["i-1"]
    assert item["amortizedNetCost"] == {"cost": 7.2, "kubernetesPercent": 1.0}
    assert item["netCost"] == {"cost": 0.0, "kubernetesPercent": 0.0}
    assert set(item) == {"properties", "window", *COST_METRICS}
    assert data["sets"][0]["aggregationProperties"] == ["providerID"]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"window": ""}, "invalid 'window' parameter: ''"),
        ({"aggregate": "cluster"}, "invalid 'aggregate' parameter: 'cluster'"),
        ({"accumulate": "fortnight"}, "invalid 'accumulate' parameter: 'fortnight'"),
        ({"costMetric": "cheap"}, "invalid 'costMetric' parameter: 'cheap'"),
        ({"limit": "-1"}, "invalid 'limit' parameter: '-1'"),
        ({"sortBy": "size"}, "invalid 'sortBy' parameter: 'size'"),
        ({"filter": 'namespace:"x"'}, "invalid 'filter' parameter"),
    ],
)
def test_bad_parameters_are_400s_naming_them(params: dict[str, str], message: str) -> None:
    base = {"window": "7d", **params}
    with pytest.raises(InvalidParameter) as caught:
        parse_cloud_cost_query(base, now=NOW)
    assert caught.value.message.startswith(message)


def test_edges_of_proration_and_presence() -> None:
    """Sets from 06:00: a line running past both ends is cut by overlap; a zero-length line
    counts in the set it falls in (its start inclusive); a line ending before it starts counts
    as zero-length at its start; a zero-cost line makes an item only when it lies strictly
    inside the window (upstream's comparison); a line before the window counts nowhere."""
    h = 3600.0
    starts = [D0, D0 + DAY + 6 * h, D0 + 6 * h, D0 + DAY + 12 * h, D0 - 2 * DAY]
    ends = [D0 + 3 * DAY, D0 + DAY + 6 * h, D0 + 6 * h, D0 + DAY + 10 * h, D0 - DAY]
    amounts = np.array([3.0, 5.0, 0.0, 2.0, 7.0])
    props = {p: [""] * 5 for p in PROPERTIES}
    props["providerID"] = ["i-1", "i-2", "i-3", "i-4", "i-5"]
    bill = BillLines(
        start=np.array(starts),
        end=np.array(ends),
        costs={m: amounts.copy() for m in COST_METRICS},
        kubernetes=np.zeros(5),
        properties=props,
        labels=[{}] * 5,
    )
    window = "2026-11-01T06:00:00Z,2026-11-03T06:00:00Z"
    q = parse_cloud_cost_query({"window": window, "aggregate": "providerID"}, now=NOW)
    first, second = compute_cloud_costs(bill, q)
    assert first.names == ["i-1"]
    assert first.costs["listCost"].tolist() == [1.0]  # 24 of the line's 72 hours
    assert second.names == ["i-1", "i-2", "i-4"]
    assert second.costs["listCost"].tolist() == [1.0, 5.0, 2.0]
    q = parse_cloud_cost_query(
        {"window": window, "aggregate": "providerID", "accumulate": "true"}, now=NOW
    )
    [total] = compute_cloud_costs(bill, q)
    assert dict(zip(total.names, total.costs["netCost"].tolist(), strict=True)) == {
        "i-1": 2.0,
        "i-2": 5.0,
        "i-4": 2.0,
    }
