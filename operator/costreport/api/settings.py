"""The API's configuration, its application and request keys, and the report reader it uses."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, runtime_checkable

from aiohttp import web

from costreport.api.auth import (
    Caller,
)
from costreport.api.cache import ResponseCache
from costreport.api.limits import ClientLimiter
from costreport.api.metrics import ApiMetrics
from costreport.engine.params import QueryLimits
from costreport.engine.privacy import LabelPolicy
from costreport.model.cluster import ClusterSource

JSON = "application/json"


@runtime_checkable
class ConfigMapReader(Protocol):
    """Reads the operator's result ConfigMaps (a `KubeClient` in a cluster, a fake in tests)."""

    async def get_configmap(self, namespace: str, name: str) -> dict[str, Any] | None:
        """The ConfigMap, or None when absent."""
        ...


@dataclass(frozen=True, slots=True)
class ApiSettings:
    """Server behaviour that is configuration, not request input."""

    cors: bool = True
    operator_namespace: str = "default"
    policy: LabelPolicy = field(default_factory=LabelPolicy)
    metrics_public: bool = False
    max_query_length: int = 4096
    max_window_days: float = 400.0
    max_sets: int = 2000
    rate_per_second: float = 20.0
    rate_burst: int = 40
    client_concurrency: int = 8
    request_timeout_seconds: float = 60.0
    utc_offset: timedelta = timedelta(0)
    cache_bytes: int = 256 * 1024 * 1024
    cache_ttl_seconds: float = 60.0
    shared_namespaces: tuple[str, ...] = ("kube-system",)
    """Namespaces counted as shared cost in the `shared_cost_share` gauge."""
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(tz=UTC))
    """The time relative windows (`7d`, `today`) resolve against; tests pass a fixed one."""

    @property
    def limits(self) -> QueryLimits:
        """The per-query bounds, shared with the CLI."""
        return QueryLimits(self.max_window_days, self.max_sets)


SOURCE_KEY = web.AppKey("source", ClusterSource)
SETTINGS_KEY = web.AppKey("settings", ApiSettings)
CACHE_KEY = web.AppKey("cache", ResponseCache)
METRICS_KEY = web.AppKey("metrics", ApiMetrics)
STATE_KEY = web.AppKey("state", dict)
ROWS_KEY = web.RequestKey("rows", int)
CALLER_KEY = web.RequestKey("caller", Caller)
AUTH_KEY = web.AppKey("auth", object)
LIMITER_KEY = web.AppKey("limiter", ClientLimiter)
OPEN_PATHS = frozenset({"/healthz", "/readyz", "/openapi.json"})
CLUSTER_KEYS = frozenset({"cluster", "node"})
REPORTS_KEY = web.AppKey("reports", object)
