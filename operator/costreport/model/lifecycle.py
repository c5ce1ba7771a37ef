"""Container lives recorded from the Kubernetes API: exact start and end, whatever the scrape.

A `ContainerLife` is one container of one pod life (uid) as the operator's pod watch saw it:
the node, the requests from the pod spec, and the exact `startedAt`/`finishedAt` of the
container from `status.containerStatuses` (the pod's deletion ends a container still running).
`observed` is the last instant the recorder knew the container's state: a life with no end
yet ran at least until then. A source that also scrapes metrics takes runtimes and requests
from these records and usage from the metrics where it was sampled.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol

LifeKey = tuple[str, str, str, str, str]
"""(cluster, namespace, pod, uid, container)."""


@dataclass(frozen=True, slots=True)
class ContainerLife:
    """One container of one pod life, as recorded from the API (unix seconds)."""

    cluster: str
    namespace: str
    pod: str
    uid: str
    container: str
    node: str
    start: float
    end: float  # nan: still running when last observed
    observed: float
    cpu_request: float = 0.0  # cores
    ram_request: float = 0.0  # bytes
    gpu_request: float = 0.0
    controller_kind: str = ""  # the pod's first owner as Kubernetes spells it (ReplicaSet, Job…)
    controller_name: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)

    @property
    def known_end(self) -> float:
        """Its end, or the last instant it was seen running."""
        return self.end if math.isfinite(self.end) else self.observed

    def key(self) -> LifeKey:
        """(cluster, namespace, pod, uid, container): one container of one life."""
        return (self.cluster, self.namespace, self.pod, self.uid, self.container)


def merge_lives(lives: Sequence[ContainerLife]) -> dict[LifeKey, ContainerLife]:
    """One record per container life: the latest observation wins (it knows the most).

    The same life appears in several hourly records while it runs; a later one may know its
    end. The earliest start seen is kept (a restarted recorder sees the same `startedAt`).
    """
    out: dict[LifeKey, ContainerLife] = {}
    for life in lives:
        key = life.key()
        held = out.get(key)
        if held is None or life.observed >= held.observed:
            if held is not None and held.start < life.start:
                life = _with_start(life, held.start)
            out[key] = life
        elif life.start < held.start:
            out[key] = _with_start(held, life.start)
    return out


def _with_start(life: ContainerLife, start: float) -> ContainerLife:
    return replace(life, start=start)


class LifecycleSource(Protocol):
    """Where recorded container lives come from (the operator's pod watch, the ledger)."""

    async def lives(self, start: float, end: float) -> list[ContainerLife]:
        """Every recorded container life overlapping [start, end)."""
        ...


def lifecycle_counts(kinds: Sequence[str]) -> dict[str, int] | None:
    """`meta.source.lifecycle` from the pods' `lifecycle` fields (None: no records were used)."""
    recorded = sum(1 for k in kinds if k in ("recorded", "only"))
    if not recorded:
        return None
    return {"recordedPods": recorded, "lifecycleOnlyPods": sum(1 for k in kinds if k == "only")}
