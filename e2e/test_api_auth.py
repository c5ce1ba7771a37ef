"""The API's Kubernetes authentication against a real API server: two service accounts,
one allowed to read namespace team-a's allocations, one allowed nothing."""

from __future__ import annotations

import os
import subprocess
import time
import urllib.error
import urllib.request
from typing import Any

from costreport.sources.kubernetes import KubeClient
from e2e.conftest import BIN, apply, free_port


async def token_for(kube: KubeClient, namespace: str, name: str) -> str:
    await apply(
        kube,
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": name, "namespace": namespace},
        },
    )
    answer = await kube.request(
        "POST",
        f"/api/v1/namespaces/{namespace}/serviceaccounts/{name}/token",
        {
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenRequest",
            "spec": {"expirationSeconds": 600},
        },
    )
    token: str = answer["status"]["token"]
    return token


def get(url: str, token: str | None) -> tuple[int, bytes]:
    request = urllib.request.Request(url)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def wait_healthy(base: str, timeout: float = 60.0) -> None:
    """Until `serve` answers /healthz (connection refused while it starts)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if get(base + "/healthz", None)[0] == 200:
                return
        except (urllib.error.URLError, ConnectionError):
            pass
        assert time.monotonic() < deadline, f"{base} did not become healthy in {timeout} s"
        time.sleep(0.5)


async def test_tokens_of_two_service_accounts(kube: KubeClient, connection: Any) -> None:
    for namespace in ("team-a", "e2e-other"):
        await apply(
            kube, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}
        )
    await apply(
        kube,
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": {"name": "read-allocations", "namespace": "team-a"},
            "rules": [
                {"apiGroups": ["costreport.io"], "resources": ["allocations"], "verbs": ["get"]}
            ],
        },
    )
    await apply(
        kube,
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": "reader", "namespace": "team-a"},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "Role",
                "name": "read-allocations",
            },
            "subjects": [{"kind": "ServiceAccount", "name": "reader", "namespace": "team-a"}],
        },
    )
    reader = await token_for(kube, "team-a", "reader")
    stranger = await token_for(kube, "e2e-other", "stranger")
    port = free_port()
    process = subprocess.Popen(
        [str(BIN), "serve", "--auth", "kubernetes", "--port", str(port), "--cluster-id", "e2e"],
        env={**os.environ},
    )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_healthy(base)
        url = base + "/allocation?window=7d&aggregate=namespace"
        assert get(url, None)[0] == 401
        assert get(url, "not-a-token")[0] == 401
        assert get(url, stranger)[0] == 403
        status, body = get(url, reader)
        # The sample source has a namespace team-a: the reader sees it and nothing else.
        assert status == 200, body
        assert b'"team-a"' in body and b'"team-b"' not in body
        assert get(base + "/assets?window=7d", reader)[0] == 403
    finally:
        process.terminate()
        process.wait(timeout=30)
