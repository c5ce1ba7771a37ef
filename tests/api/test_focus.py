"""`/allocation/focus`: FOCUS rows streamed as CSV or Parquet, scoped to the caller."""

from __future__ import annotations

import csv
import io

import pyarrow.parquet as pq
import pytest
from aiohttp.test_utils import TestClient

from tests.api.conftest import TINY_DAY, ClientFactory
from tests.api.fake_kube import FakeKubeApi
from tests.api.test_auth import bearer, secured


def totals(rows: list[dict[str, str]]) -> dict[str, float]:
    out: dict[str, float] = {}
    for r in rows:
        out[r["ResourceId"]] = out.get(r["ResourceId"], 0.0) + float(r["EffectiveCost"])
    return out


async def test_csv_and_parquet(tiny_client: TestClient) -> None:
    response = await tiny_client.get(f"/allocation/focus?window={TINY_DAY}")
    assert response.status == 200 and response.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(await response.text())))
    # The tiny cluster at list: nodes n1 8.64, n2 26.16 (every pod row plus its idle row),
    # volumes 0.24 each, the balancer 0.72: 36.00 in all.
    assert totals(rows) == pytest.approx(
        {"i-n1": 8.64, "i-n2": 26.16, "vol-1": 0.24, "vol-2": 0.24, "c1/a/web": 0.72}
    )
    assert {r["x_CostBasis"] for r in rows} == {"list"}
    parquet = await tiny_client.get(f"/model/allocation/focus?window={TINY_DAY}&format=parquet")
    table = pq.read_table(io.BytesIO(await parquet.read()))
    assert table.num_rows == len(rows)
    assert sum(table["EffectiveCost"].to_pylist()) == pytest.approx(36.0)
    bad = await tiny_client.get(f"/allocation/focus?window={TINY_DAY}&format=xlsx")
    assert bad.status == 400
    assert (await bad.json())["message"] == (
        "invalid 'format' parameter: 'xlsx'; accepted: csv (default) or parquet"
    )


async def test_a_namespace_reader_gets_only_its_pods(aiohttp_client: ClientFactory) -> None:
    client = await secured(aiohttp_client, FakeKubeApi())
    response = await client.get(
        f"/allocation/focus?window={TINY_DAY}", headers=bearer("team-a-token")
    )
    rows = list(csv.DictReader(io.StringIO(await response.text())))
    assert {r["x_Namespace"] for r in rows} == {"a"}
    assert all(r["AllocatedResourceId"] for r in rows)  # no unallocated (every tenant's) rows
    nobody = await client.get(
        f"/allocation/focus?window={TINY_DAY}", headers=bearer("nothing-token")
    )
    assert nobody.status == 403
