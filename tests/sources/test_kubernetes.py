"""The Kubernetes client's requests, checked against a fake API server recording them."""

from __future__ import annotations

import json
import logging
import re
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
        if request.path.endswith("/forbidden") or "/namespaces/denied/" in request.path:
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
    # named like client-go's recorder names events: a valid DNS subdomain, no generateName
    assert re.fullmatch(r"weekly\.[0-9a-f]{16,}", event["metadata"]["name"])
    assert "generateName" not in event["metadata"]
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


async def test_a_refused_event_is_logged_not_raised(
    kube: Any, caplog: pytest.LogCaptureFixture
) -> None:
    client, recorder = kube
    ref = ReportRef("CostBudget", "denied", "monthly")
    with caplog.at_level(logging.WARNING, logger="costreport.kubernetes"):
        assert await client.post_event(ref, "uid-2", "Normal", "ThresholdReached50", "x") is False
    assert recorder.requests[0][:2] == ("POST", "/api/v1/namespaces/denied/events")
    [record] = caplog.records
    assert record.getMessage() == "event not posted"
    assert record.context["report"] == "denied/monthly"  # type: ignore[attr-defined]
    assert "403" in record.context["error"]  # type: ignore[attr-defined]
    ok = ReportRef("CostReport", "a", "weekly")
    assert await client.post_event(ok, "uid-1", "Normal", "Recovered", "y") is True


async def test_errors_carry_the_api_answer(kube: Any) -> None:
    client, _ = kube
    with pytest.raises(KubeError, match="GET /forbidden: 403"):
        await client.request("GET", "/forbidden")
    assert await client.get_configmap("a", "missing") == {"ok": True}


class WatchServer:
    """Serves a pod list and a chunked watch stream the way the API server does."""

    def __init__(self, chunks: list[bytes], status: int = 200) -> None:
        self.chunks, self.status = chunks, status
        self.paths: list[str] = []
        self.app = web.Application()
        self.app.router.add_get("/api/v1/pods", self.handle)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.paths.append(request.path_qs)
        if "watch" not in request.query:
            return web.json_response({"metadata": {"resourceVersion": "7"}, "items": []})
        if self.status != 200:
            return web.json_response({"kind": "Status", "code": self.status}, status=self.status)
        response = web.StreamResponse()
        await response.prepare(request)
        for chunk in self.chunks:
            await response.write(chunk)
        await response.write_eof()
        return response


async def watch_events(
    server_chunks: list[bytes], status: int = 200
) -> tuple[list[Any], list[str]]:
    fake = WatchServer(server_chunks, status)
    server = TestServer(fake.app)
    await server.start_server()
    client = KubeClient(f"http://127.0.0.1:{server.port}", token="tok", ssl_context=False)
    try:
        events = [e async for e in client.watch_pods("7", 60)]
    finally:
        await client.close()
        await server.close()
    return events, fake.paths


async def test_a_watch_stream_is_split_into_events_whatever_the_chunking() -> None:
    one = b'{"type":"ADDED","object":{"metadata":{"name":"a","resourceVersion":"8"}}}\n'
    two = b'{"type":"BOOKMARK","object":{"metadata":{"resourceVersion":"9"}}}\n'
    events, paths = await watch_events([one[:10], one[10:] + two[:5], two[5:]])
    assert [e["type"] for e in events] == ["ADDED", "BOOKMARK"]
    assert paths == [
        "/api/v1/pods?watch=1&allowWatchBookmarks=true&resourceVersion=7&timeoutSeconds=60"
    ]


async def test_a_watch_answering_410_is_gone() -> None:
    from costreport.sources.kubernetes import WatchGone

    with pytest.raises(WatchGone):
        await watch_events([], status=410)


async def test_a_watch_event_over_the_limit_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import costreport.sources.kubernetes as kubernetes

    monkeypatch.setattr(kubernetes, "MAX_EVENT_BYTES", 100)
    with pytest.raises(KubeError, match="a watch event over 100 bytes"):
        await watch_events([b'{"type":"ADDED","object":{"x":"' + b"y" * 200])
