"""Kubernetes API calls over aiohttp (no `kubernetes` client: it costs memory).

Credentials come from kopf's login helpers (service account in a pod, kubeconfig elsewhere),
so the operator and kopf authenticate the same way. Every call has a timeout; a 404 on delete is
success; other failures raise `KubeError` with the API's message.
"""

from __future__ import annotations

import base64
import logging
import ssl
import tempfile
import time
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import quote

import aiohttp
import orjson

from costreport.model.report import GROUP, PLURALS, VERSION, ReportRef


class KubeRequester(Protocol):
    """The one Kubernetes call shape auth and leases need (`KubeClient.request`, or a fake)."""

    async def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        content_type: str = "application/json",
        ok_missing: bool = False,
    ) -> Any:
        """Send a request and return the decoded answer (None for 404 when `ok_missing`)."""
        ...


log = logging.getLogger("costreport.kubernetes")


class KubeError(RuntimeError):
    """A Kubernetes API call failed."""


class WatchGone(KubeError):
    """A watch's resourceVersion is too old (HTTP 410 Gone): list again."""


MAX_EVENT_BYTES = 8 << 20
"""Largest watch event accepted (an object in etcd is at most 1.5 MiB)."""


class KubeClient:
    """Implements the scheduler's `KubeApi` against a real API server."""

    def __init__(
        self,
        server: str,
        *,
        token: str | None = None,
        ssl_context: ssl.SSLContext | bool = True,
        timeout_seconds: float = 15.0,
        component: str = "costreport-operator",
    ) -> None:
        self.server = server.rstrip("/")
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.ssl = ssl_context
        self.timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self.component = component
        self._session: aiohttp.ClientSession | None = None

    @classmethod
    def from_connection(cls, info: Any) -> KubeClient:
        """From a kopf `ConnectionInfo` (token or client certificate, CA path or data)."""
        context: ssl.SSLContext | bool = True
        if info.insecure:
            context = False
        else:
            context = ssl.create_default_context()
            if info.ca_path:
                context.load_verify_locations(cafile=info.ca_path)
            elif info.ca_data:
                context.load_verify_locations(cadata=base64.b64decode(info.ca_data).decode())
            cert, key = info.certificate_path, info.private_key_path
            if info.certificate_data and info.private_key_data:
                cert = _write_temp(base64.b64decode(info.certificate_data))
                key = _write_temp(base64.b64decode(info.private_key_data))
            if cert and key:
                context.load_cert_chain(cert, key)
        return cls(info.server, token=info.token, ssl_context=context)

    async def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        content_type: str = "application/json",
        ok_missing: bool = False,
    ) -> Any:
        """Any API call: the decoded JSON answer (None for 404 when `ok_missing`)."""
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self.timeout)
        headers = {**self.headers, "Content-Type": content_type}
        data = orjson.dumps(body) if body is not None else None
        async with self._session.request(
            method, self.server + path, data=data, headers=headers, ssl=self.ssl
        ) as response:
            if ok_missing and response.status == 404:
                return None
            payload = await response.read()
            if response.status >= 400:
                raise KubeError(f"{method} {path}: {response.status} {payload[:500]!r}")
            return orjson.loads(payload) if payload else None

    @staticmethod
    def report_path(ref: ReportRef) -> str:
        """API path of a report object."""
        plural = PLURALS[ref.kind]
        if ref.namespace:
            return f"/apis/{GROUP}/{VERSION}/namespaces/{ref.namespace}/{plural}/{ref.name}"
        return f"/apis/{GROUP}/{VERSION}/{plural}/{ref.name}"

    async def patch_status(self, ref: ReportRef, status: Mapping[str, Any]) -> None:
        """Merge-patch the status subresource."""
        await self.request(
            "PATCH",
            self.report_path(ref) + "/status",
            {"status": dict(status)},
            "application/merge-patch+json",
        )

    async def apply_configmap(self, manifest: Mapping[str, Any]) -> None:
        """Server-side apply, so other field managers' fields are left alone."""
        meta = manifest["metadata"]
        path = (
            f"/api/v1/namespaces/{meta['namespace']}/configmaps/{meta['name']}"
            "?fieldManager=costreport&force=true"
        )
        await self.request("PATCH", path, dict(manifest), "application/apply-patch+yaml")

    async def delete_configmap(self, namespace: str, name: str) -> None:
        """Delete a ConfigMap; absent is fine."""
        path = f"/api/v1/namespaces/{namespace}/configmaps/{name}"
        await self.request("DELETE", path, ok_missing=True)

    async def get_configmap(self, namespace: str, name: str) -> dict[str, Any] | None:
        """A ConfigMap, or None when absent."""
        path = f"/api/v1/namespaces/{namespace}/configmaps/{name}"
        found: dict[str, Any] | None = await self.request("GET", path, ok_missing=True)
        return found

    async def list_budgets(self) -> list[dict[str, Any]]:
        """Every CostBudget (all namespaces) and ClusterCostBudget, with its status."""
        items: list[dict[str, Any]] = []
        for kind, plural in (
            ("CostBudget", "costbudgets"),
            ("ClusterCostBudget", "clustercostbudgets"),
        ):
            answer = await self.request("GET", f"/apis/{GROUP}/{VERSION}/{plural}", ok_missing=True)
            for item in (answer or {}).get("items") or []:
                items.append({**item, "kind": kind})
        return items

    async def get_secret(self, namespace: str, name: str) -> dict[str, Any] | None:
        """A Secret, or None when absent."""
        found: dict[str, Any] | None = await self.request(
            "GET", f"/api/v1/namespaces/{namespace}/secrets/{name}", ok_missing=True
        )
        return found

    async def post_event(
        self, ref: ReportRef, uid: str, type_: str, reason: str, message: str
    ) -> bool:
        """A core/v1 Event about the report (in its namespace, or `default` for cluster ones).

        Best effort, as kopf's own events are: an Event the API server refuses (RBAC, a quota,
        an outage) is logged and False returned, and the report's or budget's status, the
        source of truth, is written all the same.
        """
        namespace = ref.namespace or "default"
        now = datetime.now(tz=UTC)
        # Named as client-go's recorder names them (object name, a dot, hex nanoseconds): a
        # valid DNS subdomain, unlike a `generateName` ending in a dot.
        name = f"{ref.name[:230]}.{time.time_ns():x}"
        event = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": name, "namespace": namespace},
            "involvedObject": {
                "apiVersion": f"{GROUP}/{VERSION}",
                "kind": ref.kind,
                "name": ref.name,
                "namespace": ref.namespace or "",
                "uid": uid,
            },
            "type": type_,
            "reason": reason,
            "message": message,
            "source": {"component": self.component},
            "firstTimestamp": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "lastTimestamp": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "count": 1,
        }
        try:
            await self.request("POST", f"/api/v1/namespaces/{namespace}/events", event)
        except (KubeError, aiohttp.ClientError, TimeoutError) as error:
            context = {"report": ref.key, "reason": reason, "error": str(error)[:300]}
            log.warning("event not posted", extra={"context": context})
            return False
        return True

    async def list_pods(self, limit: int, continue_token: str | None) -> Mapping[str, Any]:
        """One page of every namespace's pods."""
        query = f"?limit={limit}" + (f"&continue={quote(continue_token)}" if continue_token else "")
        answer: Mapping[str, Any] = await self.request("GET", "/api/v1/pods" + query)
        return answer

    async def watch_pods(
        self, resource_version: str, timeout_seconds: int
    ) -> AsyncIterator[Mapping[str, Any]]:
        """Watch events of every namespace's pods from `resource_version`, one JSON line each
        (a line over `MAX_EVENT_BYTES` is an error); HTTP 410 raises `WatchGone`."""
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self.timeout)
        path = (
            f"/api/v1/pods?watch=1&allowWatchBookmarks=true&resourceVersion="
            f"{quote(resource_version)}&timeoutSeconds={timeout_seconds}"
        )
        timeout = aiohttp.ClientTimeout(total=timeout_seconds + 30, sock_read=120)
        async with self._session.get(
            self.server + path, headers=self.headers, ssl=self.ssl, timeout=timeout
        ) as response:
            if response.status == 410:
                raise WatchGone(f"GET {path}: 410")
            if response.status >= 400:
                payload = await response.read()
                raise KubeError(f"GET {path}: {response.status} {payload[:500]!r}")
            buffer = b""
            async for chunk in response.content.iter_any():
                buffer += chunk
                while b"\n" in buffer:
                    line, buffer = buffer.split(b"\n", 1)
                    if line.strip():
                        yield orjson.loads(line)
                if len(buffer) > MAX_EVENT_BYTES:
                    raise KubeError(f"GET {path}: a watch event over {MAX_EVENT_BYTES} bytes")
            if buffer.strip():
                yield orjson.loads(buffer)

    async def close(self) -> None:
        """Close the HTTP session."""
        if self._session is not None:
            await self._session.close()
            self._session = None


def _write_temp(data: bytes) -> str:
    handle = tempfile.NamedTemporaryFile(delete=False, suffix=".pem")  # noqa: SIM115
    handle.write(data)
    handle.close()
    return handle.name
