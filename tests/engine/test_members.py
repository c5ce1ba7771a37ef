"""Interning many values at once gives the codes `code` gives one by one."""

from __future__ import annotations

from costreport.engine.members import Interner


def test_codes_of_equals_one_by_one_in_order_of_first_sight() -> None:
    values = ["b", "a", "b", "c", "a", "", "c"]
    one = Interner()
    one.code("a")  # codes already allocated are reused
    expected = [one.code(v) for v in values]
    bulk = Interner()
    bulk.code("a")
    assert bulk.codes_of(values).tolist() == expected == [1, 0, 1, 2, 0, 3, 2]
    assert bulk.strings == one.strings == ["a", "b", "c", ""]
    assert bulk.codes_of([]).tolist() == []
