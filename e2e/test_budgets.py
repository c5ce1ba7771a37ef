"""Budgets on a real API server: the CRDs admit a budget, the operator evaluates it."""

from __future__ import annotations

from typing import Any

from costreport.sources.kubernetes import KubeClient, KubeError
from e2e.conftest import apply, wait_for
from e2e.test_operator import install


async def test_a_costbudget_is_evaluated_and_sharing_is_refused(
    kube: KubeClient, operator_process: Any
) -> None:
    await install(kube)
    budget = {
        "apiVersion": "costreport.io/v1alpha1",
        "kind": "CostBudget",
        "metadata": {"name": "e2e-monthly", "namespace": "team-a"},
        "spec": {"amount": "0.01", "period": "month", "thresholds": [50, 100]},
    }
    await apply(kube, budget)
    path = "/apis/costreport.io/v1alpha1/namespaces/team-a/costbudgets/e2e-monthly"

    async def evaluated() -> dict[str, Any] | None:
        got = await kube.request("GET", path)
        status = got.get("status") or {}
        ready = [c for c in status.get("conditions") or [] if c["type"] == "Ready"]
        return status if ready and ready[0]["status"] == "True" and status.get("spent") else None

    status = await wait_for(evaluated, timeout=180)
    assert status["period"]["start"].endswith("-01T00:00:00Z")
    assert {c["type"] for c in status["conditions"]} == {
        "Ready",
        "WithinBudget",
        "ForecastWithinBudget",
    }
    if float(status["spent"]) >= 0.01:  # the sample costs more than a cent a month
        assert status["thresholdsReached"] == [50, 100]
    bad = {**budget, "metadata": {"name": "e2e-sharing", "namespace": "team-a"}}
    bad["spec"] = {"amount": "1", "sharing": {"namespaces": ["kube-system"]}}
    try:
        await apply(kube, bad)
    except KubeError as error:
        assert "only allowed in a ClusterCostBudget" in str(error)
    else:
        raise AssertionError("a CostBudget with sharing was admitted")
    await kube.request("DELETE", path, ok_missing=True)
