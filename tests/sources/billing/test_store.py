"""Bills into the ledger: incremental, atomic per file, bad files isolated; local and S3."""

from __future__ import annotations

import uuid
from pathlib import Path

import pyarrow.fs as pafs
import pytest

from costreport.sources.billing.store import BillingStore
from costreport.sources.ledger import LedgerStore
from tests.sources.billing.test_focus import HEADER, ROWS


@pytest.fixture(params=["local", "s3"])
def billing_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where bill files are: a directory, or a bucket prefix on the S3 server."""
    if request.param == "local":
        (tmp_path / "bills").mkdir()
        return str(tmp_path / "bills")
    endpoint = request.getfixturevalue("s3_endpoint")
    bucket = f"bills-{uuid.uuid4().hex[:12]}"
    return (
        f"s3://{bucket}/exports?endpoint_override={endpoint}&scheme=http&region=us-east-1"
        "&allow_bucket_creation=true"
    )


def put(url: str, name: str, text: str) -> None:
    fs, root = pafs.FileSystem.from_uri(url) if "://" in url else (pafs.LocalFileSystem(), url)
    fs.create_dir(f"{root}/{name}".rsplit("/", 1)[0], recursive=True)
    with fs.open_output_stream(f"{root}/{name}") as out:
        out.write(text.encode())


def test_only_new_or_changed_files_are_read(ledger_url: str, billing_url: str) -> None:
    store = BillingStore(LedgerStore(ledger_url))
    put(billing_url, "2026-11/focus.csv", HEADER + ROWS)
    put(billing_url, "2026-11/notes.txt", "not a bill")
    first = store.ingest(billing_url)
    assert first.ingested == ["2026-11/focus.csv"] and first.rows == 3 and first.failed == {}
    again = store.ingest(billing_url)
    assert again.ingested == [] and again.unchanged == 1
    assert store.read(0, 4e9).num_rows == 3
    # A restated file replaces its rows (never adds to them).
    put(billing_url, "2026-11/focus.csv", HEADER + ROWS.splitlines(keepends=True)[0])
    changed = store.ingest(billing_url)
    assert changed.ingested == ["2026-11/focus.csv"]
    assert store.read(0, 4e9)["effective_cost"].to_pylist() == [7.2]
    [entry] = store.entries()
    assert entry["rows"] == 1 and entry["version"] == "1.0" and entry["error"] is None
    data_files = LedgerStore(ledger_url).list_files("_billing/data")
    assert data_files == [entry["data"]]  # the old version's file is gone


def test_a_bad_file_affects_only_itself_and_keeps_its_last_good_rows(
    ledger_url: str, billing_url: str
) -> None:
    store = BillingStore(LedgerStore(ledger_url))
    put(billing_url, "a.csv", HEADER + ROWS)
    put(billing_url, "b.csv", HEADER + ROWS)
    assert sorted(store.ingest(billing_url).ingested) == ["a.csv", "b.csv"]
    put(billing_url, "a.csv", HEADER + ROWS.replace(",7.2,0,0,", ",lots,0,0,"))
    put(billing_url, "c.csv", "garbage\n")
    report = store.ingest(billing_url)
    assert report.failed == {
        "a.csv": "a.csv, row 2, column BilledCost: 'lots' is not a decimal number",
        "c.csv": "c.csv: not a FOCUS Cost and Usage file: missing ChargePeriodStart, "
        "ChargePeriodEnd, BilledCost, EffectiveCost (FOCUS 1.0–1.3 columns, any case, "
        "with or without underscores)",
    }
    assert store.read(0, 4e9).num_rows == 6  # a.csv's previous rows and b.csv's
    entries = {e["path"]: e for e in store.entries()}
    assert entries["a.csv"]["error"].startswith("a.csv, row 2") and entries["a.csv"]["rows"] == 3
    assert entries["c.csv"]["data"] is None


def test_a_crash_before_the_manifest_leaves_nothing_visible(tmp_path: Path) -> None:
    ledger = LedgerStore(str(tmp_path / "ledger"))
    store = BillingStore(ledger)
    bills = tmp_path / "bills"
    bills.mkdir()
    (bills / "a.csv").write_text(HEADER + ROWS)

    class Crash(Exception):
        pass

    original = ledger.write_json

    def crash(relative: str, body: object) -> None:
        raise Crash(relative)

    ledger.write_json = crash  # type: ignore[method-assign]
    with pytest.raises(Crash):
        store.ingest(str(bills))
    ledger.write_json = original  # type: ignore[method-assign]
    assert store.entries() == [] and store.read(0, 4e9).num_rows == 0  # data file, no entry
    assert store.ingest(str(bills)).ingested == ["a.csv"]  # the retry reads it, once
    assert store.read(0, 4e9).num_rows == 3
