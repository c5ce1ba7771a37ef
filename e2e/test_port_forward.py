"""Reaching costreport through a port-forward, as its users do: `costreport query --kube`
(kr8s, WebSocket) with and without a bearer token, and kubectl-cost's default mode (client-go,
SPDY) when its binary is installed.

A port-forward goes through the API server to the kubelet running the pod. No pod runs in
these tests: a `costreport serve` started here stands in for the pod, and the test creates a
Service and a Pod (bound to a node that does not exist, so no kubelet ever takes it) whose
ports are that process's ports, and marks the Pod Ready itself. So on a real cluster there is
nothing to forward to and the tests are skipped saying so; the development harness
(`e2e/harness`) forwards a pod's port P to this host's port P, and there they run.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from costreport.sources.kubernetes import KubeClient
from e2e.conftest import BIN, apply, free_port, namespace_for_pods
from e2e.test_api_auth import token_for, wait_healthy

NAMESPACE = "costreport-forward"
POD = "costreport-e2e-0"
LABELS = {"app.kubernetes.io/name": "costreport", "app.kubernetes.io/instance": "e2e-forward"}
WINDOW = "yesterday"  # closed, so two answers a few seconds apart are the same


@pytest.fixture(scope="module")
def stand_in(connection: Any) -> Iterator[tuple[int, int]]:
    """(API port, port-forward listener port) of a `costreport serve` standing in for the pod."""
    api, loopback = free_port(), free_port()
    command = [str(BIN), "serve", "--auth", "kubernetes", "--port", str(api),
               "--loopback-port", str(loopback), "--cluster-id", "e2e"]  # fmt: skip
    process = subprocess.Popen(command, env={**os.environ})
    try:
        wait_healthy(f"http://127.0.0.1:{api}")
        yield api, loopback
    finally:
        process.terminate()
        process.wait(timeout=30)


async def stand_in_pod(kube: KubeClient, api: int, loopback: int) -> None:
    """The costreport Service and a Ready pod behind it with the stand-in's ports."""
    await namespace_for_pods(kube, NAMESPACE)
    await apply(kube, {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "costreport", "namespace": NAMESPACE, "labels": LABELS},
        "spec": {"selector": LABELS,
                 "ports": [{"name": "http", "port": 9003, "targetPort": "http"}]},
    })  # fmt: skip
    await apply(kube, {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": POD, "namespace": NAMESPACE, "labels": LABELS},
        "spec": {
            "nodeName": "e2e-no-such-node",
            "containers": [{
                "name": "costreport", "image": "costreport:e2e-never-pulled",
                "args": ["serve", f"--loopback-port={loopback}"],
                "ports": [{"name": "http", "containerPort": api}],
            }],
        },
    })  # fmt: skip
    await kube.request(
        "PATCH",
        f"/api/v1/namespaces/{NAMESPACE}/pods/{POD}/status",
        {"status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}},
        "application/merge-patch+json",
    )


async def skip_unless_forwarding(loopback: int) -> None:
    """Skip unless a port-forward to the stand-in pod reaches the stand-in process."""
    import httpx
    import kr8s.asyncio
    from kr8s.asyncio.objects import Pod
    from kr8s.asyncio.portforward import PortForward

    from costreport.cli.kube import check_forward
    from costreport.model.errors import SourceUnavailable

    try:
        api = await kr8s.asyncio.api()
        pod = await Pod.get(POD, namespace=NAMESPACE, api=api)
        await check_forward(api, pod, loopback)  # the API server's own reason, at once
        async with (
            PortForward(pod, loopback, local_port=free_port()) as local,
            httpx.AsyncClient(timeout=10) as client,
        ):
            answer = await client.get(f"http://127.0.0.1:{local}/healthz")
            answer.raise_for_status()
    except SourceUnavailable as error:
        pytest.skip(
            "a port-forward needs a kubelet running the pod, and no pod runs in e2e/: "
            f"{error.reason}; e2e/harness forwards pod ports to this host"
        )
    except Exception as error:
        pytest.skip(
            "a port-forward needs a kubelet running the pod, and no pod runs in e2e/: this "
            f"cluster forwarded nothing to the stand-in ({type(error).__name__}: {error}); "
            "e2e/harness forwards pod ports to this host"
        )


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args, capture_output=True, text=True, timeout=120, env={**os.environ, **(env or {})}
    )


def query(*extra: str) -> list[str]:
    return [str(BIN), "query", "--window", WINDOW, "--aggregate", "namespace",
            "--format", "json", *extra]  # fmt: skip


def token_kubeconfig(connection: Any, token: str, path: Path) -> str:
    """The cluster of the e2e kubeconfig with a bearer-token user."""
    cluster: dict[str, Any] = {"server": connection.server}
    if connection.ca_data:  # kopf keeps the kubeconfig's own text: base64, or PEM
        data = connection.ca_data
        pem = data.encode() if isinstance(data, str) else data
        if not pem.startswith(b"-----BEGIN "):
            pem = base64.b64decode(pem)
        cluster["certificate-authority-data"] = base64.b64encode(pem).decode()
    elif connection.ca_path:
        cluster["certificate-authority"] = os.fsdecode(connection.ca_path)
    if connection.insecure:
        cluster["insecure-skip-tls-verify"] = True
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": "e2e", "cluster": cluster}],
        "users": [{"name": "viewer", "user": {"token": token}}],
        "contexts": [{"name": "e2e", "context": {"cluster": "e2e", "user": "viewer"}}],
        "current-context": "e2e",
    }))  # fmt: skip
    return str(path)


async def test_kube_reaches_costreport_through_a_port_forward(
    kube: KubeClient, stand_in: tuple[int, int]
) -> None:
    api, loopback = stand_in
    await stand_in_pod(kube, api, loopback)
    await skip_unless_forwarding(loopback)
    through_kube = run(*query("--kube", "--kube-namespace", NAMESPACE))
    assert through_kube.returncode == 0, through_kube.stderr
    direct = run(*query("--api", f"http://127.0.0.1:{loopback}"))
    assert direct.returncode == 0, direct.stderr
    # The same answer as asking the listener directly: the kubeconfig user is the admin, so
    # with or without a token in it the view is cluster-wide.
    assert through_kube.stdout == direct.stdout
    assert f"costreport: port-forward to {NAMESPACE}/{POD}" in through_kube.stderr
    assert len(json.loads(direct.stdout)["data"][0]) > 2


async def bind(kube: KubeClient, namespace: str, name: str, rules: list[Any], user: str) -> None:
    """A Role of these rules in the namespace, bound to ServiceAccount team-a/USER."""
    rbac = "rbac.authorization.k8s.io/v1"
    await apply(
        kube,
        {
            "apiVersion": rbac,
            "kind": "Role",
            "metadata": {"name": name, "namespace": namespace},
            "rules": rules,
        },
    )
    await apply(kube, {
        "apiVersion": rbac, "kind": "RoleBinding",
        "metadata": {"name": name, "namespace": namespace},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
        "subjects": [{"kind": "ServiceAccount", "name": user, "namespace": "team-a"}],
    })  # fmt: skip


FIND = {"apiGroups": [""], "resources": ["services", "pods"], "verbs": ["get", "list"]}
FORWARD = {"apiGroups": [""], "resources": ["pods/portforward"], "verbs": ["get", "create"]}
ALLOCATIONS = {"apiGroups": ["costreport.io"], "resources": ["allocations"], "verbs": ["get"]}


async def test_kube_without_port_forward_rbac_says_so(
    kube: KubeClient, connection: Any, stand_in: tuple[int, int], tmp_path: Path
) -> None:
    # No kubelet is needed: the API server refuses before it would ask one.
    api, loopback = stand_in
    await stand_in_pod(kube, api, loopback)
    await apply(kube, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-a"}})
    await bind(kube, NAMESPACE, "e2e-forward-finder", [FIND], "finder")
    token = await token_for(kube, "team-a", "finder")
    config = token_kubeconfig(connection, token, tmp_path / "kubeconfig")
    refused = run(*query("--kube", "--kubeconfig", config, "--kube-namespace", NAMESPACE))
    assert refused.returncode == 3, refused.stderr
    assert refused.stderr.strip().endswith(
        f"costreport: source unavailable: --kube: the API server refused to port-forward to "
        f"{NAMESPACE}/{POD} (HTTP 403 Forbidden): port-forwarding needs create on "
        f"pods/portforward in namespace {NAMESPACE}"
    )


async def test_kube_with_a_token_is_scoped_by_that_token(
    kube: KubeClient, connection: Any, stand_in: tuple[int, int], tmp_path: Path
) -> None:
    api, loopback = stand_in
    await stand_in_pod(kube, api, loopback)
    await skip_unless_forwarding(loopback)
    await apply(kube, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-a"}})
    await bind(kube, "team-a", "e2e-forward-viewer", [ALLOCATIONS], "viewer")
    await bind(kube, NAMESPACE, "e2e-forward-viewer", [FIND, FORWARD], "viewer")
    token = await token_for(kube, "team-a", "viewer")
    config = token_kubeconfig(connection, token, tmp_path / "kubeconfig")
    (tmp_path / "token").write_text(token)
    through_kube = run(*query("--kube", "--kubeconfig", config, "--kube-namespace", NAMESPACE))
    assert through_kube.returncode == 0, through_kube.stderr
    token_file = str(tmp_path / "token")
    direct = run(*query("--api", f"http://127.0.0.1:{api}", "--token-file", token_file))
    assert direct.returncode == 0, direct.stderr
    assert through_kube.stdout == direct.stdout
    assert f"costreport: port-forward to {NAMESPACE}/{POD} with your token" in through_kube.stderr
    # the token's RBAC, not the port-forward's: team-a alone
    assert sorted(json.loads(through_kube.stdout)["data"][0]) == ["team-a"]


def kubectl_cost() -> str:
    found = os.environ.get("KUBECTL_COST") or shutil.which("kubectl-cost")
    if not found:
        pytest.skip("kubectl-cost is not installed (put it on PATH or set KUBECTL_COST)")
    return found


def table(stdout: str, columns: int) -> dict[str, float]:
    """{second column: third column} of kubectl-cost's table rows with a cost in the third."""
    rows = {}
    for line in stdout.splitlines():
        cells = [cell.strip() for cell in line.split("|")[1:-1]]
        if len(cells) == columns and cells[1] and re.fullmatch(r"[0-9.]+", cells[2]):
            rows[cells[1]] = float(cells[2])
    return rows


def answer(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=30) as response:
        return json.loads(response.read())["data"]


async def test_kubectl_cost_port_forwards_to_the_listener(
    kube: KubeClient, stand_in: tuple[int, int]
) -> None:
    binary = kubectl_cost()
    api, loopback = stand_in
    await stand_in_pod(kube, api, loopback)
    await skip_unless_forwarding(loopback)
    where = ["--window", WINDOW, "--historical", "-N", NAMESPACE, "--service-name",
             "costreport", "--service-port", str(loopback)]  # fmt: skip
    shown = run(binary, "namespace", *where, "--allocation-path", "/allocation/compute")
    assert shown.returncode == 0, shown.stdout + shown.stderr
    # | CLUSTER | NAMESPACE | TOTAL COST (ALL) | COST EFFICIENCY |
    rows = table(shown.stdout, 4)
    base = f"http://127.0.0.1:{loopback}"
    data = answer(f"{base}/allocation/compute?window={WINDOW}&aggregate=namespace"
                  "&accumulate=true&includeIdle=true")[0]  # fmt: skip
    expected = {name: row["totalCost"] for name, row in data.items()}
    assert rows.keys() == expected.keys()
    for name, cost in expected.items():
        assert rows[name] == pytest.approx(cost, abs=1e-6), name
    # `node` reads /model/assets in Kubecost's form (filterTypes=Node, a list of sets)
    nodes = run(binary, "node", *where)
    assert nodes.returncode == 0, nodes.stdout + nodes.stderr
    assets = answer(f"{base}/assets?window={WINDOW}&filter=assetType:%22node%22")
    assert table(nodes.stdout, 3) == pytest.approx(
        {a["properties"]["name"]: a["totalCost"] for a in assets.values()}, abs=1e-6
    )
    assert len(assets) > 1
