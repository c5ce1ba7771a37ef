"""A Pod object from the Kubernetes API → the container lives it describes (bounded parsing).

Only what costing needs is kept: uid, namespace, name, node, the controlling owner, labels and
annotations (sanitised keys), requests per container, and each container's exact start and
end from `status.containerStatuses` (`state.running.startedAt`, `state.terminated.startedAt`
and `finishedAt`; a restarted container starts at its first recorded start). A container that
never started (waiting for its image) has no life. Deletion ends a container still running.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from costreport.engine.aggregate import sanitize_key
from costreport.model.lifecycle import ContainerLife

MAX_CONTAINERS = 64
"""Containers per pod beyond this are ignored (Kubernetes has no hard limit; none has more)."""
MAX_LABELS = 256
"""Labels (and annotations) kept per pod."""
MAX_VALUE = 1024
"""Characters kept of a label or annotation value."""

_QUANTITY = re.compile(r"^([+-]?[0-9.]+(?:[eE][+-]?[0-9]+)?)([a-zA-Z]{0,2})$")
_SUFFIX = {
    "": 1.0,
    "m": 1e-3,
    "k": 1e3,
    "M": 1e6,
    "G": 1e9,
    "T": 1e12,
    "P": 1e15,
    "Ki": 2.0**10,
    "Mi": 2.0**20,
    "Gi": 2.0**30,
    "Ti": 2.0**40,
    "Pi": 2.0**50,
}


def parse_quantity(text: Any) -> float:
    """A Kubernetes quantity (`250m`, `1.5`, `512Mi`, `1e3`) as a float; 0 if unreadable."""
    if isinstance(text, int | float):
        return float(text)
    if not isinstance(text, str) or len(text) > 64:
        return 0.0
    match = _QUANTITY.match(text.strip())
    if match is None or match.group(2) not in _SUFFIX:
        return 0.0
    try:
        value = float(match.group(1)) * _SUFFIX[match.group(2)]
    except ValueError:
        return 0.0
    return value if math.isfinite(value) and value >= 0 else 0.0


def parse_time(text: Any) -> float:
    """An RFC 3339 timestamp as unix seconds (nan when absent or unreadable)."""
    if not isinstance(text, str) or len(text) > 40:
        return math.nan
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return math.nan


def _strings(value: Any, clean: Callable[[Mapping[str, str]], Mapping[str, str]]) -> dict[str, str]:
    if not isinstance(value, dict):
        return {}
    out: dict[str, str] = {}
    for k, v in list(value.items())[:MAX_LABELS]:
        if isinstance(k, str) and isinstance(v, str):
            out[sanitize_key(k)] = v[:MAX_VALUE]
    return dict(clean(out))


def _owner(meta: Mapping[str, Any], labels: Mapping[str, str]) -> tuple[str, str]:
    owners = meta.get("ownerReferences")
    if not isinstance(owners, list):
        return "", ""
    chosen = next(
        (o for o in owners[:16] if isinstance(o, dict) and o.get("controller")),
        next((o for o in owners[:16] if isinstance(o, dict)), None),
    )
    if chosen is None:
        return "", ""
    kind, name = str(chosen.get("kind", ""))[:64], str(chosen.get("name", ""))[:253]
    template_hash = labels.get("pod_template_hash", "")
    if kind == "ReplicaSet" and template_hash and name.endswith("-" + template_hash):
        return "Deployment", name[: -len(template_hash) - 1]  # the Deployment that owns it
    return kind, name


def lives_of_pod(
    pod: Mapping[str, Any],
    *,
    cluster: str,
    observed: float,
    deleted: bool = False,
    clean: Callable[[Mapping[str, str]], Mapping[str, str]] = lambda labels: labels,
) -> list[ContainerLife]:
    """Every started container of the pod, as known at `observed` (deleted: at its deletion)."""
    meta = pod.get("metadata") if isinstance(pod.get("metadata"), dict) else {}
    spec = pod.get("spec") if isinstance(pod.get("spec"), dict) else {}
    status = pod.get("status") if isinstance(pod.get("status"), dict) else {}
    assert isinstance(meta, dict) and isinstance(spec, dict) and isinstance(status, dict)
    uid, namespace, name = meta.get("uid"), meta.get("namespace"), meta.get("name")
    if not (isinstance(uid, str) and isinstance(namespace, str) and isinstance(name, str)):
        return []
    node = spec.get("nodeName") if isinstance(spec.get("nodeName"), str) else ""
    labels = _strings(meta.get("labels"), clean)
    annotations = _strings(meta.get("annotations"), clean)
    kind, owner = _owner(meta, labels)
    requests: dict[str, tuple[float, float, float]] = {}
    containers = spec.get("containers")
    for c in (containers if isinstance(containers, list) else [])[:MAX_CONTAINERS]:
        if not isinstance(c, dict) or not isinstance(c.get("name"), str):
            continue
        resources = c.get("resources") if isinstance(c.get("resources"), dict) else {}
        assert isinstance(resources, dict)
        wanted = resources.get("requests") or resources.get("limits") or {}
        if not isinstance(wanted, dict):
            wanted = {}
        requests[c["name"]] = (
            parse_quantity(wanted.get("cpu", 0)),
            parse_quantity(wanted.get("memory", 0)),
            parse_quantity(wanted.get("nvidia.com/gpu", 0)),
        )
    deletion = parse_time(meta.get("deletionTimestamp"))
    out: list[ContainerLife] = []
    statuses = status.get("containerStatuses")
    for s in (statuses if isinstance(statuses, list) else [])[:MAX_CONTAINERS]:
        if not isinstance(s, dict) or s.get("name") not in requests:
            continue
        state = s.get("state") if isinstance(s.get("state"), dict) else {}
        last = s.get("lastState") if isinstance(s.get("lastState"), dict) else {}
        assert isinstance(state, dict) and isinstance(last, dict)
        running = state.get("running") if isinstance(state.get("running"), dict) else None
        terminated = state.get("terminated") if isinstance(state.get("terminated"), dict) else None
        before = last.get("terminated") if isinstance(last.get("terminated"), dict) else None
        starts = [
            parse_time(x.get("startedAt")) for x in (running, terminated, before) if x is not None
        ]
        start = min((t for t in starts if math.isfinite(t)), default=math.nan)
        if not math.isfinite(start):
            continue  # never started
        end = math.nan
        if terminated is not None and running is None:
            end = parse_time(terminated.get("finishedAt"))
        if not math.isfinite(end) and deleted:
            end = min(observed, deletion) if math.isfinite(deletion) else observed
        if math.isfinite(end) and end < start:
            end = start
        cpu, ram, gpu = requests[s["name"]]
        out.append(
            ContainerLife(
                cluster,
                namespace,
                name,
                uid,
                s["name"],
                node or "",
                start,
                end,
                observed,
                cpu,
                ram,
                gpu,
                kind,
                owner,
                labels,
                annotations,
            )
        )
    return out
