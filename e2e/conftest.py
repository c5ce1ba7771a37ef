"""End-to-end tests against the cluster in KUBECONFIG; skipped with a reason without one.

They install the CRDs, run `costreport operator --source sample` as a local process against
the cluster, apply the reports in `examples/`, and check what users see.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import kopf
import pytest
import yaml

from costreport.sources.kubernetes import KubeClient, KubeError

ROOT = Path(__file__).resolve().parents[1]
OPERATOR_NAMESPACE = "costreport-e2e"
BIN = Path(sys.executable).parent / "costreport"


def _connection() -> Any:
    settings = kopf.OperatorSettings()
    try:
        return kopf.login_with_kubeconfig(settings=settings)
    except Exception as error:  # a broken kubeconfig is also "no cluster"
        pytest.skip(f"no usable KUBECONFIG ({error}); e2e needs a real cluster")


@pytest.fixture(scope="session")
def connection() -> Any:
    if not os.environ.get("KUBECONFIG") and not (Path.home() / ".kube" / "config").exists():
        pytest.skip("no cluster: set KUBECONFIG to a reachable cluster to run e2e/")
    info = _connection()
    if info is None:
        pytest.skip("no cluster: the kubeconfig has no current context")

    async def reachable() -> bool:
        client = KubeClient.from_connection(info)
        try:
            await client.request("GET", "/version")
            return True
        except Exception:
            return False
        finally:
            await client.close()

    if not asyncio.run(reachable()):
        pytest.skip(f"no cluster: the API server {info.server} does not answer")
    return info


@pytest.fixture
async def kube(connection: Any) -> AsyncIterator[KubeClient]:
    client = KubeClient.from_connection(connection)
    yield client
    await client.close()


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def documents(path: Path) -> list[dict[str, Any]]:
    """The YAML documents of a file."""
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


_DISCOVERED: dict[str, dict[str, tuple[str, bool]]] = {}


async def resource_of(kube: KubeClient, api_version: str, kind: str) -> tuple[str, bool]:
    """(plural, namespaced) of a kind, from the API server's discovery document.

    Asked once per group version and asked again when a kind is missing (a CRD that was just
    established), so any kind the server serves works, not only those of a hand-kept table.
    """
    known = _DISCOVERED.get(api_version, {})
    if kind not in known:
        base = f"/api/{api_version}" if "/" not in api_version else f"/apis/{api_version}"
        listing = await kube.request("GET", base)
        known = {
            str(r["kind"]): (str(r["name"]), bool(r.get("namespaced")))
            for r in (listing or {}).get("resources") or []
            if "/" not in str(r.get("name", ""))  # not a subresource such as pods/status
        }
        _DISCOVERED[api_version] = known
    if kind not in known:
        raise AssertionError(f"the API server serves no kind {kind!r} in {api_version}")
    return known[kind]


async def api_path(kube: KubeClient, obj: dict[str, Any]) -> str:
    """The API path of an object (for server-side apply, GET and DELETE)."""
    kind, meta, version = obj["kind"], obj["metadata"], obj["apiVersion"]
    base = f"/api/{version}" if "/" not in version else f"/apis/{version}"
    plural, namespaced = await resource_of(kube, version, kind)
    if namespaced:
        namespace = meta.get("namespace") or "default"
        return f"{base}/namespaces/{namespace}/{plural}/{meta['name']}"
    return f"{base}/{plural}/{meta['name']}"


async def apply(kube: KubeClient, obj: dict[str, Any]) -> Any:
    """Server-side apply as the e2e field manager."""
    path = await api_path(kube, obj) + "?fieldManager=costreport-e2e&force=true"
    return await kube.request("PATCH", path, obj, "application/apply-patch+yaml")


async def namespace_for_pods(kube: KubeClient, name: str) -> None:
    """A namespace that pods can be created in.

    The ServiceAccount admission plugin refuses pods until the namespace's `default`
    ServiceAccount exists, which the controller-manager creates shortly after the namespace.
    """
    await apply(kube, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})

    async def has_default_account() -> bool:
        path = f"/api/v1/namespaces/{name}/serviceaccounts/default"
        return await kube.request("GET", path, ok_missing=True) is not None

    await wait_for(has_default_account, timeout=60, every=0.5)


async def wait_for(check: Any, timeout: float = 180.0, every: float = 2.0) -> Any:
    """Poll `check()` until it returns something truthy."""
    deadline = asyncio.get_running_loop().time() + timeout
    last: Any = None
    while asyncio.get_running_loop().time() < deadline:
        try:
            last = await check()
        except KubeError as error:
            last = error
        if last and not isinstance(last, KubeError):
            return last
        await asyncio.sleep(every)
    raise AssertionError(f"timed out waiting; last answer: {last!r}")


@pytest.fixture(scope="session")
def operator_process(connection: Any) -> Iterator[subprocess.Popen[bytes]]:
    """`costreport operator` running locally against the cluster."""
    env = {**os.environ, "POD_NAMESPACE": OPERATOR_NAMESPACE}
    process = subprocess.Popen(
        [
            str(BIN),
            "operator",
            "--source",
            "sample",
            "--tick-seconds",
            "5",
            "--liveness-port",
            "18080",
            "--log-format",
            "text",
        ],
        env=env,
    )
    yield process
    process.terminate()
    process.wait(timeout=30)
