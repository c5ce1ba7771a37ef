"""Container lives: where a start time comes from when kube-state-metrics has none."""

from __future__ import annotations

import math
from collections.abc import Mapping

START_BASES = (
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
        return started, START_BASES[0]
    first = min((k for k, v in seen.items() if v > 0), default=None)
    if first is not None:
        set_end = a + (first + 1) * s
        ran = seen[first] * interval
        until = end if math.isfinite(end) and end <= set_end else set_end
        estimate = max(until - ran, a + first * s)
        if math.isfinite(pod_start):
            estimate = max(estimate, pod_start)
        return estimate, START_BASES[1]
    return (pod_start if math.isfinite(pod_start) else a), START_BASES[2]
