"""Members and interning: bulk codes equal `code` one by one, views built per member."""

from __future__ import annotations

import numpy as np

from costreport.engine.aggregate import MemberView
from costreport.engine.members import Interner, Members, first_sight
from tests.engine.tiny_cluster import tiny_cluster


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


def test_codes_indexed_equals_codes_of_the_indexed_list() -> None:
    per_pod = ["p0", "p1", "p2", "p1"]
    index = np.array([3, 3, 0, 2, 0], np.int64)  # p1 first seen at position 0, p0 next, p2 last
    expected = Interner()
    expected.code("p2")
    want = expected.codes_of([per_pod[i] for i in index.tolist()]).tolist()
    got = Interner()
    got.code("p2")
    assert got.codes_indexed(per_pod, index).tolist() == want == [1, 1, 2, 0, 2]
    assert got.strings == expected.strings == ["p2", "p1", "p0"]  # unused values never interned
    assert got.codes_indexed(per_pod, np.zeros(0, np.int64)).tolist() == []


def test_first_sight_with_text_arrow_cannot_hold() -> None:
    codes, distinct = first_sight(["b", "\udc80", "b", "a"])  # a lone surrogate: the dict path
    assert codes.tolist() == [0, 1, 0, 2]
    assert distinct == ["b", "\udc80", "a"]
    codes, distinct = first_sight(["b", "a", "b"])
    assert codes.tolist() == [0, 1, 0]
    assert distinct == ["b", "a"]


def test_member_views_are_built_per_container_and_pseudo_members_follow() -> None:
    data = tiny_cluster()
    members = Members(data)
    first = data.pods[data.containers[0].pod]
    view = members.views[0]
    assert (view.namespace, view.pod, view.container) == (
        first.namespace,
        first.name,
        data.containers[0].name,
    )
    pseudo = MemberView("c", "", "ns", "ns-unmounted-pvcs", "__unmounted__", unmounted=True)
    index = members.add_pseudo(pseudo)
    assert index == len(data.containers) == len(members) - 1
    assert members.views[index] is pseudo
    assert members.views[-1] is pseudo
    assert [v.container for v in members.views] == [
        *(c.name for c in data.containers),
        "__unmounted__",
    ]
    assert members.pod.tolist()[-1] == -1
    assert members.node_row.tolist()[-1] == -1
    by_pod = members.codes(Interner(), lambda v: v.namespace, by_pod=True)
    by_member = members.codes(Interner(), lambda v: v.namespace, by_pod=False)
    assert by_pod.tolist() == by_member.tolist()
    flags = members.array(lambda v: v.namespace == "b", bool, by_pod=True)
    assert flags.tolist() == [False, True, True, False, False]
    assert members.array(lambda v: v.container, object, by_pod=False).tolist()[:2] == [
        "app",
        "db",
    ]
