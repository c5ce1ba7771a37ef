"""Authentication, namespace-scoped authorization, privacy and limits of the API."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from costreport.api.app import ApiSettings, create_app
from costreport.api.auth import KubernetesAuth, TtlCache
from costreport.engine.privacy import LabelPolicy
from costreport.sources.kubernetes import KubeClient
from tests.api.conftest import TINY_DAY, ClientFactory, TinySource
from tests.api.fake_kube import FakeKubeApi

ALLOC = f"/allocation?window={TINY_DAY}"


async def secured(aiohttp_client: ClientFactory, fake: FakeKubeApi, **settings: Any) -> TestClient:
    server = TestServer(fake.app)
    await server.start_server()
    kube = KubeClient(f"http://127.0.0.1:{server.port}", ssl_context=False)
    auth = KubernetesAuth(kube)
    app: web.Application = create_app(TinySource(), ApiSettings(**settings), None, auth)

    async def stop(_: web.Application) -> None:
        await kube.close()
        await server.close()

    app.on_cleanup.append(stop)
    return await aiohttp_client(app)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def fake() -> FakeKubeApi:
    return FakeKubeApi()


async def test_no_token_and_bad_token_are_401(
    aiohttp_client: ClientFactory, fake: FakeKubeApi
) -> None:
    client = await secured(aiohttp_client, fake)
    for headers in ({}, bearer("stolen"), {"Authorization": "Basic abc"}):
        response = await client.get(ALLOC, headers=headers)
        assert response.status == 401
        assert response.headers["WWW-Authenticate"] == 'Bearer realm="costreport"'
        body = await response.json()
        assert body["code"] == 401 and body["status"] == "error" and body["data"] is None
    assert (await client.get("/healthz")).status == 200  # open
    assert (await client.get("/readyz")).status in (200, 503)


async def test_a_cluster_wide_user_sees_everything(
    aiohttp_client: ClientFactory, fake: FakeKubeApi
) -> None:
    client = await secured(aiohttp_client, fake)
    response = await client.get(
        ALLOC + "&aggregate=namespace&includeIdle=true", headers=bearer("admin-token")
    )
    data = (await response.json())["data"][0]
    assert set(data) == {"a", "b", "c", "__unmounted__", "__idle__"}
    assets = await client.get(f"/assets?window={TINY_DAY}", headers=bearer("admin-token"))
    assert assets.status == 200
    assert (await client.get("/metrics", headers=bearer("admin-token"))).status == 200


async def test_a_single_namespace_user_sees_only_that_namespace(
    aiohttp_client: ClientFactory, fake: FakeKubeApi
) -> None:
    client = await secured(aiohttp_client, fake)
    token = bearer("team-a-token")
    body = await (
        await client.get(ALLOC + "&aggregate=namespace&includeIdle=true", headers=token)
    ).json()
    assert {k: round(v["totalCost"], 5) for k, v in body["data"][0].items()} == {"a": 2.4}
    assert body["meta"]["idle"] == {"mode": "excluded", "byNode": False}  # no cluster idle row
    shared_idle = await client.get(
        ALLOC + "&aggregate=pod&includeIdle=true&shareIdle=true", headers=token
    )
    rows = (await shared_idle.json())["data"][0]
    assert set(rows) == {"web-1"}  # idle only as the share distributed to its own rows
    for path in (
        ALLOC + "&aggregate=cluster",
        ALLOC + "&aggregate=node,namespace",
        ALLOC + "&aggregate=all",
        ALLOC + "&aggregate=namespace&shareNamespaces=b",
        ALLOC + "&aggregate=namespace&shareCost=100",
        f"/assets?window={TINY_DAY}",
        f"/cloudCost?window={TINY_DAY}",
        f"/cloudCost/view/totals?window={TINY_DAY}",
        f"/customCost/total?window={TINY_DAY}",
        "/metrics",
        "/reports/_cluster/daily",
        "/reports/b/daily",
    ):
        response = await client.get(path, headers=token)
        assert response.status == 403, path
        message = (await response.json())["message"]
        assert message.startswith("forbidden: ")
        assert '"b"' not in message and " b/" not in message  # nothing about other tenants
    auto = await client.get(
        f"/allocation/autocomplete?window={TINY_DAY}&field=namespace", headers=token
    )
    assert (await auto.json())["data"] == ["a"]
    pods = await client.get(f"/allocation/autocomplete?window={TINY_DAY}&field=pod", headers=token)
    assert (await pods.json())["data"] == ["web-1"]


async def test_a_two_namespace_user(aiohttp_client: ClientFactory, fake: FakeKubeApi) -> None:
    client = await secured(aiohttp_client, fake)
    body = await (
        await client.get(ALLOC + "&aggregate=namespace", headers=bearer("two-ns-token"))
    ).json()
    assert set(body["data"][0]) == {"a", "c"}
    filtered = await client.get(
        ALLOC + '&aggregate=namespace&filter=namespace:"b"|namespace:"c"',
        headers=bearer("two-ns-token"),
    )
    assert set((await filtered.json())["data"][0]) == {"c"}


async def test_a_user_with_no_namespace_is_403(
    aiohttp_client: ClientFactory, fake: FakeKubeApi
) -> None:
    client = await secured(aiohttp_client, fake)
    response = await client.get(ALLOC + "&aggregate=namespace", headers=bearer("nothing-token"))
    assert response.status == 403


async def test_reviews_are_cached_briefly(aiohttp_client: ClientFactory, fake: FakeKubeApi) -> None:
    client = await secured(aiohttp_client, fake)
    for _ in range(3):
        await client.get(ALLOC + "&aggregate=namespace", headers=bearer("team-a-token"))
    assert fake.token_reviews == 1
    assert fake.access_reviews == 4  # cluster-wide once, then a, b, c once each


async def test_cache_entries_expire() -> None:
    now = [0.0]
    cache = TtlCache(ttl=10, size=2, clock=lambda: now[0])
    loads = []

    async def load() -> int:
        loads.append(1)
        return len(loads)

    assert await cache.get_or_load("k", load) == 1
    now[0] = 9.9
    assert await cache.get_or_load("k", load) == 1
    now[0] = 10.0
    assert await cache.get_or_load("k", load) == 2
    await cache.get_or_load("x", load)
    await cache.get_or_load("y", load)  # bounded: "k" is evicted
    assert await cache.get_or_load("k", load) == 5


NAMESPACES = ("a", "b", "c", "__unmounted__")
PARAMS = st.fixed_dictionaries(
    {},
    optional={
        "aggregate": st.sampled_from(
            [
                "namespace",
                "pod",
                "controller",
                "label:team",
                "label:app",
                "service",
                "container",
                "namespace,label:app",
                "team",
                "product",
                "controllerKind",
            ]
        ),
        "includeIdle": st.sampled_from(["true", "false"]),
        "shareIdle": st.sampled_from(["true", "false"]),
        "idleByNode": st.sampled_from(["true", "false"]),
        "filter": st.sampled_from(
            [
                'namespace:"b"',
                'namespace!:"a"',
                'namespace:"a"|namespace:"b"',
                'pod~:"db"',
                'label[app]:"db"',
                'team:"ml"',
                "",
            ]
        ),
        "step": st.sampled_from(["6h", "12h"]),
        "accumulate": st.sampled_from(["true", "false", "day"]),
    },
)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(params=PARAMS)
def test_a_namespace_user_never_sees_another_namespace(params: dict[str, str]) -> None:
    async def probe() -> tuple[int, Any]:
        fake = FakeKubeApi()
        kube_server = TestServer(fake.app)
        await kube_server.start_server()
        kube = KubeClient(f"http://127.0.0.1:{kube_server.port}", ssl_context=False)
        app = create_app(TinySource(), ApiSettings(), None, KubernetesAuth(kube))
        try:
            async with TestClient(TestServer(app)) as client:
                response = await client.get(
                    "/allocation",
                    params={"window": TINY_DAY, **params},
                    headers=bearer("team-a-token"),
                )
                return response.status, await response.json()
        finally:
            await kube.close()
            await kube_server.close()

    status, body = asyncio.run(probe())
    assert status in (200, 403), body
    if status == 200:
        for rows in body["data"]:
            for row in rows.values():
                assert row["properties"].get("namespace", "a") == "a", row["name"]
                assert row["name"] != "__idle__"
                assert "ml" not in str(row["properties"])  # b's train annotation never leaks
                assert row["totalCost"] <= 2.4 + 1e-9 or params.get("shareIdle") == "true"


async def test_label_allow_list_hides_keys_and_rejects_queries_on_them(
    aiohttp_client: ClientFactory,
) -> None:
    app = create_app(TinySource(), ApiSettings(policy=LabelPolicy(allowed=("app",))))
    client = await aiohttp_client(app)
    rows = (await (await client.get(ALLOC)).json())["data"][0]
    web = rows["c1/n1/a/web-1/app"]["properties"]
    assert web["labels"] == {"app": "web"}  # team dropped
    response = await client.get(ALLOC + "&aggregate=label:team")
    assert response.status == 400
    assert (await response.json())["message"] == (
        "invalid 'aggregate' parameter: 'label:team'; accepted: label/annotation keys allowed "
        "by --label-allow-list (app); 'team' is not"
    )
    response = await client.get(ALLOC + '&filter=label[team]:"x"')
    assert response.status == 400 and "'team' is not" in (await response.json())["message"]
    response = await client.get(f"/allocation/autocomplete?window={TINY_DAY}&field=label[team]")
    assert response.status == 400


async def test_hashed_label_values(aiohttp_client: ClientFactory) -> None:
    policy = LabelPolicy(allowed=("app", "team"), hashed=("team",), secret=b"k")
    client = await aiohttp_client(create_app(TinySource(), ApiSettings(policy=policy)))
    body = await (await client.get(ALLOC + "&aggregate=label:team")).json()
    names = set(body["data"][0])
    assert "x" not in names
    assert any(n.startswith("h:") and len(n) == 18 for n in names)


async def test_limits(aiohttp_client: ClientFactory) -> None:
    client = await aiohttp_client(
        create_app(
            TinySource(),
            ApiSettings(
                max_query_length=100, max_window_days=1.5, rate_burst=3, rate_per_second=0.5
            ),
        )
    )
    long = await client.get(ALLOC + "&x=" + "a" * 200)
    assert long.status == 414
    wide = await client.get("/allocation?window=2026-11-01T00:00:00Z,2026-11-03T00:00:00Z")
    assert wide.status == 400
    assert "a window of at most 1.5 days" in (await wide.json())["message"]
    statuses = [(await client.get(ALLOC)).status for _ in range(3)]
    assert statuses[-1] == 429
    throttled = await client.get(ALLOC)
    assert throttled.headers["Retry-After"] == "2"


async def test_a_slow_request_is_a_504(aiohttp_client: ClientFactory) -> None:
    class Slow(TinySource):
        async def cluster_data(self, *args: Any, **kwargs: Any) -> Any:
            await asyncio.sleep(1)
            return await super().cluster_data(*args, **kwargs)

    client = await aiohttp_client(create_app(Slow(), ApiSettings(request_timeout_seconds=0.1)))
    response = await client.get(ALLOC)
    assert response.status == 504
    assert (await response.json())[
        "message"
    ] == "the request took longer than the 0.1 s server limit"
