"""The label policy on cluster data: each map object cleaned once, shared maps stay shared."""

from __future__ import annotations

from dataclasses import replace

from costreport.engine.privacy import LabelPolicy
from costreport.model.cluster import ClusterData
from tests.engine.tiny_cluster import tiny_cluster


def _shared_labels() -> tuple[ClusterData, dict[str, str]]:
    """The tiny cluster with one label map object shared by three of its four pods."""
    data = tiny_cluster()
    shared = {"app": "web", "team": "x", "owner": "alice"}
    data.pods = [replace(p, labels=shared) if i < 3 else p for i, p in enumerate(data.pods)]
    return data, shared


def test_a_shared_map_is_cleaned_once_and_stays_shared() -> None:
    data, shared = _shared_labels()
    calls: list[dict[str, str]] = []

    class Counting(LabelPolicy):
        def clean(self, labels):  # type: ignore[no-untyped-def]
            calls.append(dict(labels))
            return super().clean(labels)

    out = Counting(allowed=("app", "team")).apply(data)
    assert [dict(p.labels) for p in out.pods[:3]] == [{"app": "web", "team": "x"}] * 3
    assert out.pods[0].labels is out.pods[1].labels is out.pods[2].labels
    assert calls.count(shared) == 1  # not once per pod
    assert dict(out.pods[3].labels) == {
        k: v for k, v in data.pods[3].labels.items() if k in ("app", "team")
    }
    assert data.pods[0].labels is shared and shared["owner"] == "alice"  # input untouched


def test_hashed_values_are_the_same_for_every_pod_sharing_the_map() -> None:
    data, _ = _shared_labels()
    out = LabelPolicy(allowed=("app", "team"), hashed=("team",), secret=b"k").apply(data)
    [value] = {p.labels["team"] for p in out.pods[:3]}
    assert value.startswith("h:") and len(value) == 18 and value != "x"


def test_data_the_policy_leaves_unchanged_keeps_its_pod_list() -> None:
    data = tiny_cluster()
    permissive = LabelPolicy(allowed=("*",))
    out = permissive.apply(data)
    assert out.pods is data.pods
    assert out is not data  # namespace maps are still cleaned into a new ClusterData


def test_pods_held_as_columns_are_cleaned_column_by_column() -> None:
    from costreport.model.cluster import POD_FIELDS, PodColumns

    data, shared = _shared_labels()
    data.pods = PodColumns({n: [getattr(p, n) for p in data.pods] for n in POD_FIELDS})
    out = LabelPolicy(allowed=("app", "team")).apply(data)
    assert isinstance(out.pods, PodColumns)
    as_list = LabelPolicy(allowed=("app", "team")).apply(replace(data, pods=list(data.pods)))
    assert list(out.pods) == list(as_list.pods)
    assert out.pods[0].labels is out.pods[2].labels
    assert data.pods[0].labels is shared  # the input keeps its maps
    unchanged = LabelPolicy(allowed=("*",)).apply(data)
    assert unchanged.pods is data.pods
