"""`--kube`: reach a costreport in the cluster through the kubeconfig, as the user.

kr8s reads the kubeconfig (contexts, client certificates, tokens and the exec credential
plugins of EKS, GKE and AKS), finds the costreport Service (label
`app.kubernetes.io/name=costreport`), picks one of its ready pods and port-forwards to it
through the API server — which needs `pods/portforward` in costreport's namespace, as
`kubectl port-forward` does. With a bearer token in the kubeconfig (tokens, exec plugins,
OIDC) it forwards to the API port and sends that token, so costreport scopes the answer by
the user's own RBAC, exactly as a request with `--token-file`. Without one (client
certificates cannot be sent on through a port-forward) it forwards to the pod's
port-forward listener (`--loopback-port`), whose answers are the admin view that
`pods/portforward` already grants; a line on stderr says so.
"""

from __future__ import annotations

import errno
import os
import socket
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from costreport.model.errors import InvalidParameter, SourceUnavailable

T = TypeVar("T")

SELECTOR = {"app.kubernetes.io/name": "costreport"}
TIMEOUT_SECONDS = 30.0
API_PORT_NAME = "http"


@dataclass(frozen=True, slots=True)
class KubeTarget:
    """Where a forward goes and what it sends."""

    namespace: str
    service: str
    pod: str
    port: int
    bearer: str | None
    note: str


def _raw(obj: Any) -> dict[str, Any]:
    """An object's JSON (kr8s yields objects, or plain dicts for unknown kinds)."""
    return dict(obj) if isinstance(obj, dict) else dict(obj.raw)


def _ready(pod: dict[str, Any]) -> bool:
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def _api_container(pod: dict[str, Any]) -> dict[str, Any] | None:
    containers = (pod.get("spec") or {}).get("containers") or []
    for container in containers:
        if "serve" in (container.get("args") or []):
            return dict(container)
    return dict(containers[0]) if containers else None


def _loopback_port(container: dict[str, Any]) -> int | None:
    for arg in container.get("args") or []:
        if isinstance(arg, str) and arg.startswith("--loopback-port="):
            value = arg.split("=", 1)[1]
            return int(value) if value.isdigit() else None
    return None


def _target_port(service: dict[str, Any], pod: dict[str, Any]) -> int:
    """The pod port behind the Service's `http` port (named target ports resolved)."""
    ports = (service.get("spec") or {}).get("ports") or []
    chosen = next((p for p in ports if p.get("name") == API_PORT_NAME), ports[0] if ports else None)
    if chosen is None:
        raise SourceUnavailable(f"the Service {service['metadata']['name']} has no port")
    target = chosen.get("targetPort", chosen.get("port"))
    if isinstance(target, int):
        return target
    if isinstance(target, str) and target.isdigit():
        return int(target)
    for container in (pod.get("spec") or {}).get("containers") or []:
        for port in container.get("ports") or []:
            if port.get("name") == target:
                return int(port["containerPort"])
    raise SourceUnavailable(f"no container port named {target!r} in pod {pod['metadata']['name']}")


def choose(
    services: list[dict[str, Any]],
    pods_of: dict[str, list[dict[str, Any]]],
    bearer: str | None,
    namespace: str | None,
) -> KubeTarget:
    """The Service, pod and port to forward to (pure: the cluster's answers are arguments)."""
    where = f"namespace {namespace}" if namespace else "any namespace"
    if not services:
        raise SourceUnavailable(
            f"no costreport Service (label app.kubernetes.io/name=costreport) in {where} "
            "of this kubeconfig's cluster"
        )
    if len(services) > 1:
        names = ", ".join(f"{s['metadata']['namespace']}/{s['metadata']['name']}" for s in services)
        raise InvalidParameter(
            "kube-namespace",
            namespace or "",
            f"the namespace of one of the costreport Services found ({names})",
        )
    service = services[0]
    key = f"{service['metadata']['namespace']}/{service['metadata']['name']}"
    ready = [p for p in pods_of.get(key, []) if _ready(p)]
    if not ready:
        raise SourceUnavailable(f"the costreport Service {key} has no ready pod")
    pod = sorted(ready, key=lambda p: str(p["metadata"]["name"]))[0]
    ns, name = service["metadata"]["namespace"], pod["metadata"]["name"]
    if bearer:
        return KubeTarget(ns, service["metadata"]["name"], name, _target_port(service, pod),
                          bearer, f"port-forward to {ns}/{name} with your token")  # fmt: skip
    container = _api_container(pod)
    loopback = _loopback_port(container) if container else None
    if loopback is None:
        raise SourceUnavailable(
            "this kubeconfig user has no bearer token (client certificates are not sent "
            f"through a port-forward) and {ns}/{name} has no port-forward listener "
            "(--loopback-port): use --api URL with --token-file"
        )
    return KubeTarget(
        ns,
        service["metadata"]["name"],
        name,
        loopback,
        None,
        f"port-forward to {ns}/{name}'s port-forward listener: no bearer token in this "
        "kubeconfig user, so answers are the cluster-wide view pods/portforward grants",
    )


async def check_forward(api: Any, pod: Any, port: int) -> None:
    """Open the port-forward WebSocket once before forwarding anything through it.

    kr8s opens one per forwarded connection and, when the API server refuses it, retries and
    then drops the connection, so the client's request would wait out its timeout; asking once
    first turns a refusal into an error that says why (most often: no `create` on
    `pods/portforward`, or no kubelet to forward to)."""
    import httpx_ws

    where = f"{pod.namespace}/{pod.name}"
    try:
        async with api.open_websocket(
            version="v1",
            url=f"{pod.endpoint}/{pod.name}/portforward",
            namespace=pod.namespace,
            params={"ports": str(port)},
        ):
            pass
    except httpx_ws.WebSocketUpgradeError as error:
        answer = error.response
        status = f"HTTP {answer.status_code} {answer.reason_phrase}".rstrip()
        if answer.status_code == 403:
            raise SourceUnavailable(
                f"--kube: the API server refused to port-forward to {where} ({status}): "
                f"port-forwarding needs create on pods/portforward in namespace {pod.namespace}"
            ) from None
        raise SourceUnavailable(
            f"--kube: the API server could not port-forward to {where} ({status})"
        ) from None
    except httpx_ws.HTTPXWSException as error:
        raise SourceUnavailable(
            f"--kube: the port-forward to {where} failed ({type(error).__name__}: {error})"
        ) from None


def _free_port() -> int:
    """A port the OS says is free on 127.0.0.1 (kr8s' own "auto" guesses at random)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def _listen(stack: AsyncExitStack, forward_on: Callable[[int], Any]) -> int:
    """Open a port-forward's local listener (listening when this returns), retrying on
    another port if one was taken in between."""
    for attempt in range(3):
        try:
            port: int = await stack.enter_async_context(forward_on(_free_port()))
            return port
        except OSError as error:
            if error.errno != errno.EADDRINUSE or attempt == 2:
                raise
    raise AssertionError("unreachable")


@asynccontextmanager
async def forwarded(
    kubeconfig: str | None = None, context: str | None = None, namespace: str | None = None
) -> AsyncIterator[tuple[str, str | None]]:
    """(base URL on 127.0.0.1, bearer) of a port-forward to costreport, open while inside."""
    import httpx
    import kr8s
    import kr8s.asyncio
    from kr8s.asyncio.objects import Pod, Service
    from kr8s.asyncio.portforward import PortForward

    if not kubeconfig and not os.environ.get("KUBECONFIG"):
        default = Path.home() / ".kube" / "config"
        if not default.exists():
            raise InvalidParameter(
                "kubeconfig",
                "",
                f"--kubeconfig FILE or env KUBECONFIG: neither is set and {default} does not "
                "exist (an MCP client gives a server only the environment it is configured with)",
            )
    stack = AsyncExitStack()
    try:
        api = await kr8s.asyncio.api(kubeconfig=kubeconfig, context=context)
        api.timeout = TIMEOUT_SECONDS
        services = [
            _raw(s)
            async for s in api.async_get(
                Service, namespace=namespace or kr8s.ALL, label_selector=SELECTOR
            )
        ]
        pods_of: dict[str, list[dict[str, Any]]] = {}
        for s in services:
            selector = (s.get("spec") or {}).get("selector") or {}
            key = f"{s['metadata']['namespace']}/{s['metadata']['name']}"
            pods_of[key] = [
                _raw(p)
                async for p in api.async_get(
                    Pod, namespace=s["metadata"]["namespace"], label_selector=selector
                )
            ]
        target = choose(services, pods_of, api.auth.token, namespace)
        pod = await Pod.get(target.pod, namespace=target.namespace, api=api)
        await check_forward(api, pod, target.port)
        port = await _listen(stack, lambda local: PortForward(pod, target.port, local_port=local))
    except (InvalidParameter, SourceUnavailable):
        await stack.aclose()
        raise
    except (kr8s.NotFoundError, kr8s.ServerError, httpx.HTTPError, OSError) as error:
        await stack.aclose()
        raise SourceUnavailable(f"--kube: {type(error).__name__}: {error}") from None
    except (ValueError, KeyError, TypeError) as error:  # a kubeconfig kr8s cannot use
        await stack.aclose()
        where = kubeconfig or "the default kubeconfig"
        raise InvalidParameter("kube", where, f"a kubeconfig kr8s can use ({error})") from None
    print(f"costreport: {target.note}", file=sys.stderr)
    try:
        yield f"http://127.0.0.1:{port}", target.bearer
    finally:
        await stack.aclose()


async def through_kube(args: Any, runner: Callable[[Any], Awaitable[T]]) -> T:
    """Run a command; with `--kube`, against a port-forward opened for it (`args.api` set)."""
    if not getattr(args, "kube", False):
        return await runner(args)
    if getattr(args, "api", None):
        raise InvalidParameter("kube", "--api", "either --kube or --api, not both")
    async with forwarded(args.kubeconfig, args.kube_context, args.kube_namespace) as (url, bearer):
        args.api, args.kube_bearer = url, bearer
        return await runner(args)
