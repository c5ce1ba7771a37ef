"""Bulk decoding of Arrow columns: maps decoded once per distinct value, exact fallbacks."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from costreport.sources.ledger.columns import (
    codes_in,
    map_dicts,
    shared_strings,
    string_tuples,
    strings,
)

MAP = pa.map_(pa.string(), pa.string())


def test_equal_maps_share_one_dict_and_order_is_kept() -> None:
    column = pa.chunked_array(
        [
            pa.array([[("app", "web"), ("team", "a")], []], MAP),
            pa.array([[("app", "web"), ("team", "a")], [("team", "b")]], MAP),
        ]
    )
    out = map_dicts(column)
    assert out == [{"app": "web", "team": "a"}, {}, {"app": "web", "team": "a"}, {"team": "b"}]
    assert out[0] is out[2]
    assert list(out[0]) == ["app", "team"]


def test_a_sliced_map_column_decodes_its_own_rows() -> None:
    whole = pa.array([[("a", "1")], [("b", "2"), ("c", "3")], [("d", "4")]], MAP)
    assert map_dicts(whole.slice(1, 2)) == [{"b": "2", "c": "3"}, {"d": "4"}]


def test_separators_and_nulls_fall_back_to_row_by_row() -> None:
    # Joined texts of these two maps would collide if the separators were trusted.
    tricky = pa.array([[("k", "a\x1eb\x1fc")], [("k", "a"), ("b", "c")]], MAP)
    out = map_dicts(tricky)
    assert out == [{"k": "a\x1eb\x1fc"}, {"k": "a", "b": "c"}]
    assert out[0] is not out[1]
    nulls = pa.array([[("k", None)], None, [("k", "")]], MAP)
    assert map_dicts(nulls) == [{"k": None}, {}, {"k": ""}]


def test_empty_columns() -> None:
    assert map_dicts(pa.chunked_array([], MAP)) == []
    assert string_tuples(pa.chunked_array([], pa.list_(pa.string()))) == []


def test_lists_strings_and_codes() -> None:
    assert string_tuples(pa.array([["a", "b"], None, []], pa.list_(pa.string()))) == [
        ("a", "b"),
        (),
        (),
    ]
    assert strings(pa.chunked_array([pa.array(["x", None])])) == ["x", ""]
    found = codes_in(pa.array(["b", "z", "a"]), pa.array(["a", "b"]))
    assert found.tolist() == [1, -1, 0]
    assert found.dtype == np.int64


def test_equal_string_lists_share_one_tuple_and_slices_keep_their_rows() -> None:
    column = pa.chunked_array(
        [
            pa.array([["ns/web", "ns/api"], None], pa.list_(pa.string())),
            pa.array([["ns/web", "ns/api"], ["ns/web"], []], pa.list_(pa.string())),
        ]
    )
    out = string_tuples(column)
    assert out == [("ns/web", "ns/api"), (), ("ns/web", "ns/api"), ("ns/web",), ()]
    assert out[0] is out[2]
    whole = pa.array([["a"], ["b", "c"], ["d"]], pa.list_(pa.string()))
    assert string_tuples(whole.slice(1, 2)) == [("b", "c"), ("d",)]


def test_string_lists_that_would_join_alike_fall_back_to_row_by_row() -> None:
    # [""] and [] both join to "", and ["a\x1eb"] joins like ["a", "b"]: never trusted.
    assert string_tuples(pa.array([[""], []], pa.list_(pa.string()))) == [("",), ()]
    split = string_tuples(pa.array([["a\x1eb"], ["a", "b"]], pa.list_(pa.string())))
    assert split == [("a\x1eb",), ("a", "b")]
    assert string_tuples(pa.array([["a", None]], pa.list_(pa.string()))) == [("a", None)]


def test_shared_strings_keep_values_and_nulls_with_one_object_per_value() -> None:
    column = pa.chunked_array(
        [pa.array(["team-a", None, "team-b"]), pa.array(["team-a", "", None, "team-b"])]
    )
    out = shared_strings(column)
    assert out == ["team-a", None, "team-b", "team-a", "", None, "team-b"]
    assert out == column.to_pylist()
    assert out[0] is out[3] and out[2] is out[6]
    assert shared_strings(pa.array(["x", "y", "x"]).slice(1, 2)) == ["y", "x"]
    assert shared_strings(pa.chunked_array([], pa.string())) == []
