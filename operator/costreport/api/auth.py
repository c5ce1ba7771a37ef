"""Who is asking, and which namespaces' costs they may see.

Permission model (documented in the README): reading the allocations of namespace N needs
`get` on the virtual resource `allocations` in API group `costreport.io` in N, so plain RBAC
grants it and the chart's aggregate-to-view role gives it to every namespace viewer. The same
permission cluster-wide (a ClusterRoleBinding) unlocks cluster views: aggregation by cluster or
node, the `__idle__` row, shared costs, `/assets` and the cost series on `/metrics`.

`kubernetes` mode verifies bearer tokens with a TokenReview and permissions with
SubjectAccessReviews; both answers are cached for at most 10 s in bounded LRU caches.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable, Iterable
from dataclasses import dataclass, field
from typing import Any

from costreport.model.report import GROUP
from costreport.sources.kubernetes import KubeRequester

RESOURCE = "allocations"


class Unauthenticated(Exception):
    """No token, or a token the API server does not accept: 401."""


class Forbidden(Exception):
    """Authenticated but not allowed: 403 (the message never names other tenants)."""


@dataclass(frozen=True, slots=True)
class Caller:
    """An authenticated caller; `cluster_wide` when allowed to read every namespace.

    Which namespaces a scoped caller may read is asked per request (`KubernetesAuth.readable`).
    """

    user: str
    groups: tuple[str, ...] = ()
    uid: str = ""
    extra: tuple[tuple[str, tuple[str, ...]], ...] = ()
    cluster_wide: bool = False

    @property
    def label(self) -> str:
        """For audit logs."""
        return self.user or "anonymous"


ANONYMOUS = Caller("anonymous", cluster_wide=True)


class TtlCache:
    """A bounded LRU of values that expire after `ttl` seconds."""

    def __init__(
        self, ttl: float = 10.0, size: int = 4096, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl, self.size, self.clock = ttl, size, clock
        self._items: OrderedDict[Hashable, tuple[float, Any]] = OrderedDict()

    async def get_or_load(self, key: Hashable, load: Callable[[], Awaitable[Any]]) -> Any:
        """The cached value, or `load()`'s, cached for `ttl`."""
        now = self.clock()
        hit = self._items.get(key)
        if hit is not None and hit[0] > now:
            self._items.move_to_end(key)
            return hit[1]
        value = await load()
        self._items[key] = (now + self.ttl, value)
        self._items.move_to_end(key)
        while len(self._items) > self.size:
            self._items.popitem(last=False)
        return value


@dataclass(slots=True)
class KubernetesAuth:
    """TokenReview + SubjectAccessReview against the API server."""

    api: KubeRequester
    audiences: tuple[str, ...] = ()
    cache_ttl: float = 10.0
    tokens: TtlCache = field(init=False)
    reviews: TtlCache = field(init=False)

    def __post_init__(self) -> None:
        self.tokens = TtlCache(min(self.cache_ttl, 10.0))
        self.reviews = TtlCache(min(self.cache_ttl, 10.0))

    async def authenticate(self, authorization: str | None) -> Caller:
        """The caller behind an `Authorization: Bearer …` header."""
        if not authorization or not authorization.startswith("Bearer ") or len(authorization) < 8:
            raise Unauthenticated("a bearer token is required")
        token = authorization[7:].strip()

        async def review() -> Caller | None:
            spec: dict[str, Any] = {"token": token}
            if self.audiences:
                spec["audiences"] = list(self.audiences)
            answer = await self.api.request(
                "POST",
                "/apis/authentication.k8s.io/v1/tokenreviews",
                {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": spec},
            )
            status = (answer or {}).get("status", {})
            if not status.get("authenticated"):
                return None
            user = status.get("user", {})
            extra = tuple(sorted((k, tuple(v)) for k, v in (user.get("extra") or {}).items()))
            caller = Caller(
                user.get("username", ""),
                tuple(user.get("groups") or ()),
                user.get("uid", ""),
                extra,
            )
            cluster_wide = await self._allowed(caller, "")
            return Caller(caller.user, caller.groups, caller.uid, caller.extra, cluster_wide)

        caller = await self.tokens.get_or_load(("token", token), review)
        if caller is None:
            raise Unauthenticated("the token was not accepted")
        assert isinstance(caller, Caller)
        return caller

    async def _allowed(self, caller: Caller, namespace: str) -> bool:
        async def review() -> bool:
            attributes: dict[str, Any] = {"group": GROUP, "resource": RESOURCE, "verb": "get"}
            if namespace:
                attributes["namespace"] = namespace
            spec: dict[str, Any] = {
                "user": caller.user,
                "groups": list(caller.groups),
                "resourceAttributes": attributes,
            }
            if caller.uid:
                spec["uid"] = caller.uid
            if caller.extra:
                spec["extra"] = {k: list(v) for k, v in caller.extra}
            answer = await self.api.request(
                "POST",
                "/apis/authorization.k8s.io/v1/subjectaccessreviews",
                {
                    "apiVersion": "authorization.k8s.io/v1",
                    "kind": "SubjectAccessReview",
                    "spec": spec,
                },
            )
            return bool((answer or {}).get("status", {}).get("allowed"))

        allowed = await self.reviews.get_or_load((caller.user, caller.groups, namespace), review)
        return bool(allowed)

    async def readable(self, caller: Caller, namespaces: Iterable[str]) -> frozenset[str]:
        """The namespaces among `namespaces` the caller may read (all when cluster-wide)."""
        wanted = sorted(set(namespaces))
        if caller.cluster_wide:
            return frozenset(wanted)
        semaphore = asyncio.Semaphore(8)

        async def check(namespace: str) -> bool:
            async with semaphore:
                return await self._allowed(caller, namespace)

        answers = await asyncio.gather(*(check(n) for n in wanted))
        return frozenset(n for n, ok in zip(wanted, answers, strict=True) if ok)


class NoAuth:
    """Everyone is a cluster-wide reader (only for loopback demos, or explicitly insecure)."""

    async def authenticate(self, authorization: str | None) -> Caller:
        """Always the anonymous cluster-wide caller."""
        return ANONYMOUS

    async def readable(self, caller: Caller, namespaces: Iterable[str]) -> frozenset[str]:
        """Every namespace."""
        return frozenset(namespaces)
