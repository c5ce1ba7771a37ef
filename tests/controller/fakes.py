"""A fake Kubernetes API recording the operator's calls, and report objects."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from costreport.model.report import ReportRef

TINY_DAY = "2026-11-01T00:00:00Z,2026-11-02T00:00:00Z"


class FakeKube:
    """Stores ConfigMaps and status patches like an API server would."""

    def __init__(self) -> None:
        self.status: dict[str, dict[str, Any]] = {}
        self.status_patches: list[tuple[str, dict[str, Any]]] = []
        self.configmaps: dict[tuple[str, str], dict[str, Any]] = {}
        self.events: list[tuple[str, str, str, str]] = []

    async def patch_status(self, ref: ReportRef, status: Mapping[str, Any]) -> None:
        self.status_patches.append((ref.key, dict(status)))
        self.status.setdefault(ref.key, {}).update(status)

    async def apply_configmap(self, manifest: Mapping[str, Any]) -> None:
        meta = manifest["metadata"]
        self.configmaps[(meta["namespace"], meta["name"])] = dict(manifest)

    async def delete_configmap(self, namespace: str, name: str) -> None:
        self.configmaps.pop((namespace, name), None)

    async def post_event(
        self, ref: ReportRef, uid: str, type_: str, reason: str, message: str
    ) -> bool:
        self.events.append((ref.key, type_, reason, message))
        return True


def report(
    name: str,
    spec: dict[str, Any],
    *,
    namespace: str | None = "a",
    generation: int = 1,
    status: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A CostReport (namespaced) or ClusterCostReport (namespace None) object."""
    meta: dict[str, Any] = {"name": name, "uid": f"uid-{name}", "generation": generation}
    if namespace is not None:
        meta["namespace"] = namespace
    return {
        "apiVersion": "costreport.io/v1alpha1",
        "kind": "CostReport" if namespace is not None else "ClusterCostReport",
        "metadata": meta,
        "spec": spec,
        "status": status or {},
    }
