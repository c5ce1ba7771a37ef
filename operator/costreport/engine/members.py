"""Allocation members: the pods, containers and pseudo rows an allocation row belongs to."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Sequence
from typing import Any, overload

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from costreport.engine.aggregate import MemberView
from costreport.engine.rows import IntArray
from costreport.model.cluster import ClusterData, pod_column

RESOURCES = ("cpuCost", "gpuCost", "ramCost")
_VIEW_FIELDS = (
    "cluster",
    "node",
    "namespace",
    "name",
    "controller_kind",
    "controller_name",
    "provider_id",
    "labels",
    "annotations",
    "services",
)
"""The pod fields of a `MemberView`, in its order (the container's name comes between)."""
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
        """The codes of many values, allocated in order of first sight (as `code` one by one)."""
        local, distinct = first_sight(values)
        return self._codes_distinct(distinct)[local] if len(values) else np.zeros(0, np.int64)

    def codes_indexed(self, values: Sequence[str], index: IntArray) -> IntArray:
        """The codes of `values[i] for i in index`, allocated in that order of first sight
        (as `codes_of` of that list, which is never built: values are looked up once each)."""
        local, distinct = first_sight(values)
        wanted = local[index] if len(index) else np.zeros(0, np.int64)
        present, first = np.unique(wanted, return_index=True)
        order = present[np.argsort(first, kind="stable")]
        table = np.zeros(len(distinct), np.int64)
        table[order] = self._codes_distinct([distinct[k] for k in order.tolist()])
        return table[wanted]

    def _codes_distinct(self, distinct: Sequence[str]) -> IntArray:
        """The codes of distinct values, new ones allocated in their order (loops in C)."""
        found = list(map(self.codes.get, distinct))
        new = [value for value, code in zip(distinct, found, strict=True) if code is None]
        if new:
            base = len(self.strings)
            self.strings.extend(new)
            self.codes.update(zip(new, range(base, base + len(new)), strict=True))
            found = list(map(self.codes.get, distinct))
        return np.array(found, np.int64)


def first_sight(values: Sequence[str]) -> tuple[IntArray, list[str]]:
    """Per value its index among the distinct values, which are listed in order of first sight.

    Arrow's hash table does it in C; text Arrow cannot hold (lone surrogates) takes a dict.
    """
    try:
        encoded = pc.dictionary_encode(pa.array(values, pa.large_string()))
    except (pa.ArrowException, UnicodeError):
        distinct = dict.fromkeys(values)
        local = {value: i for i, value in enumerate(distinct)}
        codes = np.fromiter(map(local.__getitem__, values), np.int64, len(values))
        return codes, list(distinct)
    codes = np.asarray(encoded.indices.to_numpy(zero_copy_only=False), np.int64)
    return codes, encoded.dictionary.to_pylist()


class Members:
    """Every raw allocation a row can come from: containers first, then pseudo-allocations.

    Held as columns: per member its pod (-1 for a pseudo-allocation) and its node's row; what
    depends only on the pod (its properties, most row names) is worked out once per pod.
    `views` gives a `MemberView` per member, built on access.
    """

    def __init__(self, data: ClusterData) -> None:
        self.data = data
        self.count = len(data.containers)
        """How many members are containers (the rest are pseudo-allocations)."""
        node_rows = {(n.cluster, n.name): i for i, n in enumerate(data.nodes)}
        pod_node = np.fromiter(
            map(
                node_rows.get,
                zip(pod_column(data.pods, "cluster"), pod_column(data.pods, "node"), strict=True),
                itertools.repeat(-1),
            ),
            np.int64,
            len(data.pods),
        )
        self.container_pod = np.fromiter(
            (c.pod for c in data.containers), np.int64, len(data.containers)
        )
        self.container_node = pod_node[self.container_pod] if self.count else self.container_pod
        self.pseudo: list[MemberView] = []
        self.views = MemberViews(self)
        self._pod_values: dict[str, Sequence[Any]] = {}
        self._view_columns: list[Sequence[Any]] | None = None

    @property
    def pod(self) -> IntArray:
        """Per member: its pod (-1 for a pseudo-allocation)."""
        return np.concatenate([self.container_pod, np.full(len(self.pseudo), -1, np.int64)])

    @property
    def node_row(self) -> IntArray:
        """Per member: its node's row in `data.nodes` (-1: unknown node or pseudo)."""
        return np.concatenate([self.container_node, np.full(len(self.pseudo), -1, np.int64)])

    def __len__(self) -> int:
        return self.count + len(self.pseudo)

    def add_pseudo(self, view: MemberView) -> int:
        """Register an unmounted pseudo-allocation and return its member index."""
        self.pseudo.append(view)
        return len(self) - 1

    def pod_view(self, pod: int, container: str = "") -> MemberView:
        """The view of one container of a pod (of any container, for what ignores its name)."""
        c = self._view_columns
        if c is None:  # read off the pods' columns: no `Pod` is made for a view
            c = self._view_columns = [self.pod_values(name) for name in _VIEW_FIELDS]
        return MemberView(  # positional: twice as fast as keywords
            c[0][pod],
            c[1][pod],
            c[2][pod],
            c[3][pod],
            container,
            c[4][pod],
            c[5][pod],
            c[6][pod],
            c[7][pod],
            c[8][pod],
            c[9][pod],
        )

    def pod_values(self, attribute: str) -> Sequence[Any]:
        """One pod attribute for every pod (in `data.pods` order; read once, kept)."""
        found = self._pod_values.get(attribute)
        if found is None:
            found = self._pod_values[attribute] = pod_column(self.data.pods, attribute)
        return found

    def codes(
        self,
        interner: Interner,
        values: Callable[[MemberView], str],
        *,
        by_pod: bool,
        per_pod: Sequence[str] | None = None,
    ) -> IntArray:
        """Per member: the interned code of `values(view)`, codes allocated in member order.

        With `by_pod` the value is worked out once per pod (it must not depend on the
        container's name), or taken from `per_pod` when the caller has it; otherwise once per
        member. Pseudo-allocations always go through `values`.
        """
        if not by_pod:
            return interner.codes_of([values(v) for v in self.views])
        if per_pod is None:
            per_pod = [values(self.pod_view(p)) for p in range(len(self.data.pods))]
        containers = interner.codes_indexed(per_pod, self.container_pod)
        pseudo = interner.codes_of([values(v) for v in self.pseudo])
        return np.concatenate([containers, pseudo])

    def array(
        self, values: Callable[[MemberView], object], dtype: type, *, by_pod: bool
    ) -> NDArray[Any]:
        """Per member: `values(view)` as an array, worked out once per pod with `by_pod`
        (where it does not depend on the container's name)."""
        if not by_pod:
            return np.fromiter(map(values, self.views), dtype, len(self))
        pods = len(self.data.pods)
        per_pod: NDArray[Any] = np.fromiter(
            (values(self.pod_view(p)) for p in range(pods)), dtype, pods
        )
        pseudo: NDArray[Any] = np.fromiter(map(values, self.pseudo), dtype, len(self.pseudo))
        return np.concatenate([per_pod[self.container_pod], pseudo])


class MemberViews(Sequence[MemberView]):
    """The members as `MemberView`s, each built when asked for."""

    def __init__(self, members: Members) -> None:
        self._members = members

    def __len__(self) -> int:
        return len(self._members)

    @overload
    def __getitem__(self, index: int) -> MemberView: ...
    @overload
    def __getitem__(self, index: slice) -> list[MemberView]: ...
    def __getitem__(self, index: int | slice) -> MemberView | list[MemberView]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        m = self._members
        if index < 0:
            index += len(m)
        if not 0 <= index < len(m):
            raise IndexError(index)
        if index >= m.count:
            return m.pseudo[index - m.count]
        return m.pod_view(int(m.container_pod[index]), m.data.containers[index].name)

    def __iter__(self) -> Iterator[MemberView]:
        m = self._members
        for c in m.data.containers:
            yield m.pod_view(c.pod, c.name)
        yield from m.pseudo
