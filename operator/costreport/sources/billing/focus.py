"""FOCUS Cost and Usage files (1.0–1.3; CSV, CSV.gz, Parquet) → one normalised table.

Columns are found by their FOCUS names, case-insensitively and with or without underscores
(`BilledCost`, `billed_cost`), so the exports of AWS Data Exports (FOCUS 1.0), Azure Cost
Management (FOCUS 1.0/1.2) and the GCP BigQuery FOCUS view read the same way. Required:
`ChargePeriodStart`, `ChargePeriodEnd`, `BilledCost`, `EffectiveCost`. A bad file is one clear
error naming the file, the row (1-based, data rows) and the column; nothing of it is kept.

Limits: at most `MAX_COLUMNS` columns, `MAX_TAGS_BYTES` per Tags value (a flat JSON object or a
list of key/value pairs, at most `MAX_TAGS` keys), CSV read in blocks of `BLOCK_BYTES`.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.fs as pafs
import pyarrow.parquet as pq

MAX_COLUMNS = 512
MAX_TAGS_BYTES = 64 * 1024
MAX_TAGS = 256
BLOCK_BYTES = 16 << 20

REQUIRED = ("ChargePeriodStart", "ChargePeriodEnd", "BilledCost", "EffectiveCost")
OPTIONAL = (
    "ListCost",
    "ContractedCost",
    "ChargeCategory",
    "ServiceProviderName",
    "ProviderName",
    "InvoiceIssuerName",
    "BillingAccountId",
    "BillingAccountName",
    "SubAccountId",
    "SubAccountName",
    "RegionId",
    "AvailabilityZone",
    "ResourceId",
    "ResourceName",
    "ResourceType",
    "ServiceName",
    "ServiceCategory",
    "BillingCurrency",
    "PricingCategory",
    "CommitmentDiscountId",
    "Tags",
)

SERVICE_CATEGORIES = {
    "compute": "Compute",
    "storage": "Storage",
    "networking": "Network",
    "management and governance": "Management",
}
"""FOCUS `ServiceCategory` → OpenCost's cloud-cost category (anything else: Other)."""

NORMALISED = pa.schema(
    [
        ("start", pa.float64()),
        ("end", pa.float64()),
        ("billed_cost", pa.float64()),
        ("effective_cost", pa.float64()),
        ("list_cost", pa.float64()),
        ("contracted_cost", pa.float64()),
        ("charge_category", pa.string()),
        ("provider", pa.string()),
        ("invoice_entity_id", pa.string()),
        ("invoice_entity_name", pa.string()),
        ("account_id", pa.string()),
        ("account_name", pa.string()),
        ("region_id", pa.string()),
        ("availability_zone", pa.string()),
        ("provider_id", pa.string()),
        ("resource_name", pa.string()),
        ("resource_type", pa.string()),
        ("service", pa.string()),
        ("category", pa.string()),
        ("currency", pa.string()),
        ("pricing_category", pa.string()),
        ("commitment_id", pa.string()),
        ("labels", pa.map_(pa.string(), pa.string())),
        ("tags", pa.string()),  # the labels as sorted JSON: one value to group lines by
    ]
)
"""What the ledger keeps of a bill line (times in unix seconds, costs in the bill's currency)."""

COLUMN_OF = {
    "providerID": "provider_id",
    "provider": "provider",
    "accountID": "account_id",
    "accountName": "account_name",
    "invoiceEntityID": "invoice_entity_id",
    "invoiceEntityName": "invoice_entity_name",
    "regionID": "region_id",
    "availabilityZone": "availability_zone",
    "service": "service",
    "category": "category",
}
"""The normalised column behind each OpenCost cloud-cost property (`model.billing.PROPERTIES`)."""


class BillError(ValueError):
    """A FOCUS file that cannot be read: says which file, row and column."""

    def __init__(self, path: str, message: str, row: int | None = None, column: str = "") -> None:
        where = path + (f", row {row}" if row is not None else "")
        where += f", column {column}" if column else ""
        super().__init__(f"{where}: {message}")
        self.path, self.row, self.column = path, row, column


@dataclass(frozen=True, slots=True)
class ReadReport:
    """What reading one file found."""

    rows: int
    version: str


def _canonical(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _columns(path: str, names: list[str]) -> dict[str, str]:
    if len(names) > MAX_COLUMNS:
        raise BillError(path, f"{len(names)} columns; at most {MAX_COLUMNS} are read")
    by_canonical = {_canonical(n): n for n in names}
    found = {
        c: by_canonical[_canonical(c)]
        for c in (*REQUIRED, *OPTIONAL)
        if _canonical(c) in by_canonical
    }
    missing = [c for c in REQUIRED if c not in found]
    if missing:
        raise BillError(
            path,
            f"not a FOCUS Cost and Usage file: missing {', '.join(missing)} "
            f"(FOCUS 1.0–1.3 columns, any case, with or without underscores)",
        )
    return found


_DECIMAL = r"^\s*[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?\s*$"


def _numbers(path: str, column: str, values: pa.ChunkedArray | pa.Array, offset: int) -> pa.Array:
    """A decimal column as float64 (empty: 0)."""
    if (
        pa.types.is_floating(values.type)
        or pa.types.is_integer(values.type)
        or pa.types.is_decimal(values.type)
    ):
        return pc.fill_null(pc.cast(values, pa.float64()), 0.0)
    text = pc.cast(values, pa.string())
    blank = pc.fill_null(pc.equal(pc.utf8_trim_whitespace(text), ""), True)
    good = pc.or_(blank, pc.fill_null(pc.match_substring_regex(text, _DECIMAL), False))
    if not pc.all(good, min_count=0).as_py():
        bad = pc.index(good, False).as_py()
        raise BillError(
            path, f"{text[bad].as_py()!r} is not a decimal number", offset + bad + 1, column
        )
    cleaned = pc.if_else(blank, "0", text)
    out = pc.cast(cleaned, pa.float64())
    if not pc.all(pc.is_finite(out), min_count=0).as_py():
        bad = pc.index(pc.is_finite(out), False).as_py()
        raise BillError(path, "not a finite number", offset + bad + 1, column)
    return out


def _times(path: str, column: str, values: pa.ChunkedArray | pa.Array, offset: int) -> pa.Array:
    """A date/time column as unix seconds (UTC; naive times are UTC, as FOCUS requires)."""
    if pa.types.is_timestamp(values.type) or pa.types.is_date(values.type):
        seconds = pc.cast(pc.cast(values, pa.timestamp("s", tz="UTC")), pa.int64())
        if values.null_count:
            bad = pc.index(pc.is_valid(values), False).as_py()
            raise BillError(path, "missing date/time", offset + bad + 1, column)
        return pc.cast(seconds, pa.float64())
    text = pc.cast(values, pa.string())
    out: list[float] = []
    for i, value in enumerate(text.to_pylist()):
        ts = _parse_time(value)
        if math.isnan(ts):
            raise BillError(
                path, f"{value!r} is not an ISO 8601 date/time (e.g. 2026-11-01T00:00:00Z)",
                offset + i + 1, column,
            )  # fmt: skip
        out.append(ts)
    return pa.array(out, pa.float64())


_TIME_CACHE: dict[str, float] = {}


def _parse_time(value: str | None) -> float:
    if value is None or len(value) > 40:
        return math.nan
    cached = _TIME_CACHE.get(value)
    if cached is not None:
        return cached
    text = value.strip().replace("Z", "+00:00")
    if " " in text and "T" not in text:
        text = text.replace(" ", "T", 1)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return math.nan
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)  # FOCUS date/times are UTC
    ts = moment.timestamp()
    if len(_TIME_CACHE) < 100_000:
        _TIME_CACHE[value] = ts
    return ts


def parse_tags(value: Any, path: str = "", row: int | None = None) -> list[tuple[str, str]]:
    """FOCUS `Tags`: a JSON object (CSV), a map or a list of key/value pairs (Parquet)."""
    if value is None or value == "":
        return []
    if isinstance(value, str):
        if len(value) > MAX_TAGS_BYTES:
            raise BillError(path, f"Tags over {MAX_TAGS_BYTES} bytes", row, "Tags")
        try:
            value = json.loads(value)
        except ValueError:
            raise BillError(path, "Tags is not a JSON object", row, "Tags") from None
    pairs: list[tuple[Any, Any]]
    if isinstance(value, Mapping):
        pairs = list(value.items())
    elif isinstance(value, list):
        pairs = []
        for item in value:
            if isinstance(item, Mapping) and "key" in item:
                pairs.append((item.get("key"), item.get("value")))
            elif isinstance(item, list | tuple) and len(item) == 2:
                pairs.append((item[0], item[1]))
            else:
                raise BillError(path, "Tags list items must be key/value pairs", row, "Tags")
    else:
        raise BillError(path, "Tags is not a JSON object", row, "Tags")
    if len(pairs) > MAX_TAGS:
        raise BillError(path, f"more than {MAX_TAGS} tags", row, "Tags")
    out = []
    for k, v in pairs:
        if isinstance(v, Mapping | list):
            raise BillError(path, f"tag {k!r} is nested (Tags must be flat)", row, "Tags")
        out.append((str(k), "" if v is None else str(v)))
    return out


def _strings(table: pa.Table, found: Mapping[str, str], name: str) -> pa.Array:
    column = found.get(name)
    if column is None:
        return pa.nulls(table.num_rows, pa.string())
    return pc.cast(table[column], pa.string())


def normalise(table: pa.Table, path: str, offset: int = 0) -> pa.Table:
    """One batch of a FOCUS file as `NORMALISED` rows (`offset`: rows before the batch)."""
    found = _columns(path, table.column_names)
    out: dict[str, Any] = {
        "start": _times(
            path, found["ChargePeriodStart"], table[found["ChargePeriodStart"]], offset
        ),
        "end": _times(path, found["ChargePeriodEnd"], table[found["ChargePeriodEnd"]], offset),
    }
    for name, column in (
        ("billed_cost", "BilledCost"),
        ("effective_cost", "EffectiveCost"),
        ("list_cost", "ListCost"),
        ("contracted_cost", "ContractedCost"),
    ):
        source = (
            found.get(column) or found["EffectiveCost" if column != "ListCost" else "BilledCost"]
        )
        out[name] = _numbers(path, source, table[source], offset)
    bad = pc.less(out["end"], out["start"])
    if pc.any(bad, min_count=0).as_py():
        row = pc.index(bad, True).as_py()
        raise BillError(
            path,
            "ChargePeriodEnd is before ChargePeriodStart",
            offset + row + 1,
            found["ChargePeriodEnd"],
        )
    provider = _strings(table, found, "ServiceProviderName")
    provider = pc.coalesce(
        provider,
        _strings(table, found, "ProviderName"),
        _strings(table, found, "InvoiceIssuerName"),
        "",
    )
    billing = _strings(table, found, "BillingAccountId")
    out.update(
        charge_category=pc.coalesce(_strings(table, found, "ChargeCategory"), "Usage"),
        provider=provider,
        invoice_entity_id=pc.coalesce(billing, ""),
        invoice_entity_name=pc.coalesce(_strings(table, found, "BillingAccountName"), billing, ""),
        account_id=pc.coalesce(_strings(table, found, "SubAccountId"), billing, ""),
        account_name=pc.coalesce(
            _strings(table, found, "SubAccountName"), _strings(table, found, "SubAccountId"), ""
        ),
        region_id=pc.coalesce(_strings(table, found, "RegionId"), ""),
        availability_zone=pc.coalesce(_strings(table, found, "AvailabilityZone"), ""),
        provider_id=pc.coalesce(_strings(table, found, "ResourceId"), ""),
        resource_name=pc.coalesce(_strings(table, found, "ResourceName"), ""),
        resource_type=pc.coalesce(_strings(table, found, "ResourceType"), ""),
        service=pc.coalesce(_strings(table, found, "ServiceName"), ""),
        currency=pc.coalesce(_strings(table, found, "BillingCurrency"), ""),
        pricing_category=pc.coalesce(_strings(table, found, "PricingCategory"), ""),
        commitment_id=pc.coalesce(_strings(table, found, "CommitmentDiscountId"), ""),
    )
    categories = pc.utf8_lower(pc.coalesce(_strings(table, found, "ServiceCategory"), ""))
    out["category"] = pa.array(
        [SERVICE_CATEGORIES.get(c, "Other") for c in categories.to_pylist()], pa.string()
    )
    tags_column = found.get("Tags")
    if tags_column is None:
        out["labels"] = pa.array([[]] * table.num_rows, NORMALISED.field("labels").type)
        out["tags"] = pa.array(["{}"] * table.num_rows, pa.string())
    else:
        pairs: list[list[tuple[str, str]]] = []
        texts: list[str] = []
        seen: dict[Any, tuple[list[tuple[str, str]], str]] = {}
        for i, v in enumerate(table[tags_column].to_pylist()):
            cached = seen.get(v) if isinstance(v, str) else None
            if cached is None:
                parsed = sorted(parse_tags(v, path, offset + i + 1))
                cached = (parsed, json.dumps(dict(parsed), sort_keys=True))
                if isinstance(v, str) and len(seen) < 100_000:
                    seen[v] = cached
            pairs.append(cached[0])
            texts.append(cached[1])
        out["labels"] = pa.array(pairs, NORMALISED.field("labels").type)
        out["tags"] = pa.array(texts, pa.string())
    return pa.table(out, schema=NORMALISED)


def version_of(names: list[str]) -> str:
    """The FOCUS version a column set looks like."""
    canonical = {_canonical(n) for n in names}
    if canonical & {"serviceprovidername", "hostprovidername", "allocatedresourceid"}:
        return "1.3"
    if canonical & {"billingaccounttype", "subaccounttype", "invoiceid", "pricingcurrency"}:
        return "1.2"
    if canonical & {"capacityreservationid", "commitmentdiscountquantity", "servicesubcategory"}:
        return "1.1"
    return "1.0"


def read_batches(
    fs: pafs.FileSystem, path: str, display: str
) -> Iterator[tuple[pa.Table, list[str]]]:
    """The file's raw batches (strings for CSV) with its column names, streamed."""
    lower = path.lower()
    try:
        if lower.endswith(".parquet"):
            with fs.open_input_file(path) as handle:
                reader = pq.ParquetFile(handle)
                names = reader.schema_arrow.names
                if len(names) > MAX_COLUMNS:
                    raise BillError(
                        display, f"{len(names)} columns; at most {MAX_COLUMNS} are read"
                    )
                yield reader.schema_arrow.empty_table(), names  # columns checked even when empty
                for batch in reader.iter_batches(batch_size=65536):
                    yield pa.Table.from_batches([batch]), names
            return
        compression = "gzip" if lower.endswith(".gz") else None
        with fs.open_input_stream(path, compression=compression) as handle:
            header = pacsv.open_csv(handle, read_options=pacsv.ReadOptions(block_size=1 << 20))
            names = header.schema.names
        if len(names) > MAX_COLUMNS:
            raise BillError(display, f"{len(names)} columns; at most {MAX_COLUMNS} are read")
        with fs.open_input_stream(path, compression=compression) as handle:
            # Every column as text: types are checked here, row by row, with a clear error
            # (Arrow's inference would fix a type from the first block and fail later).
            reader = pacsv.open_csv(
                handle,
                read_options=pacsv.ReadOptions(block_size=BLOCK_BYTES),
                convert_options=pacsv.ConvertOptions(
                    column_types=dict.fromkeys(names, pa.string()), strings_can_be_null=False
                ),
                parse_options=pacsv.ParseOptions(newlines_in_values=True),
            )
            if len(names) > MAX_COLUMNS:
                raise BillError(display, f"{len(names)} columns; at most {MAX_COLUMNS} are read")
            yield pa.table({n: pa.array([], pa.string()) for n in names}), names
            for batch in reader:
                yield pa.Table.from_batches([batch]), names
    except BillError:
        raise
    except (pa.ArrowInvalid, OSError, EOFError, ValueError) as error:
        raise BillError(display, f"unreadable: {str(error).splitlines()[0][:300]}") from None


def normalised_batches(
    fs: pafs.FileSystem, path: str, display: str
) -> Iterator[tuple[pa.Table, str]]:
    """The file's rows normalised, batch by batch (memory bounded by a batch), with the FOCUS
    version its columns look like; raises `BillError` at the first bad row."""
    rows = 0
    for batch, names in read_batches(fs, path, display):
        yield normalise(batch, display, rows), version_of(names)
        rows += batch.num_rows


def read_focus(fs: pafs.FileSystem, path: str, display: str) -> tuple[pa.Table, ReadReport]:
    """A whole FOCUS file, normalised, in memory (tests and small files)."""
    parts: list[pa.Table] = []
    versions = ["1.0"]
    for table, seen in normalised_batches(fs, path, display):
        parts.append(table)
        versions.append(seen)
    table = pa.concat_tables(parts) if parts else NORMALISED.empty_table()
    return table, ReadReport(table.num_rows, versions[-1])
