"""`kubectl costreport`: verbs, options and the monthly projection, by hand on the tiny cluster.

Tiny cluster day (24 h): namespaces a 2.40, b 14.55, c 0.12, unmounted 0.24; a's CPU 1.20.
Monthly rate = day cost ÷ 24 h × 730 h: a 73.00, b 442.56…, c 3.65.
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
