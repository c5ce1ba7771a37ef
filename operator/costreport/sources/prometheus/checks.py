"""What a Prometheus answer covers, and which series it lacks (warnings or no data)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from costreport.model.cluster import (
    Node,
    UsageSegments,
)
from costreport.model.errors import NoData
from costreport.model.window import Window


def coverage_span(
    nodes: Sequence[Node], usage: UsageSegments, window: Window
) -> tuple[float, float] | None:
    """The span of the window with node or container data (None: nothing at all)."""
    starts = [n.start for n in nodes] + ([float(usage.start.min())] if len(usage) else [])
    ends = [n.end for n in nodes] + ([float(usage.end.max())] if len(usage) else [])
    if not starts:
        return None
    return max(window.start_ts, min(starts)), min(window.end_ts, max(ends))


def missing_series(
    r: Mapping[str, Any], has_nodes: bool, has_containers: bool, window: Window
) -> list[str]:
    """Warnings naming the series a complete answer needs and the window lacks.

    With neither nodes nor containers there is no answer at all: `SourceUnavailable`.
    """
    span = f"{window.to_json()['start']} → {window.to_json()['end']}"
    if not has_nodes and not has_containers:
        raise NoData(
            f"prometheus has no kube-state-metrics or cAdvisor data for {span} (no "
            "kube_node_info, kube_pod_info or kube_pod_container_status_running series): is "
            "kube-state-metrics scraped, and is the window within Prometheus' retention?"
        )
    warnings = []
    if not has_nodes:
        warnings.append(
            "no kube_node_info series (kube-state-metrics) in the window: node costs and idle "
            "are missing"
        )
    if has_containers and not r["requests"]:
        warnings.append(
            "no kube_pod_container_resource_requests series (kube-state-metrics) in the "
            "window: requests are 0 and costs follow usage only"
        )
    if has_containers and not r["cpu"]:
        warnings.append(
            "no container_cpu_usage_seconds_total series (cAdvisor) in the window: CPU usage "
            "is 0 and CPU costs follow requests only"
        )
    if has_containers and not r["ram"]:
        warnings.append(
            "no container_memory_working_set_bytes series (cAdvisor) in the window: memory "
            "usage is 0 and RAM costs follow requests only"
        )
    return warnings
