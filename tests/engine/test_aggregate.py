"""Row naming for every aggregate key, and aggregate parsing (reference §1.7)."""

from __future__ import annotations

import pytest

from costreport.engine.aggregate import ACCEPTED_AGGREGATE, parse_aggregate
from costreport.model.errors import InvalidParameter
from tests.engine.helpers import rows, run

U, M = "__unallocated__", "__unmounted__"


@pytest.mark.parametrize(
    ("aggregate", "names"),
    [
        (("cluster",), {"c1"}),
        (("node",), {"n1", "n2", ""}),
        (("namespace",), {"a", "b", "c", M}),
        (("pod",), {"web-1", "db-0", "train", "cron-1", "b-unmounted-pvcs", M}),
        (("container",), {"app", "db", "trainer", "job", M}),
        (("controllerKind",), {"deployment", "statefulset", "job", U, M}),
        (("controller",), {"deployment:web", "statefulset:db", "job:train", U, M}),
        (("deployment",), {"web", U, M}),
        (("statefulset",), {"db", U, M}),
        (("daemonset",), {U, M}),
        (("job",), {"train", U, M}),
        (("service",), {"web", U, M}),
        (("providerID",), {"i-n1", "i-n2", M}),
        (("label:team",), {"x", U, M}),
        (("annotation:team",), {"ml", U, M}),
        (("team",), {"x", "ml", U, M}),  # label team, else annotation team
        (("product",), {"web", "db", U, M}),  # product is the app label
        (("environment",), {U, M}),
        (
            ("namespace", "label:app"),
            {"a/web", "b/db", f"b/{U}", f"c/{U}", f"b/{M}", f"{M}/{M}"},
        ),
        (("cluster", "namespace"), {"c1/a", "c1/b", "c1/c", f"c1/{M}"}),
        ((), {""}),
    ],
)
def test_row_names(aggregate: tuple[str, ...], names: set[str]) -> None:
    assert set(rows(run(aggregate=aggregate))) == names


def test_default_rows_are_cluster_node_namespace_pod_container() -> None:
    assert set(rows(run())) == {
        "c1/n1/a/web-1/app",
        "c1/n1/b/db-0/db",
        "c1/n2/b/train/trainer",
        "c1/n1/c/cron-1/job",
        "c1//b/b-unmounted-pvcs/__unmounted__",
        "c1//__unmounted__/__unmounted__/__unmounted__",
    }


def test_idle_is_one_row_whatever_the_aggregate() -> None:
    names = set(rows(run(aggregate=("namespace", "label:app"), include_idle=True)))
    assert "__idle__" in names
    assert not any(n.endswith("/__idle__") for n in names)


@pytest.mark.parametrize(
    ("text", "keys"),
    [
        (None, ("cluster", "node", "namespace", "pod", "container")),
        ("", ("cluster", "node", "namespace", "pod", "container")),
        ("all", ()),
        ("Namespace, CONTROLLERKIND", ("namespace", "controllerKind")),
        ("label:app.kubernetes.io/name", ("label:app_kubernetes_io_name",)),
        ("namespace,annotation:owner", ("namespace", "annotation:owner")),
    ],
)
def test_parse_aggregate(text: str | None, keys: tuple[str, ...]) -> None:
    assert parse_aggregate(text) == keys


@pytest.mark.parametrize("text", ["namespce", "namespace,foo", "label", "label:", "all,pod"])
def test_unknown_aggregate_keys_are_rejected(text: str) -> None:
    with pytest.raises(InvalidParameter) as caught:
        parse_aggregate(text)
    assert caught.value.parameter == "aggregate"
    assert str(caught.value) == (
        f"invalid 'aggregate' parameter: {text!r}; accepted: {ACCEPTED_AGGREGATE}"
    )
    assert "controllerKind" in ACCEPTED_AGGREGATE and "label:<key>" in ACCEPTED_AGGREGATE
