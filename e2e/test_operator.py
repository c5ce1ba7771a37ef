"""The operator on a real cluster: CRDs, example reports, status, ConfigMaps, RBAC, cleanup."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from costreport.sources.kubernetes import KubeClient, KubeError
from e2e.conftest import OPERATOR_NAMESPACE, ROOT, api_path, apply, documents, wait_for

EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))
NAMESPACES = ("team-a", "e2e-other", OPERATOR_NAMESPACE)


async def install(kube: KubeClient) -> None:
    for crd in sorted((ROOT / "crds").glob("*.yaml")):
        for doc in documents(crd):
            await apply(kube, doc)

            async def established(name: str = doc["metadata"]["name"]) -> bool:
                got = await kube.request(
                    "GET", f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{name}"
                )
                return any(
                    c["type"] == "Established" and c["status"] == "True"
                    for c in (got.get("status") or {}).get("conditions") or []
                )

            await wait_for(established, timeout=60)
    for namespace in NAMESPACES:
        await apply(
            kube, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}
        )


def ready(obj: dict[str, Any]) -> bool:
    status = obj.get("status") or {}
    return status.get("observedGeneration") == obj["metadata"].get("generation") and any(
        c["type"] == "Ready" and c["status"] == "True" for c in status.get("conditions") or []
    )


async def test_example_reports_become_ready_with_results(
    kube: KubeClient, operator_process: Any
) -> None:
    await install(kube)
    reports = [doc for path in EXAMPLES for doc in documents(path)]
    assert reports, "examples/ has no reports"
    for doc in reports:
        await apply(kube, doc)
    for doc in reports:
        path = await api_path(kube, doc)

        async def is_ready(path: str = path) -> dict[str, Any] | None:
            got: dict[str, Any] = await kube.request("GET", path)
            return got if ready(got) else None

        obj = await wait_for(is_ready)
        status = obj["status"]
        assert float(status["totals"]["total"]) >= 0
        assert status["rowCount"] == len(status["topRows"]) or len(status["topRows"]) == 10
        assert status["idleHandling"] and status["sharingPolicy"]
        namespace = doc["metadata"].get("namespace", OPERATOR_NAMESPACE)
        for name in status["outputs"]:
            cm = await kube.request("GET", f"/api/v1/namespaces/{namespace}/configmaps/{name}")
            assert cm["metadata"]["ownerReferences"][0]["uid"] == obj["metadata"]["uid"]
            assert "app.kubernetes.io/managed-by" in cm["metadata"]["labels"]
            if "rows.json" in cm["data"]:
                assert isinstance(json.loads(cm["data"]["rows.json"]), list)


async def test_a_namespace_viewer_reads_only_its_namespace(
    kube: KubeClient, operator_process: Any
) -> None:
    await install(kube)
    view_role = ROOT / "e2e" / "aggregate-to-view.yaml"
    for doc in documents(view_role):
        await apply(kube, doc)
    await apply(
        kube,
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": "viewer", "namespace": "team-a"},
        },
    )
    await apply(
        kube,
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": "viewer-view", "namespace": "team-a"},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": "view",
            },
            "subjects": [{"kind": "ServiceAccount", "name": "viewer", "namespace": "team-a"}],
        },
    )
    token = (
        await kube.request(
            "POST",
            "/api/v1/namespaces/team-a/serviceaccounts/viewer/token",
            {
                "apiVersion": "authentication.k8s.io/v1",
                "kind": "TokenRequest",
                "spec": {"expirationSeconds": 600},
            },
        )
    )["status"]["token"]
    viewer = KubeClient(kube.server, token=token, ssl_context=kube.ssl)
    try:

        async def can_list(namespace: str) -> bool:
            try:
                await viewer.request(
                    "GET", f"/apis/costreport.io/v1alpha1/namespaces/{namespace}/costreports"
                )
                return True
            except KubeError as error:
                assert " 403 " in str(error)
                return False

        assert await wait_for(lambda: can_list("team-a"), timeout=30)  # aggregation is async
        assert not await can_list("e2e-other")
    finally:
        await viewer.close()


async def test_deleting_reports_cleans_up_even_without_the_operator(
    kube: KubeClient, operator_process: Any
) -> None:
    await install(kube)
    spec = {"window": "1d", "aggregate": ["namespace"], "schedule": "1h"}
    doc = {
        "apiVersion": "costreport.io/v1alpha1",
        "kind": "CostReport",
        "metadata": {"name": "short-lived", "namespace": "team-a"},
        "spec": spec,
    }
    await apply(kube, doc)

    path = await api_path(kube, doc)

    async def outputs() -> list[str] | None:
        got = await kube.request("GET", path)
        return (got.get("status") or {}).get("outputs") or None

    [cm_name] = await wait_for(outputs)
    assert not (await kube.request("GET", path))["metadata"].get("finalizers")
    await kube.request("DELETE", path)

    async def gone(path: str) -> bool:
        return await kube.request("GET", path, ok_missing=True) is None

    await wait_for(lambda: gone(path), timeout=20)
    await wait_for(lambda: gone(f"/api/v1/namespaces/team-a/configmaps/{cm_name}"), timeout=120)
    # With the operator stopped, deletion still completes at once (no finalizer to remove).
    operator_process.terminate()
    operator_process.wait(timeout=30)
    orphan_doc = {**doc, "metadata": {"name": "orphan", "namespace": "team-a"}}
    await apply(kube, orphan_doc)
    orphan = await api_path(kube, orphan_doc)
    await kube.request("DELETE", orphan)
    await wait_for(lambda: gone(orphan), timeout=20)


@pytest.fixture(scope="module", autouse=True)
def cleanup(connection: Any) -> Any:
    yield

    async def delete_namespaces() -> None:
        client = KubeClient.from_connection(connection)
        try:
            for namespace in ("e2e-other", OPERATOR_NAMESPACE):
                await client.request("DELETE", f"/api/v1/namespaces/{namespace}", ok_missing=True)
        finally:
            await client.close()

    asyncio.run(delete_namespaces())
