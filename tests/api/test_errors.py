"""Governance: every bad parameter is a 400 JSON naming it; a down source is a 503."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import quote

import pytest
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from costreport.api.app import ApiSettings, create_app
from costreport.engine.aggregate import ACCEPTED_AGGREGATE
from costreport.engine.params import WINDOW_REQUIRED
from tests.api.conftest import TINY_DAY, TinySource


async def error_of(client: TestClient, url: str, status: int = 400) -> str:
    response = await client.get(url)
    assert response.status == status, await response.text()
    assert response.headers["Content-Type"].startswith("application/json")
    body = await response.json()
    assert list(body) == ["code", "status", "data", "message"]
    assert body["code"] == status and body["status"] == "error" and body["data"] is None
    message: str = body["message"]
    return message


@pytest.mark.parametrize(
    "path", ["/allocation", "/model/allocation/compute", "/allocation/summary", "/assets"]
)
async def test_window_is_required(tiny_client: TestClient, path: str) -> None:
    message = await error_of(tiny_client, path)
    assert message == f"invalid 'window' parameter: ''; accepted: {WINDOW_REQUIRED}"


async def test_unparsable_window_names_the_value(tiny_client: TestClient) -> None:
    message = await error_of(tiny_client, "/allocation?window=fortnight")
    assert message.startswith("invalid 'window' parameter: 'fortnight'; accepted: ")
    assert "lastweek" in message and "RFC3339" in message


async def test_unknown_aggregate_key_lists_the_accepted_keys(tiny_client: TestClient) -> None:
    message = await error_of(tiny_client, f"/allocation?window={TINY_DAY}&aggregate=namespce")
    assert message == f"invalid 'aggregate' parameter: 'namespce'; accepted: {ACCEPTED_AGGREGATE}"


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("step=0", "step"),
        ("step=-1h", "step"),
        ("step=daily", "step"),
        ("resolution=fast", "resolution"),
        ("includeIdle=maybe", "includeIdle"),
        ("shareIdle=yes", "shareIdle"),
        ("idleByNode=2", "idleByNode"),
        ("accumulate=quarterly", "accumulate"),
        ("shareSplit=random", "shareSplit"),
        ("shareCost=abc", "shareCost"),
        ("shareCost=-5", "shareCost"),
        ("shareLabels=team", "shareLabels"),
        ("filter=" + quote('namespace:"a'), "filter"),
        ("filter=" + quote('namespce:"a"'), "filter"),
        ("includeProportionalAssetResourceCosts=true", "includeProportionalAssetResourceCosts"),
    ],
)
async def test_bad_parameters_are_400_naming_the_parameter(
    tiny_client: TestClient, query: str, parameter: str
) -> None:
    message = await error_of(tiny_client, f"/allocation?window={TINY_DAY}&{query}")
    assert message.startswith(f"invalid '{parameter}' parameter: ")
    assert "; accepted: " in message


async def test_unknown_parameters_are_ignored(tiny_client: TestClient) -> None:
    response = await tiny_client.get(f"/allocation?window={TINY_DAY}&bogus=1&metrics=totalCost")
    assert response.status == 200


async def test_a_down_source_is_a_503_with_a_reason(down_client: TestClient) -> None:
    message = await error_of(down_client, f"/allocation?window={TINY_DAY}", status=503)
    assert message == (
        "source unavailable: prometheus at http://127.0.0.1:1 refused the connection"
    )
    response = await down_client.get(f"/assets?window={TINY_DAY}")
    assert response.headers["Retry-After"] == "30"
    ready = await down_client.get("/readyz")
    assert ready.status == 503
    assert (await down_client.get("/healthz")).status == 200


PARAMETERS = [
    "window",
    "aggregate",
    "step",
    "resolution",
    "accumulate",
    "accumulateBy",
    "includeIdle",
    "shareIdle",
    "idleByNode",
    "shareNamespaces",
    "shareLabels",
    "shareCost",
    "shareSplit",
    "includeSharedCostBreakdown",
    "filter",
    "field",
    "search",
    "limit",
]
VALUES = st.one_of(
    st.text(max_size=30),
    st.sampled_from(
        [
            "7d",
            "0",
            "-1",
            "1d",
            "true",
            "false",
            "namespace",
            "all",
            "label:",
            "day",
            "1e309",
            "nan",
            TINY_DAY,
            "1793491200,1793491200",
            'namespace:"a"',
            "(",
            "+",
            "|",
            "\x00",
        ]
    ),
)
PATHS = ["/allocation", "/allocation/summary", "/allocation/autocomplete", "/assets"]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    path=st.sampled_from(PATHS),
    params=st.dictionaries(st.sampled_from(PARAMETERS), VALUES, max_size=6),
)
def test_random_parameters_never_produce_a_5xx(path: str, params: dict[str, str]) -> None:
    async def probe() -> int:
        server = TestServer(create_app(TinySource(), ApiSettings()))
        async with TestClient(server) as client:
            response = await client.get(path, params=params)
            return response.status

    status = asyncio.run(probe())
    assert status < 500, (path, params, status)


async def test_a_deeply_nested_filter_is_a_400_not_a_500(tiny_client: TestClient) -> None:
    deep = quote("(" * 495 + 'namespace:"a"' + ")" * 495)
    message = await error_of(tiny_client, f"/allocation?window={TINY_DAY}&filter={deep}")
    assert message.startswith("invalid 'filter' parameter: '((((")
    assert message.endswith("; parentheses nested deeper than 32 levels at position 32")


async def test_parameters_echo_what_the_caller_typed(tiny_client: TestClient) -> None:
    message = await error_of(tiny_client, "/allocation?window=10000d")
    assert message == "invalid 'window' parameter: '10000d'; accepted: a window of at most 400 days"
    message = await error_of(tiny_client, f"/allocation?window={TINY_DAY}&step=1s")
    assert message == (
        "invalid 'step' parameter: '1s'; accepted: a step giving at most 2000 sets for this window"
    )
    message = await error_of(tiny_client, "/assets?window=10000d")
    assert message == "invalid 'window' parameter: '10000d'; accepted: a window of at most 400 days"


async def test_a_repeated_parameter_takes_the_first_value(tiny_client: TestClient) -> None:
    response = await tiny_client.get(f"/allocation?window={TINY_DAY}&window=7d&aggregate=namespace")
    assert response.status == 200
    [day] = (await response.json())["data"]
    assert day["a"]["window"] == {"start": "2026-11-01T00:00:00Z", "end": "2026-11-02T00:00:00Z"}


async def test_a_literal_plus_is_and_and_a_trailing_one_is_an_error(
    tiny_client: TestClient,
) -> None:
    base = f"/allocation?window={TINY_DAY}&aggregate=pod"
    literal = await tiny_client.get(base + '&filter=namespace:"b"+pod:"db-0"')
    encoded = await tiny_client.get(base + "&filter=" + quote('namespace:"b"+pod:"db-0"'))
    assert [list(s) for s in (await literal.json())["data"]] == [["db-0"]]
    assert (await literal.json())["data"] == (await encoded.json())["data"]
    for raw in ('namespace:"b"+', quote('namespace:"b"+')):
        message = await error_of(tiny_client, base + "&filter=" + raw)
        assert message.endswith("expected a comparison after '+' at position 14")


async def test_legacy_filters_as_kubectl_cost_sends_them(tiny_client: TestClient) -> None:
    base = f"/allocation?window={TINY_DAY}&aggregate=pod"

    async def pods(query: str) -> list[list[str]]:
        response = await tiny_client.get(base + query)
        assert response.status == 200, await response.text()
        return [sorted(s) for s in (await response.json())["data"]]

    everything = await pods("")
    assert await pods("&filterNamespaces=") == everything  # kubectl-cost without -n
    assert await pods("&filterNamespaces=b") == await pods('&filter=namespace:"b"')
    assert await pods("&filterNamespaces=b") != everything
    assert await pods('&filterNamespaces=b&filter=pod:"db-0"') == [["db-0"]]
    assert await pods("&filterNamespaces=b&filterPods=db*") == await pods(
        '&filter=namespace:"b"+pod<~:"db"'
    )


async def test_assets_in_kubecosts_form_as_kubectl_cost_node_asks(tiny_client: TestClient) -> None:
    base = f"/model/assets?window={TINY_DAY}&accumulate=true"
    nodes = await (await tiny_client.get(base + "&filterTypes=Node")).json()
    v2 = await (await tiny_client.get(base + "&filter=" + quote('assetType:"node"'))).json()
    # the list of sets Kubecost answers (kubectl-cost reads data[0]), of the same nodes
    assert isinstance(nodes["data"], list) and nodes["data"] == [v2["data"]]
    assert sorted(a["type"] for a in nodes["data"][0].values()) == ["Node", "Node"]
    everything = await (await tiny_client.get(base)).json()
    assert isinstance(everything["data"], dict) and len(everything["data"]) > 2
    assert (await (await tiny_client.get(base + "&filterTypes=")).json())["data"] == [
        everything["data"]
    ]
    # v2 compares the lower-cased type, as OpenCost does
    upper = await (await tiny_client.get(base + "&filter=" + quote('assetType:"Node"'))).json()
    assert upper["data"] == {}


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (
            "filterLabels=nginx",
            "invalid 'filterLabels' parameter: 'nginx'; accepted: comma-separated key:value "
            "pairs, e.g. filterLabels=app:nginx",
        ),
        (
            'filterNamespaces=a"b',
            "invalid 'filterNamespaces' parameter: 'a\"b'; accepted: values without double "
            "quotes or brackets",
        ),
        (
            "shareCost=1e308",
            "invalid 'shareCost' parameter: '1e308'; accepted: a monthly amount from 0 to "
            "1e+12, e.g. 250.00",
        ),
        (
            "aggregate=namespace,namespace",
            "invalid 'aggregate' parameter: 'namespace,namespace'; accepted: each key at most "
            "once (namespace is repeated)",
        ),
    ],
)
async def test_values_that_used_to_be_silently_wrong(
    tiny_client: TestClient, query: str, message: str
) -> None:
    assert await error_of(tiny_client, f"/allocation?window={TINY_DAY}&{query}") == message


async def test_sharing_by_a_hidden_label_is_refused_like_filtering_by_it(
    aiohttp_client: Any,
) -> None:
    from costreport.engine.privacy import LabelPolicy

    settings = ApiSettings(policy=LabelPolicy(allowed=("app",)))
    client = await aiohttp_client(create_app(TinySource(), settings))
    message = await error_of(client, f"/allocation?window={TINY_DAY}&shareLabels=owner:alice")
    assert message.startswith("invalid 'shareLabels' parameter: 'owner:alice'; accepted: ")
    assert message.endswith("'owner' is not")


async def test_an_overlong_request_line_is_the_json_414(tiny_client: TestClient) -> None:
    long = "x" * 9000
    response = await tiny_client.get(f"/allocation?window={TINY_DAY}&filter={long}")
    assert response.status == 414
    body = await response.json()
    assert body["message"] == "the query string is longer than 4096 characters"
