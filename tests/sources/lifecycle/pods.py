"""Pod objects as the API serves them, built by hand for lifecycle tests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC).timestamp()


def stamp(ts: float) -> str:
    """RFC 3339 as the API writes it."""
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def pod(
    name: str,
    *,
    uid: str | None = None,
    namespace: str = "batch",
    node: str = "node-a",
    containers: dict[str, dict[str, Any]] | None = None,
    requests: dict[str, dict[str, str]] | None = None,
    labels: dict[str, str] | None = None,
    owner: tuple[str, str] | None = None,
    deletion: float | None = None,
    version: str = "1",
) -> dict[str, Any]:
    """A pod; `containers` maps a name to its status `state` (and optional `lastState`)."""
    containers = containers if containers is not None else {"main": {}}
    requests = requests or {}
    meta: dict[str, Any] = {
        "name": name,
        "namespace": namespace,
        "uid": uid or f"uid-{name}",
        "resourceVersion": version,
        "labels": labels or {},
    }
    if owner is not None:
        meta["ownerReferences"] = [{"kind": owner[0], "name": owner[1], "controller": True}]
    if deletion is not None:
        meta["deletionTimestamp"] = stamp(deletion)
    return {
        "metadata": meta,
        "spec": {
            "nodeName": node,
            "containers": [
                {"name": c, "resources": {"requests": requests.get(c, {})}} for c in containers
            ],
        },
        "status": {
            "containerStatuses": [
                {"name": c, "state": s.get("state", {}), "lastState": s.get("lastState", {})}
                for c, s in containers.items()
            ]
        },
    }


def running(since: float) -> dict[str, Any]:
    """A container status running since `since`."""
    return {"state": {"running": {"startedAt": stamp(since)}}}


def finished(start: float, end: float) -> dict[str, Any]:
    """A container status terminated."""
    return {"state": {"terminated": {"startedAt": stamp(start), "finishedAt": stamp(end)}}}
