"""Container lives: where a start time comes from when kube-state-metrics has none."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, MutableMapping, Sequence
from typing import Any

from costreport.model.lifecycle import ContainerLife
from costreport.sources.prometheus.objects import ContainerKey, PodKey

START_BASES = (
    "lifecycle record",
    "kube_pod_container_state_started",
    "first running sample",
    "pod start",
)
"""Where a container's start came from, best first (declared in `meta.source`)."""


def start_of_container(
    started: float | None,
    pod_start: float,
    seen: Mapping[int, float],
    end: float,
    a: float,
    s: float,
    interval: float,
) -> tuple[float, str]:
    """A container's start and its basis.

    `kube_pod_container_state_started` (kube-state-metrics ≥ 2) is exact. Without it, the
    first set with running samples bounds the start: the container ran `count × interval`
    seconds of that set, up to the set's end (or to its own end when it also ended there), so
    the start is off by at most one scrape interval; never before the pod's start (image pull
    and init containers happen after it). With neither, the pod's start (or the window's).
    """
    if started is not None and math.isfinite(started):
        return started, START_BASES[1]
    first = min((k for k, v in seen.items() if v > 0), default=None)
    if first is not None:
        set_end = a + (first + 1) * s
        ran = seen[first] * interval
        until = end if math.isfinite(end) and end <= set_end else set_end
        estimate = max(until - ran, a + first * s)
        if math.isfinite(pod_start):
            estimate = max(estimate, pod_start)
        return estimate, START_BASES[2]
    return (pod_start if math.isfinite(pod_start) else a), START_BASES[3]


RECORD_BASIS = START_BASES[0]
"""The start basis of a container whose runtime came from the Kubernetes API's records."""


def merge_recorded(
    lives: Sequence[tuple[ContainerKey, float, float]],
    records: Sequence[ContainerLife],
    known_pods: Callable[[PodKey], bool],
    add_pod: Callable[[ContainerLife], None],
    requests: MutableMapping[ContainerKey, Any],
    n_sets: int,
    a: float,
    z: float,
) -> tuple[list[tuple[ContainerKey, float, float]], set[ContainerKey], set[PodKey]]:
    """Lives with the recorded ones applied: a recorded container runs exactly from its
    `startedAt` to its `finishedAt` (or, still running, to the later of its last observation
    and the metrics' estimate) with the requests of its pod spec; a recorded container the
    metrics never saw is added (`add_pod` creates its pod). Returns the lives, the recorded
    containers and the pods only the records saw."""
    by_key = {key: (start, end) for key, start, end in lives}
    recorded: set[ContainerKey] = set()
    only: set[PodKey] = set()
    for life in records:
        key = life.key()
        start = life.start
        if key in by_key:
            end = life.end if math.isfinite(life.end) else max(life.observed, by_key[key][1])
        else:
            end = life.known_end
            if not known_pods(key[:4]):
                add_pod(life)
                only.add(key[:4])
        if end <= max(start, a) or start >= z:
            by_key.pop(key, None)
            continue
        by_key[key] = (start, end)
        recorded.add(key)
        requests[key] = {
            "cpu": dict.fromkeys(range(n_sets), life.cpu_request),
            "memory": dict.fromkeys(range(n_sets), life.ram_request),
            "nvidia_com_gpu": dict.fromkeys(range(n_sets), life.gpu_request),
        }
    return sorted((k, s, e) for k, (s, e) in by_key.items()), recorded, only
