"""`kubectl costreport`: verbs, options and the monthly projection, by hand on the tiny cluster.

Tiny cluster day (24 h): namespaces a 2.40, b 14.55, c 0.12, unmounted 0.24; a's CPU 1.20.
Monthly rate = day cost ÷ 24 h × 730 h: a 73.00, b 442.56…, c 3.65.
Nodes (the node verb: node assets, as kubectl-cost's): n1 CPU 4.80 + RAM 3.84 = 8.64;
n2 (50 % discount, from 12:00) CPU 1.20 + RAM 0.96 + GPU 24.00 = 26.16; monthly n1 262.80,
n2 795.70.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from aiohttp.test_utils import TestServer

from costreport.api.app import ApiSettings, create_app
from costreport.cli.plugin import build_plugin_parser, main, params_for, run
from tests.api.conftest import TINY_DAY, TinySource


@pytest.fixture
async def api() -> Any:
    server = TestServer(create_app(TinySource(), ApiSettings()))
    await server.start_server()
    yield f"http://127.0.0.1:{server.port}"
    await server.close()


def parse(*argv: str) -> Any:
    return build_plugin_parser().parse_args(list(argv))


def test_verbs_are_allocation_queries() -> None:
    assert params_for(parse("namespace"))["aggregate"] == "namespace"
    assert params_for(parse("deployment", "-n", "a"))["filter"] == 'namespace:"a"'
    assert params_for(parse("deployment", "-n", "a", "-A")).get("filter") is None
    assert params_for(parse("label", "--label", "team"))["aggregate"] == "label:team"
    assert params_for(parse("pod"))["aggregate"] == "namespace,pod"


async def test_the_monthly_rate_and_the_historical_cost(api: str) -> None:
    monthly = await run(parse("namespace", "--window", TINY_DAY, "--api", api, "-o", "json"))
    rows = {r["name"]: r["MONTHLY RATE"] for r in orjson.loads(monthly)["rows"]}
    assert rows["a"] == pytest.approx(2.40 / 24 * 730)
    assert rows["c"] == pytest.approx(0.12 / 24 * 730)
    historical = await run(
        parse(
            "namespace",
            "--window",
            TINY_DAY,
            "--api",
            api,
            "--historical",
            "--show-cpu",
            "-o",
            "csv",
        )
    )
    lines = historical.splitlines()
    assert lines[0] == "NAME,CPU,COST"
    assert "a,1.200000,2.400000" in lines
    table = await run(parse("namespace", "--window", TINY_DAY, "--api", api, "-n", "a"))
    assert table.splitlines() == [
        "NAME   MONTHLY RATE",
        "a         73.00 USD",
        "-------------------",
        "TOTAL     73.00 USD",
        f"{TINY_DAY}: 24.0 h, projected to 730 h a month",
    ]


def test_the_label_verb_needs_a_label(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["label", "--source", "sample"]) == 2
    assert capsys.readouterr().err.strip() == (
        "kubectl-costreport: invalid 'label' parameter: ''; accepted: a label key with the "
        "label verb, e.g. --label team"
    )


async def test_the_node_verb_shows_each_nodes_own_cost(api: str) -> None:
    common = ["node", "--window", TINY_DAY, "--show-all-resources"]
    historical = await run(parse(*common, "--historical", "--api", api, "-o", "json"))
    rows = {r["name"]: r for r in orjson.loads(historical)["rows"]}
    assert {n: round(r["COST"], 6) for n, r in rows.items()} == {"n1": 8.64, "n2": 26.16}
    parts = {n: tuple(round(r[c], 6) for c in ("CPU", "RAM", "GPU")) for n, r in rows.items()}
    assert parts == {"n1": (4.8, 3.84, 0.0), "n2": (1.2, 0.96, 24.0)}
    assert "EFFICIENCY" not in rows["n1"] and "PV" not in rows["n1"]  # not node columns
    monthly = await run(parse(*common, "--api", api, "-o", "json"))
    rates = {r["name"]: round(r["MONTHLY RATE"], 6) for r in orjson.loads(monthly)["rows"]}
    assert rates == {"n1": 262.8, "n2": 795.7}


async def test_the_node_verb_local_and_remote_agree() -> None:
    from costreport.sources.sample import SampleSource

    server = TestServer(create_app(SampleSource(), ApiSettings()))
    await server.start_server()
    try:
        common = ["node", "--window", "yesterday", "--historical", "--show-cpu", "-o", "json"]
        remote = await run(parse(*common, "--api", f"http://127.0.0.1:{server.port}"))
        local = await run(parse(*common, "--source", "sample"))
    finally:
        await server.close()
    assert local == remote
    assert len(orjson.loads(local)["rows"]) == 5  # the sample's five nodes


def test_the_node_verb_takes_no_namespace(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["node", "-n", "a"]) == 2
    assert capsys.readouterr().err.strip() == (
        "kubectl-costreport: invalid 'namespace' parameter: 'a'; accepted: no namespace with "
        "the node verb (nodes are cluster-wide)"
    )
