"""Merging rows sums their PV and load-balancer entries per key; stacking tables, with or without
releasing the inputs (`engine/rows.py`)."""

from __future__ import annotations

import numpy as np

from costreport.engine.rows import ALL_COLUMNS, LB_AMOUNTS, PV_AMOUNTS, RowTable, concat, merge
from costreport.engine.volumes import _lb_entry, _pv_entry


def test_the_fixed_amount_fields_are_the_entries_float_fields() -> None:
    pv, lb = _pv_entry("vol-1"), _lb_entry("ns/web", 0.5, False, "10.0.0.1", 2.0)
    assert tuple(k for k, v in pv.items() if isinstance(v, float)) == PV_AMOUNTS
    assert tuple(k for k, v in lb.items() if isinstance(v, float)) == LB_AMOUNTS


def test_merged_rows_sum_amounts_and_keep_text_per_key() -> None:
    table = RowTable.zeros(3)
    table.lbs[0] = {"c/ns/web": _lb_entry("ns/web", 0.25, True, "10.0.0.1", 1.5)}
    table.lbs[1] = {
        "c/ns/web": _lb_entry("ns/web", 0.5, True, "10.0.0.1", 0.5),
        "c/ns/api": _lb_entry("ns/api", 2.0, False, "10.0.0.2", 3.0),
    }
    table.lbs[2] = {"c/ns/web": _lb_entry("ns/web", 8.0, True, "10.0.0.1", 4.0)}
    table.pvs[0] = {"pv-a": {**_pv_entry("vol-a"), "cost": 1.0, "byteHours": 10.0}}
    table.pvs[1] = {"pv-a": {**_pv_entry("vol-a"), "cost": 0.125, "byteHours": 2.5}}
    merged = merge(table, np.array([7, 7, 9]))  # rows 0 and 1 merge; row 2 stays alone
    assert merged.keys.tolist() == [7, 9]
    assert merged.rows.lbs == {
        0: {
            "c/ns/web": _lb_entry("ns/web", 0.75, True, "10.0.0.1", 2.0),
            "c/ns/api": _lb_entry("ns/api", 2.0, False, "10.0.0.2", 3.0),
        },
        1: {"c/ns/web": _lb_entry("ns/web", 8.0, True, "10.0.0.1", 4.0)},
    }
    summed = {**_pv_entry("vol-a"), "cost": 1.125, "byteHours": 12.5}
    assert merged.rows.pvs == {0: {"pv-a": summed}}
    assert table.lbs[0]["c/ns/web"]["cost"] == 0.25  # the sources are not changed


def _two_tables() -> tuple[RowTable, RowTable]:
    a, b = RowTable.zeros(2), RowTable.zeros(1)
    a.columns["cpuCost"] = np.array([1.5, 2.0])
    a.props["namespace"] = np.array([3, 4])
    a.set_index = np.array([0, 1])
    a.pvs[1] = {"pv-a": {**_pv_entry("vol-a"), "cost": 0.5}}
    b.columns["cpuCost"] = np.array([0.25])
    b.props["namespace"] = np.array([5])
    b.set_index = np.array([1])
    b.lbs[0] = {"c/ns/web": _lb_entry("ns/web", 0.5, False, "10.0.0.1", 1.0)}
    return a, b


def test_consuming_concat_stacks_like_a_copy_and_releases_its_inputs() -> None:
    copied = concat(list(_two_tables()))
    a, b = _two_tables()
    consumed = concat([a, b], consume=True)
    for result in (copied, consumed):
        assert result.columns["cpuCost"].tolist() == [1.5, 2.0, 0.25]
        assert result.props["namespace"].tolist() == [3, 4, 5]
        assert result.set_index.tolist() == [0, 1, 1]
        assert result.pvs == {1: {"pv-a": {**_pv_entry("vol-a"), "cost": 0.5}}}
        assert result.lbs == {2: {"c/ns/web": _lb_entry("ns/web", 0.5, False, "10.0.0.1", 1.0)}}
        assert sorted(result.columns) == sorted(ALL_COLUMNS)
    assert a.columns == {} and b.columns == {} and a.props == {} and b.props == {}
