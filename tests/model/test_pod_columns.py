"""Pods held as columns: the same pods as a list, made only when asked for."""

from __future__ import annotations

from dataclasses import astuple

import pytest

from costreport.model.cluster import POD_FIELDS, Pod, PodColumns, pod_column
from costreport.sources.ledger.fleet import joined_pods

PODS = [
    Pod("c1", "a", "web-1", "n1", "deployment", "web", {"app": "web"}, {}, ("web",), "", "u1"),
    Pod("c1", "b", "db-0", "n2", "statefulset", "db", {}, {"x": "y"}, (), "i-2", "u2", "only"),
    Pod("c2", "a", "web-1", "n9", uid="u3"),
]


def columns_of(pods: list[Pod]) -> PodColumns:
    return PodColumns({name: [getattr(p, name) for p in pods] for name in POD_FIELDS})


def test_pod_columns_are_the_same_pods_as_the_list() -> None:
    held = columns_of(PODS)
    assert len(held) == 3
    assert list(held) == PODS
    assert [held[i] for i in range(3)] == PODS and held[-1] == PODS[-1]
    assert held[1:] == PODS[1:]
    assert [astuple(p) for p in held] == [astuple(p) for p in PODS]
    with pytest.raises(IndexError):
        held[3]


def test_pod_column_reads_a_field_from_either_form() -> None:
    held = columns_of(PODS)
    assert pod_column(held, "namespace") == ["a", "b", "a"]
    assert pod_column(PODS, "namespace") == ["a", "b", "a"]
    assert pod_column(held, "lifecycle") == pod_column(PODS, "lifecycle") == ["", "only", ""]
    assert pod_column(held, "labels") is held.column("labels")  # the column itself, no copy


def test_replaced_swaps_columns_and_lengths_must_agree() -> None:
    held = columns_of(PODS)
    other = held.replaced(labels=[{}, {}, {"team": "z"}])
    assert [p.labels for p in other] == [{}, {}, {"team": "z"}]
    assert [p.labels for p in held] == [{"app": "web"}, {}, {}]  # the original is unchanged
    assert other[0].name == "web-1"
    with pytest.raises(ValueError, match=r"different lengths: \[2, 3\]"):
        held.replaced(uid=["u1", "u2"])


def test_joined_pods_keep_columns_when_every_part_has_them() -> None:
    joined = joined_pods([columns_of(PODS[:2]), columns_of(PODS[2:])])
    assert isinstance(joined, PodColumns) and list(joined) == PODS
    mixed = joined_pods([columns_of(PODS[:2]), PODS[2:]])
    assert isinstance(mixed, list) and mixed == PODS
