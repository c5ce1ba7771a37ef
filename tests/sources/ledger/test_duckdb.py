"""The Parquet layout is the interface: DuckDB reads the ledger and gets the API's numbers."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import duckdb
import pytest

from costreport.api.app import ApiSettings, create_app
from costreport.sources.ledger import LedgerSource, LedgerStore
from costreport.sources.sample import SampleSource
from tests.sources.ledger.conftest import FORTY_NOW


async def test_duckdb_reads_the_same_30_day_namespace_costs_as_the_api(
    forty_days: tuple[SampleSource, LedgerStore], aiohttp_client: Any
) -> None:
    _, store = forty_days
    end = int(FORTY_NOW.timestamp())
    start = end - 30 * 86400
    settings = ApiSettings(clock=lambda: FORTY_NOW)
    client = await aiohttp_client(create_app(LedgerSource(store), settings))
    response = await client.get(f"/allocation?window={start},{end}&aggregate=namespace")
    assert response.status == 200
    [day] = (await response.json())["data"]
    api = {name: row["totalCost"] for name, row in day.items()}
    rows = duckdb.sql(
        f"""
        SELECT coalesce(nullif(namespace, ''), '__unmounted__') AS namespace,
               sum(total_cost) AS cost
        FROM read_parquet('{store.root}/cluster=*/date=*/part=*/allocations.parquet',
                          hive_partitioning = true)
        WHERE start >= {start} AND "end" <= {end}
        GROUP BY 1 ORDER BY 1
        """
    ).fetchall()
    sql = dict(rows)
    assert set(sql) == set(api)
    for namespace, cost in api.items():
        assert sql[namespace] == pytest.approx(cost, rel=1e-9), namespace
    partitions = duckdb.sql(
        f"""SELECT count(DISTINCT date) FROM read_parquet(
            '{store.root}/cluster=*/date=*/part=*/segments.parquet', hive_partitioning = true)
            WHERE cluster = 'sample-cluster'"""
    ).fetchall()
    assert partitions == [(41,)]  # 40 days from 12:00 touch 41 dates
    assert timedelta(days=30).total_seconds() == end - start


async def test_ledger_metrics(
    forty_days: tuple[SampleSource, LedgerStore], aiohttp_client: Any
) -> None:
    _, store = forty_days
    later = FORTY_NOW + timedelta(hours=2)
    client = await aiohttp_client(create_app(LedgerSource(store), ApiSettings(clock=lambda: later)))
    text = await (await client.get("/metrics")).text()
    # 2026-11-08T12:00:00Z, as Prometheus' text format writes it
    assert (
        'costreport_ledger_last_closed_timestamp_seconds{cluster="sample-cluster"} 1.7941392e+09'
        in text
    )
    assert FORTY_NOW.timestamp() == 1.7941392e09
    assert 'costreport_ledger_lag_seconds{cluster="sample-cluster"} 7200.0' in text
    size = next(x for x in text.splitlines() if x.startswith("costreport_ledger_bytes "))
    assert float(size.split()[1]) == store.size_bytes() > 0
