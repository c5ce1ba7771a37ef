"""Allocation members: the pods, containers and pseudo rows an allocation row belongs to."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from costreport.engine.aggregate import MemberView
from costreport.engine.rows import IntArray
from costreport.model.cluster import ClusterData

RESOURCES = ("cpuCost", "gpuCost", "ramCost")
IDLE_MEMBER = -2


class Interner:
    """Maps strings to small integers so properties and names can be compared in arrays."""

    def __init__(self) -> None:
        self.codes: dict[str, int] = {}
        self.strings: list[str] = []

    def code(self, value: str) -> int:
        """The code of `value`, allocated on first sight."""
        found = self.codes.get(value)
        if found is None:
            found = self.codes[value] = len(self.strings)
            self.strings.append(value)
        return found

    def codes_of(self, values: Sequence[str]) -> IntArray:
        """The codes of many values, allocated in order of first sight (as `code` one by one,
        with the loops in C: distinct values by `dict.fromkeys`, lookups by `map`)."""
        distinct = dict.fromkeys(values)
        local = {value: i for i, value in enumerate(distinct)}
        table = np.fromiter(map(self.code, distinct), np.int64, len(distinct))
        index = np.fromiter(map(local.__getitem__, values), np.int64, len(values))
        return table[index] if len(values) else np.zeros(0, np.int64)


@dataclass(slots=True)
class Members:
    """Every raw allocation a row can come from: containers first, then pseudo-allocations."""

    views: list[MemberView]
    node_row: list[int]
    pod: list[int]

    def add_pseudo(self, view: MemberView) -> int:
        """Register an unmounted pseudo-allocation and return its member index."""
        self.views.append(view)
        self.node_row.append(-1)
        self.pod.append(-1)
        return len(self.views) - 1


def build_members(data: ClusterData) -> Members:
    """One `MemberView` per container, with its pod's metadata and its node's row."""
    node_rows = {(n.cluster, n.name): i for i, n in enumerate(data.nodes)}
    pod_node = [node_rows.get((p.cluster, p.node), -1) for p in data.pods]
    views: list[MemberView] = []
    node_row: list[int] = []
    pods: list[int] = []
    for c in data.containers:
        p = data.pods[c.pod]
        views.append(
            MemberView(  # positional: twice as fast as keywords, for every container
                p.cluster,
                p.node,
                p.namespace,
                p.name,
                c.name,
                p.controller_kind,
                p.controller_name,
                p.provider_id,
                p.labels,
                p.annotations,
                p.services,
            )
        )
        node_row.append(pod_node[c.pod])
        pods.append(c.pod)
    return Members(views, node_row, pods)
