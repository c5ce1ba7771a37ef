"""Reading FOCUS files: columns by name, types, vendors' spellings, and exact errors."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest

from costreport.sources.billing.focus import MAX_COLUMNS, BillError, parse_tags, read_focus

HEADER = (
    "ChargePeriodStart,ChargePeriodEnd,BilledCost,EffectiveCost,ListCost,ChargeCategory,"
    "ProviderName,ResourceId,ServiceName,ServiceCategory,Tags\n"
)
ROWS = (
    "2026-11-01T00:00:00Z,2026-11-02T00:00:00Z,0,7.2,10,Usage,AWS,i-1,Amazon EC2,Compute,"
    '"{""team"": ""a""}"\n'
    "2026-11-01T00:00:00Z,2026-11-02T00:00:00Z,7.2,0,0,Purchase,AWS,sp-1,Savings Plans,Compute,{}\n"
    "2026-11-01 00:00:00,2026-12-01 00:00:00,-5.5,-5.5,,Credit,AWS,,Amazon EC2,Compute,\n"
)


def read(path: Path) -> pa.Table:
    table, _ = read_focus(pafs.LocalFileSystem(), str(path), path.name)
    return table


def test_a_csv_bill_is_normalised(tmp_path: Path) -> None:
    path = tmp_path / "bill.csv"
    path.write_text(HEADER + ROWS)
    table, report = read_focus(pafs.LocalFileSystem(), str(path), "bill.csv")
    assert report.rows == 3 and report.version == "1.0"
    rows = table.to_pylist()
    assert [r["start"] for r in rows] == [1793491200.0] * 3  # 2026-11-01T00:00Z
    assert rows[2]["end"] == 1796083200.0  # naive times are UTC
    assert [(r["billed_cost"], r["effective_cost"], r["list_cost"]) for r in rows] == [
        (0.0, 7.2, 10.0),
        (7.2, 0.0, 0.0),
        (-5.5, -5.5, 0.0),  # an empty ListCost is 0
    ]
    assert [r["charge_category"] for r in rows] == ["Usage", "Purchase", "Credit"]
    assert rows[0]["labels"] == [("team", "a")] and rows[2]["labels"] == []
    assert rows[0]["category"] == "Compute" and rows[0]["provider"] == "AWS"


def test_vendor_spellings_and_formats_read_the_same(tmp_path: Path) -> None:
    plain = tmp_path / "bill.csv"
    plain.write_text(HEADER + ROWS)
    snake = tmp_path / "azure.csv"  # snake_case / lower-case headers
    snake.write_text(
        HEADER.replace("ChargePeriodStart", "charge_period_start")
        .replace("BilledCost", "billedcost")
        .replace("ServiceName", "service_name")
        + ROWS
    )
    zipped = tmp_path / "aws.csv.gz"
    zipped.write_bytes(gzip.compress((HEADER + ROWS).encode()))
    parquet = tmp_path / "gcp.parquet"
    reference = read(plain)
    raw = pa.table(
        {
            "ChargePeriodStart": pa.array(reference["start"].to_pylist(), pa.float64())
            .cast(pa.int64())
            .cast(pa.timestamp("s", tz="UTC")),
            "ChargePeriodEnd": pa.array(reference["end"].to_pylist(), pa.float64())
            .cast(pa.int64())
            .cast(pa.timestamp("s", tz="UTC")),
            "BilledCost": pa.array([0, 7.2, -5.5], pa.float64()),
            "EffectiveCost": pa.array([7.2, 0, -5.5], pa.float64()),
            "ListCost": pa.array([10, 0, None], pa.float64()),
            "ChargeCategory": ["Usage", "Purchase", "Credit"],
            "ProviderName": ["AWS"] * 3,
            "ResourceId": ["i-1", "sp-1", None],
            "ServiceName": ["Amazon EC2", "Savings Plans", "Amazon EC2"],
            "ServiceCategory": ["Compute"] * 3,
            "Tags": pa.array([[("team", "a")], [], None], pa.map_(pa.string(), pa.string())),
        }
    )
    pq.write_table(raw, parquet)
    for other in (snake, zipped, parquet):
        got = read(other)
        for column in (
            "start",
            "end",
            "billed_cost",
            "effective_cost",
            "list_cost",
            "service",
            "labels",
        ):
            assert got[column].to_pylist() == reference[column].to_pylist(), (other.name, column)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            "a,b\n1,2\n",
            "bill.csv: not a FOCUS Cost and Usage file: missing ChargePeriodStart, "
            "ChargePeriodEnd, BilledCost, EffectiveCost "
            "(FOCUS 1.0–1.3 columns, any case, with or without underscores)",
        ),
        (
            HEADER + ROWS.replace(",7.2,0,0,", ",7.2x,0,0,"),
            "bill.csv, row 2, column BilledCost: '7.2x' is not a decimal number",
        ),
        (
            HEADER + ROWS.replace("2026-11-01 00:00:00", "yesterday"),
            "bill.csv, row 3, column ChargePeriodStart: 'yesterday' is not an ISO 8601 "
            "date/time (e.g. 2026-11-01T00:00:00Z)",
        ),
        (
            HEADER + ROWS.replace("2026-12-01 00:00:00", "2026-10-01 00:00:00"),
            "bill.csv, row 3, column ChargePeriodEnd: ChargePeriodEnd is before ChargePeriodStart",
        ),
        (
            HEADER + ROWS.replace('"{""team"": ""a""}"', '"{""team"": {""x"": 1}}"'),
            "bill.csv, row 1, column Tags: tag 'team' is nested (Tags must be flat)",
        ),
        (
            HEADER + ROWS.replace('"{""team"": ""a""}"', "not-json"),
            "bill.csv, row 1, column Tags: Tags is not a JSON object",
        ),
        (
            ",".join(f"c{i}" for i in range(MAX_COLUMNS + 1)) + "\n",
            f"bill.csv: {MAX_COLUMNS + 1} columns; at most {MAX_COLUMNS} are read",
        ),
    ],
)
def test_a_bad_file_is_one_clear_error(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bill.csv"
    path.write_text(content)
    with pytest.raises(BillError) as caught:
        read(path)
    assert str(caught.value) == message


def test_a_truncated_gzip_is_an_error_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "cut.csv.gz"
    path.write_bytes(gzip.compress((HEADER + ROWS * 200).encode())[:300])
    with pytest.raises(BillError, match=r"^cut\.csv\.gz: unreadable: "):
        read(path)


def test_tags_limits() -> None:
    assert parse_tags('{"a": "1", "b": 2}') == [("a", "1"), ("b", "2")]
    assert parse_tags([{"key": "k", "value": "v"}]) == [("k", "v")]
    with pytest.raises(BillError, match="more than 256 tags"):
        parse_tags(json.dumps({f"k{i}": "v" for i in range(257)}))
    with pytest.raises(BillError, match="Tags over 65536 bytes"):
        parse_tags(json.dumps({"k": "v" * 70000}))
