"""The CRDs on a real API server: what `kubectl explain` reads, and what admission refuses."""

from __future__ import annotations

from typing import Any

import pytest

from costreport.model.report import PLURALS
from costreport.sources.kubernetes import KubeClient, KubeError
from e2e.conftest import wait_for
from e2e.test_operator import install

KINDS = tuple(PLURALS)  # CostReport, ClusterCostReport, CostBudget, ClusterCostBudget


def undocumented(schema: dict[str, Any], path: str) -> list[str]:
    """Fields below spec and status without a description (what `kubectl explain` prints)."""
    missing = []
    for name, sub in (schema.get("properties") or {}).items():
        here = f"{path}.{name}"
        described = sub.get("description") or any(
            part.get("description") for part in sub.get("allOf") or []
        )
        if not described and here.count(".") > 1:
            missing.append(here)
        missing += undocumented(sub, here)
    items = schema.get("items")
    if isinstance(items, dict):
        missing += undocumented(items, path + "[]")
    extra = schema.get("additionalProperties")
    if isinstance(extra, dict):
        missing += undocumented(extra, path + "{}")
    return missing


async def test_every_field_is_documented_in_the_served_openapi(kube: KubeClient) -> None:
    await install(kube)

    async def published() -> dict[str, Any] | None:
        document = await kube.request("GET", "/openapi/v3/apis/costreport.io/v1alpha1")
        schemas = (document or {}).get("components", {}).get("schemas", {})
        names = {f"io.costreport.v1alpha1.{kind}" for kind in KINDS}
        return schemas if names <= set(schemas) else None

    schemas = await wait_for(published, timeout=60)
    for kind in KINDS:
        schema = schemas[f"io.costreport.v1alpha1.{kind}"]
        assert schema["properties"]["spec"]["description"], kind
        assert undocumented(schema, kind) == [], kind


GOOD_AND_BAD: list[tuple[str, dict[str, Any], str | None]] = [
    ("CostReport", {"window": "7d"}, None),
    ("CostReport", {"window": "7d", "sharing": {"namespaces": ["kube-system"]}},
     "spec.sharing is only allowed in a ClusterCostReport"),
    ("ClusterCostReport", {"window": "7d", "sharing": {"namespaces": ["kube-system"]}}, None),
    ("ClusterCostReport", {"window": "7d", "idle": {"mode": "exclude", "byNode": True}},
     "idle.byNode needs idle.mode separate or share"),
    ("ClusterCostReport", {"window": "7d", "sharing": {"split": "even"}},
     "sharing.split needs something to share"),
    ("CostReport", {"window": "7d", "accumulate": "quarterly"}, "spec.accumulate"),
    ("CostBudget", {"amount": "100", "period": "month"}, None),
    ("CostBudget", {"amount": "100", "sharing": {"namespaces": ["kube-system"]}},
     "spec.sharing is only allowed in a ClusterCostBudget"),
    ("ClusterCostBudget", {"amount": "100", "filter": 'label[team]:"payments"'}, None),
    ("CostBudget", {"amount": "lots"}, "spec.amount"),
    ("CostBudget", {"amount": "100", "period": "year"}, "spec.period"),
    ("CostBudget", {"period": "month"}, "spec.amount"),
    ("CostBudget", {"amount": "100", "thresholds": [0]}, "spec.thresholds[0]"),
    ("CostBudget", {"amount": "100", "utcOffset": "CET"}, "spec.utcOffset"),
]  # fmt: skip


@pytest.mark.parametrize(("kind", "spec", "refusal"), GOOD_AND_BAD)
async def test_admission(
    kube: KubeClient, kind: str, spec: dict[str, Any], refusal: str | None
) -> None:
    await install(kube)
    scope = "" if kind.startswith("Cluster") else "/namespaces/team-a"
    obj = {
        "apiVersion": "costreport.io/v1alpha1",
        "kind": kind,
        "metadata": {"name": "e2e-admission"},
        "spec": spec,
    }
    path = f"/apis/costreport.io/v1alpha1{scope}/{PLURALS[kind]}?dryRun=All"
    try:
        await kube.request("POST", path, obj)
    except KubeError as error:
        assert refusal is not None, f"refused: {error}"
        assert " 422 " in str(error) and refusal in str(error)
    else:
        assert refusal is None, f"admitted, expected a refusal naming {refusal!r}"
