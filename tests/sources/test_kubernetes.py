"""The Kubernetes client's requests, checked against a fake API server recording them."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from costreport.model.report import ReportRef
from costreport.sources.kubernetes import KubeClient, KubeError


class Recorder:
    def __init__(self) -> None:
        self.requests: list[tuple[str, str, str, Any]] = []
        self.app = web.Application()
        self.app.router.add_route("*", "/{tail:.*}", self.handle)

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.text()
        self.requests.append(
            (
                request.method,
                request.path_qs,
                request.headers.get("Content-Type", ""),
                json.loads(body) if body else None,
            )
        )
        if request.method == "DELETE" and request.path.endswith("/missing"):
            return web.json_response({"kind": "Status", "code": 404}, status=404)
        if request.path.endswith("/forbidden"):
            return web.json_response({"message": "nope"}, status=403)
        return web.json_response({"ok": True})


@pytest.fixture
async def kube() -> Any:
    recorder = Recorder()
    server = TestServer(recorder.app)
    await server.start_server()
    client = KubeClient(f"http://127.0.0.1:{server.port}", token="tok", ssl_context=False)
    yield client, recorder
    await client.close()
    await server.close()


async def test_status_patch_is_a_merge_patch_on_the_subresource(kube: Any) -> None:
    client, recorder = kube
    await client.patch_status(ReportRef("CostReport", "a", "weekly"), {"rowCount": 3})
    await client.patch_status(ReportRef("ClusterCostReport", None, "daily"), {"rowCount": 1})
    assert recorder.requests == [
        (
            "PATCH",
            "/apis/costreport.io/v1alpha1/namespaces/a/costreports/weekly/status",
            "application/merge-patch+json",
            {"status": {"rowCount": 3}},
        ),
        (
            "PATCH",
            "/apis/costreport.io/v1alpha1/clustercostreports/daily/status",
            "application/merge-patch+json",
            {"status": {"rowCount": 1}},
        ),
    ]


async def test_configmaps_use_server_side_apply_and_delete_tolerates_absence(kube: Any) -> None:
    client, recorder = kube
    manifest = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "weekly-costreport", "namespace": "a"},
        "data": {"x": "1"},
    }
    await client.apply_configmap(manifest)
    await client.delete_configmap("a", "missing")
    method, path, content_type, body = recorder.requests[0]
    assert (method, content_type, body) == ("PATCH", "application/apply-patch+yaml", manifest)
    assert (
        path
        == "/api/v1/namespaces/a/configmaps/weekly-costreport?fieldManager=costreport&force=true"
    )
    assert recorder.requests[1][:2] == ("DELETE", "/api/v1/namespaces/a/configmaps/missing")


async def test_events_name_the_report(kube: Any) -> None:
    client, recorder = kube
    await client.post_event(
        ReportRef("CostReport", "a", "weekly"),
        "uid-1",
        "Warning",
        "PrometheusUnavailable",
        "timed out",
    )
    method, path, _, event = recorder.requests[0]
    assert (method, path) == ("POST", "/api/v1/namespaces/a/events")
    assert event["involvedObject"] == {
        "apiVersion": "costreport.io/v1alpha1",
        "kind": "CostReport",
        "name": "weekly",
        "namespace": "a",
        "uid": "uid-1",
    }
    assert (event["type"], event["reason"], event["message"]) == (
        "Warning",
        "PrometheusUnavailable",
        "timed out",
    )


async def test_errors_carry_the_api_answer(kube: Any) -> None:
    client, _ = kube
    with pytest.raises(KubeError, match="GET /forbidden: 403"):
        await client.request("GET", "/forbidden")
    assert await client.get_configmap("a", "missing") == {"ok": True}
