"""FOCUS 1.3 allocation rows written out: CSV text or Parquet, with one typed schema."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import pyarrow as pa

from costreport.engine.focus_export import COLUMNS

DECIMALS = {
    "BilledCost",
    "ContractedCost",
    "EffectiveCost",
    "ListCost",
    "ConsumedQuantity",
    "PricingQuantity",
}
DATETIMES = {"BillingPeriodStart", "BillingPeriodEnd", "ChargePeriodStart", "ChargePeriodEnd"}
SCHEMA = pa.schema(
    [
        pa.field(
            name,
            pa.float64()
            if name in DECIMALS
            else pa.timestamp("s", tz="UTC")
            if name in DATETIMES
            else pa.string(),
        )
        for name in COLUMNS
    ],
    metadata={"focus.version": "1.3"},
)
"""Decimals as float64, date/times as UTC timestamps, JSON columns as JSON text."""


def csv_header() -> str:
    """The CSV header line."""
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow(COLUMNS)
    return out.getvalue()


def csv_rows(rows: Iterable[Mapping[str, Any]]) -> str:
    """Rows as CSV lines (empty cells for nulls; decimals with full precision)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for r in rows:
        writer.writerow(
            [
                "" if r[c] is None else (repr(float(r[c])) if c in DECIMALS else r[c])
                for c in COLUMNS
            ]
        )
    return out.getvalue()


def table(rows: Iterable[Mapping[str, Any]]) -> pa.Table:
    """Rows as an Arrow table in `SCHEMA`."""
    listed = list(rows)
    columns: dict[str, list[Any]] = {}
    for name in COLUMNS:
        values = [r[name] for r in listed]
        if name in DATETIMES:
            values = [
                datetime.fromisoformat(v.replace("Z", "+00:00")) if v else None for v in values
            ]
        columns[name] = values
    return pa.table(columns, schema=SCHEMA)
