"""The v2 filter language: operators, AND/OR, the space-as-AND fix, aliases, errors."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from costreport.engine.filters import EXAMPLE, MATCH_ALL, parse_filter, sanitize_label_key
from costreport.model.errors import InvalidParameter

WEB = {
    "cluster": "c1",
    "node": "n1",
    "namespace": "kube-system",
    "controllerName": "coredns",
    "controllerKind": "deployment",
    "container": "coredns",
    "pod": "coredns-abc",
    "providerID": "i-123",
    "services": ["kube-dns", "metrics"],
    "labels": {"app": "dns", "app_kubernetes_io_name": "coredns"},
    "annotations": {"team": "platform"},
}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('namespace:"kube-system"', True),
        ('namespace:"kube"', False),
        ('namespace!:"kube-system"', False),
        ('namespace~:"system"', True),
        ('namespace!~:"system"', False),
        ('namespace<~:"kube"', True),
        ('namespace!<~:"kube"', False),
        ('namespace~>:"system"', True),
        ('namespace!~>:"kube"', True),
        ('namespace:"a","kube-system"', True),  # positive values OR
        ('namespace!:"a","kube-system"', False),  # negative values AND
        ('namespace!:"a","b"', True),
        ('provider:"i-123"', True),
        ('services:"kube-dns"', True),  # slice: contains
        ('services!:"kube-dns"', False),
        ('services~:"metr"', True),
        ('label:"app"', True),  # key-less map: has key
        ('label!:"owner"', True),
        ('label[app]:"dns"', True),
        ('label[app.kubernetes.io/name]:"coredns"', True),
        ('label[owner]:"__unallocated__"', True),  # missing label = __unallocated__
        ('label[app]:"__unallocated__"', False),
        ('annotation[team]:"platform"', True),
        ('team:"platform"', True),  # alias: label team, else annotation team
        ('product:"dns"', True),  # product = app label
        ('environment:"__unallocated__"', True),
        ('Namespace:"kube-system"', None),
    ],
)
def test_operators(text: str, expected: bool | None) -> None:
    if expected is None:
        with pytest.raises(InvalidParameter):
            parse_filter(text)
        return
    assert parse_filter(text).matches(WEB) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('namespace:"kube-system"+controllerKind:"deployment"', True),
        ('namespace:"kube-system"+controllerKind:"daemonset"', False),
        ('namespace:"x"|controllerKind:"deployment"', True),
        ('namespace:"x"|controllerKind:"statefulset"', False),
        ('(namespace:"x"|namespace:"kube-system")+pod<~:"core"', True),
        ('namespace:"kube-system"+(pod:"x"|container:"y")', False),
        # A `+` that arrived as a space still means AND (opencost#3371 fixed).
        ('namespace:"kube-system" controllerKind:"daemonset"', False),
        ('namespace:"kube-system"  controllerKind:"deployment"', True),
        ("", True),
        ("   ", True),
    ],
)
def test_combinations(text: str, expected: bool) -> None:
    assert parse_filter(text).matches(WEB) is expected


def test_space_and_plus_compile_to_the_same_filter() -> None:
    a = parse_filter('namespace:"a" controllerKind:"deployment"')
    b = parse_filter('namespace:"a"+controllerKind:"deployment"')
    assert a == b
    assert str(a) == '(namespace:"a"+controllerKind:"deployment")'
    assert parse_filter("") is MATCH_ALL


def test_fields_read() -> None:
    f = parse_filter('namespace:"a"+label[app]:"x"+team:"t"+label:"k"')
    assert f.fields() == {"namespace", "label:app", "label:team", "annotation:team", "label"}


def test_asset_fields() -> None:
    record = {
        "name": "n1",
        "assetType": "node",
        "category": "Compute",
        "cluster": "c1",
        "providerID": "i-1",
        "labels": {"pool": "gpu"},
    }
    assert parse_filter('assetType:"node"+label[pool]:"gpu"', kind="asset").matches(record)
    with pytest.raises(InvalidParameter, match="unknown field 'namespace'"):
        parse_filter('namespace:"a"', kind="asset")


@pytest.mark.parametrize(
    ("text", "detail"),
    [
        ('namespace:"a', "unterminated string starting at position 10"),
        (
            'namespce:"a"',
            "unknown field 'namespce' at position 0 (fields: cluster, node, "
            "namespace, controllerName, controllerKind, container, pod, provider, services, label, "
            "annotation, department, environment, owner, product, team)",
        ),
        ('namespace"a"', "expected an operator (:, !:, ~:, <~:, ~>: …) at position 9"),
        ("namespace:", "expected '\"' at position 10"),
        ('namespace:"a"+', "expected a comparison after '+' at position 14"),
        (
            'namespace:"a"+pod:"b"|pod:"c"',
            "found '|' at position 21, expected '+': use parentheses to mix + and |",
        ),
        ('(namespace:"a"', "expected ')' at position 14"),
        ('namespace:"a")', "unexpected ')' at position 13"),
        (
            'naméspace:"a"',
            "unknown field 'nam' at position 0 (fields: cluster, node, namespace, "
            "controllerName, controllerKind, container, pod, provider, services, label, "
            "annotation, department, environment, owner, product, team)",
        ),
        ('pod[x]:"a"', "field 'pod' takes no [key] (position 3)"),
    ],
)
def test_errors_name_the_problem(text: str, detail: str) -> None:
    with pytest.raises(InvalidParameter) as caught:
        parse_filter(text)
    assert (
        str(caught.value) == f"invalid 'filter' parameter: {text!r}; accepted: {EXAMPLE}; {detail}"
    )


def test_sanitize_label_key() -> None:
    assert sanitize_label_key("app.kubernetes.io/name") == "app_kubernetes_io_name"


@given(st.text(max_size=40))
def test_random_text_parses_or_raises_invalid_parameter(text: str) -> None:
    with contextlib.suppress(InvalidParameter):
        parse_filter(text).matches(WEB)


def test_nesting_is_bounded_with_a_clear_error() -> None:
    from costreport.engine.filters import MAX_FILTER_DEPTH

    ok = "(" * MAX_FILTER_DEPTH + 'namespace:"a"' + ")" * MAX_FILTER_DEPTH
    assert parse_filter(ok).matches({"namespace": "a"})
    deep = "(" * 495 + 'namespace:"a"' + ")" * 495
    with pytest.raises(InvalidParameter) as caught:
        parse_filter(deep)
    assert caught.value.parameter == "filter"
    assert caught.value.accepted.endswith(
        "; parentheses nested deeper than 32 levels at position 32"
    )
    # The echo of a long value is cut, so a status or a log line stays small.
    assert caught.value.message.startswith("invalid 'filter' parameter: '((((")
    assert len(caught.value.message) < 400


def test_size_and_comparison_count_are_bounded() -> None:
    # 10 × 9 + 90 × 10 + 156 × 11 = 2,706 characters before the 257th comparison.
    many = "+".join(f'pod!:"{i}"' for i in range(257))
    with pytest.raises(InvalidParameter, match=r"more than 256 comparisons \(position 2706\)"):
        parse_filter(many)
    assert parse_filter("+".join(f'pod!:"{i}"' for i in range(256))).matches({"namespace": "x"})
    with pytest.raises(InvalidParameter, match=r"at most 4096 characters \(got 4098\)"):
        parse_filter('namespace:"' + "x" * 4086 + '"')
