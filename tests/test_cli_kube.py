"""`--kube`: the kubeconfig finds costreport and a port-forward reaches it as the user.

The cluster is a fake API server at the HTTP level (there is none on these machines):
`/version`, Services and Pods by label selector, TokenReview/SubjectAccessReview, and the
pod port-forward websocket (`v4.channel.k8s.io` framing: a channel byte, the port first),
relaying to a real costreport API with `--auth kubernetes` and to its port-forward
listener. kr8s reads the kubeconfig, runs its exec credential plugin and does the forward.
"""

from __future__ import annotations

import asyncio
import json
import stat
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp import WSMsgType, web
from aiohttp.test_utils import TestServer

from costreport.api.app import ApiSettings, create_app
from costreport.api.auth import KubernetesAuth
from costreport.cli.kube import KubeTarget, choose, through_kube
from costreport.cli.main import run_query
from costreport.cli.options import build_parser
from costreport.model.errors import InvalidParameter, SourceUnavailable
from costreport.sources.kubernetes import KubeClient
from tests.api.conftest import TINY_DAY, TinySource
from tests.api.fake_kube import FakeKubeApi

API_PORT, LOOPBACK_PORT = 9003, 9004


def service(namespace: str = "finops", name: str = "cr-costreport") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": namespace,
                     "labels": {"app.kubernetes.io/name": "costreport"}},
        "spec": {"selector": {"app.kubernetes.io/name": "costreport"},
                 "ports": [{"name": "http", "port": 9003, "targetPort": "http"}]},
    }  # fmt: skip


def pod(name: str, ready: bool, loopback: bool = True) -> dict[str, Any]:
    args = ["serve", "--port=9003", *([f"--loopback-port={LOOPBACK_PORT}"] if loopback else [])]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "finops",
                     "labels": {"app.kubernetes.io/name": "costreport"}},
        "spec": {"containers": [
            {"name": "operator", "args": ["operator"]},
            {"name": "api", "args": args, "ports": [{"name": "http", "containerPort": API_PORT}]},
        ]},
        "status": {"phase": "Running",
                   "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]},
    }  # fmt: skip


class FakeCluster(FakeKubeApi):
    """Reviews (inherited), discovery by selector, and port-forwards to local ports."""

    def __init__(self, ports: dict[int, int]) -> None:
        super().__init__()
        self.ports = ports  # pod port → local port of the real listener
        self.forwards: list[tuple[str, int]] = []
        self.refuse: int | None = None  # the status the API server answers port-forwards with
        self.pods = [pod("cr-costreport-0", ready=False), pod("cr-costreport-1", ready=True)]
        r = self.app.router
        r.add_get("/version", self.version)
        r.add_get("/version/", self.version)  # kr8s asks with the slash
        r.add_get("/api/v1/services", self.services)
        r.add_get("/api/v1/namespaces/{ns}/services", self.services)
        r.add_get("/api/v1/namespaces/{ns}/pods", self.list_pods)
        r.add_get("/api/v1/namespaces/{ns}/pods/{name}", self.get_pod)
        r.add_get("/api/v1/namespaces/{ns}/pods/{name}/portforward", self.portforward)

    async def version(self, request: web.Request) -> web.Response:
        return web.json_response({"major": "1", "minor": "31", "gitVersion": "v1.31.0"})

    async def services(self, request: web.Request) -> web.Response:
        assert request.query["labelSelector"] == "app.kubernetes.io/name=costreport"
        found = [service()] if request.match_info.get("ns", "finops") == "finops" else []
        return web.json_response({"kind": "ServiceList", "apiVersion": "v1", "items": found})

    async def list_pods(self, request: web.Request) -> web.Response:
        return web.json_response({"kind": "PodList", "apiVersion": "v1", "items": self.pods})

    async def get_pod(self, request: web.Request) -> web.Response:
        [found] = [p for p in self.pods if p["metadata"]["name"] == request.match_info["name"]]
        return web.json_response(found)

    async def portforward(self, request: web.Request) -> web.StreamResponse:
        port = int(request.query["ports"])
        self.forwards.append((request.match_info["name"], port))
        if self.refuse is not None:
            body = {"kind": "Status", "code": self.refuse, "message": "refused"}
            return web.json_response(body, status=self.refuse)
        ws = web.WebSocketResponse(protocols=("v4.channel.k8s.io",))
        await ws.prepare(request)
        header = port.to_bytes(2, "little")
        await ws.send_bytes(b"\x00" + header)  # data channel, then error channel: the port
        await ws.send_bytes(b"\x01" + header)
        reader, writer = await asyncio.open_connection("127.0.0.1", self.ports[port])

        async def upstream() -> None:
            while data := await reader.read(65536):
                await ws.send_bytes(b"\x00" + data)
            await ws.close()

        pump = asyncio.create_task(upstream())
        async for message in ws:
            if message.type == WSMsgType.BINARY and message.data[:1] == b"\x00":
                writer.write(message.data[1:])
                await writer.drain()
        pump.cancel()
        writer.close()
        return ws


def kubeconfig(tmp_path: Path, server: str, user: dict[str, Any], name: str = "kubeconfig") -> str:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "fake", "cluster": {"server": server}}],
        "users": [{"name": "me", "user": user}],
        "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "me"}}],
        "current-context": "fake",
    }
    path = tmp_path / name
    path.write_text(yaml.safe_dump(config))
    return str(path)


def exec_plugin(tmp_path: Path, token: str) -> dict[str, Any]:
    """An exec credential plugin (as EKS/GKE/AKS kubeconfigs use) printing a token."""
    script = tmp_path / "credential"
    body = {"apiVersion": "client.authentication.k8s.io/v1beta1", "kind": "ExecCredential",
            "status": {"token": token}}  # fmt: skip
    script.write_text(f"#!{sys.executable}\nprint({json.dumps(json.dumps(body))})\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return {"exec": {"apiVersion": "client.authentication.k8s.io/v1beta1",
                     "command": str(script), "interactiveMode": "Never"}}  # fmt: skip


@pytest.fixture
async def cluster() -> Any:
    """A costreport API (auth kubernetes against the fake) and its loopback listener."""
    fake = FakeCluster({})
    kube_server = TestServer(fake.app)
    await kube_server.start_server()
    kube = KubeClient(f"http://127.0.0.1:{kube_server.port}", ssl_context=False)
    api = TestServer(create_app(TinySource(), ApiSettings(), None, KubernetesAuth(kube)))
    await api.start_server()
    admin = TestServer(create_app(TinySource(), ApiSettings(), None, None, loopback_only=True))
    await admin.start_server()
    fake.ports.update({API_PORT: api.port, LOOPBACK_PORT: admin.port})
    yield fake, f"http://127.0.0.1:{kube_server.port}", f"http://127.0.0.1:{api.port}"
    for server in (admin, api):
        await server.close()
    await kube.close()
    await kube_server.close()


def query(*argv: str) -> Any:
    return build_parser().parse_args(["query", "--window", TINY_DAY, "--aggregate", "namespace",
                                      *argv])  # fmt: skip


async def kube(args: Any) -> str:
    """What `costreport query --kube …` prints (main runs every command this way)."""
    return await through_kube(args, run_query)


async def test_kube_sends_the_exec_plugins_token_so_the_answer_is_the_users(
    cluster: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake, server, api = cluster
    config = kubeconfig(tmp_path, server, exec_plugin(tmp_path, "team-a-token"))
    token = tmp_path / "token"
    token.write_text("team-a-token")
    through_kube = await kube(query("--kube", "--kubeconfig", config))
    direct = await run_query(query("--api", api, "--token-file", str(token)))
    assert through_kube == direct
    admin = tmp_path / "admin"
    admin.write_text("admin-token")
    assert through_kube != await run_query(query("--api", api, "--token-file", str(admin)))
    # The ready pod, on its API port (the Service's named target port resolved).
    assert fake.forwards[0] == ("cr-costreport-1", API_PORT)
    assert "costreport: port-forward to finops/cr-costreport-1 with your token" in (
        capsys.readouterr().err
    )


async def test_kube_without_a_token_uses_the_port_forward_listener(
    cluster: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake, server, api = cluster
    config = kubeconfig(tmp_path, server, {})
    admin = tmp_path / "admin"
    admin.write_text("admin-token")
    through_kube = await kube(query("--kube", "--kubeconfig", config))
    assert through_kube == await run_query(query("--api", api, "--token-file", str(admin)))
    assert fake.forwards[0] == ("cr-costreport-1", LOOPBACK_PORT)
    assert "no bearer token in this kubeconfig user" in capsys.readouterr().err


async def test_kube_errors_are_clear(cluster: Any, tmp_path: Path) -> None:
    _, server, api = cluster
    config = kubeconfig(tmp_path, server, exec_plugin(tmp_path, "team-a-token"))
    with pytest.raises(SourceUnavailable) as none:
        await kube(query("--kube", "--kubeconfig", config, "--kube-namespace", "other"))
    assert none.value.reason == (
        "no costreport Service (label app.kubernetes.io/name=costreport) in namespace other "
        "of this kubeconfig's cluster"
    )
    with pytest.raises(InvalidParameter) as both:
        await kube(query("--kube", "--kubeconfig", config, "--api", api))
    assert both.value.message == (
        "invalid 'kube' parameter: '--api'; accepted: either --kube or --api, not both"
    )
    with pytest.raises(SourceUnavailable) as unreachable:
        dead = kubeconfig(tmp_path, "http://127.0.0.1:9", {"token": "t"}, "dead")
        await kube(query("--kube", "--kubeconfig", dead))
    assert unreachable.value.reason.startswith("--kube: ")


async def test_a_refused_port_forward_says_why_at_once(cluster: Any, tmp_path: Path) -> None:
    fake, server, _ = cluster
    config = kubeconfig(tmp_path, server, exec_plugin(tmp_path, "team-a-token"))
    fake.refuse = 403  # no create on pods/portforward
    with pytest.raises(SourceUnavailable) as forbidden:
        await kube(query("--kube", "--kubeconfig", config))
    assert forbidden.value.reason == (
        "--kube: the API server refused to port-forward to finops/cr-costreport-1 (HTTP 403 "
        "Forbidden): port-forwarding needs create on pods/portforward in namespace finops"
    )
    fake.refuse = 404  # e.g. the pod's node is gone
    with pytest.raises(SourceUnavailable) as missing:
        await kube(query("--kube", "--kubeconfig", config))
    assert missing.value.reason == (
        "--kube: the API server could not port-forward to finops/cr-costreport-1 "
        "(HTTP 404 Not Found)"
    )
    # asked once each time, not retried
    assert fake.forwards == [("cr-costreport-1", API_PORT)] * 2


async def test_no_kubeconfig_at_all_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.kube/config there
    with pytest.raises(InvalidParameter) as none:
        await kube(query("--kube"))
    assert none.value.message == (
        "invalid 'kubeconfig' parameter: ''; accepted: --kubeconfig FILE or env KUBECONFIG: "
        f"neither is set and {tmp_path}/.kube/config does not exist (an MCP client gives a "
        "server only the environment it is configured with)"
    )


def test_choosing_the_target() -> None:
    pods = {"finops/cr-costreport": [pod("b", True), pod("a", True), pod("c", False)]}
    assert choose([service()], pods, "tok", None) == KubeTarget(
        "finops", "cr-costreport", "a", API_PORT, "tok",
        "port-forward to finops/a with your token",
    )  # fmt: skip
    with pytest.raises(SourceUnavailable) as none_ready:
        choose([service()], {"finops/cr-costreport": [pod("c", False)]}, "tok", None)
    assert none_ready.value.reason == "the costreport Service finops/cr-costreport has no ready pod"
    with pytest.raises(InvalidParameter) as two:
        choose([service(), service("other")], pods, "tok", None)
    assert "finops/cr-costreport, other/cr-costreport" in two.value.message
    with pytest.raises(SourceUnavailable) as no_listener:
        choose([service()], {"finops/cr-costreport": [pod("a", True, loopback=False)]}, None, None)
    assert no_listener.value.reason.endswith("use --api URL with --token-file")


async def test_a_local_port_taken_in_between_is_retried_on_another() -> None:
    import errno
    from contextlib import AsyncExitStack, asynccontextmanager

    from costreport.cli.kube import _listen

    tried: list[int] = []

    @asynccontextmanager
    async def forward(local: int) -> Any:
        tried.append(local)
        if len(tried) == 1:
            raise OSError(errno.EADDRINUSE, "address already in use")
        yield local

    async with AsyncExitStack() as stack:
        assert await _listen(stack, forward) == tried[1]
    assert len(tried) == 2

    @asynccontextmanager
    async def always_taken(local: int) -> Any:
        tried.append(local)
        raise OSError(errno.EADDRINUSE, "address already in use")
        yield local

    tried.clear()
    with pytest.raises(OSError):
        async with AsyncExitStack() as stack:
            await _listen(stack, always_taken)
    assert len(tried) == 3
