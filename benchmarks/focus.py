"""FOCUS bills: ingesting a large CSV with bounded memory, and cloud-cost queries over it.

Generates an AWS-style FOCUS 1.2 CSV of about `--mb` MB (hourly EC2/EBS usage lines of many
resources with tags), then, each in a fresh process so peak RSS is its own:

- baseline: `pyarrow.csv.read_csv` of the whole file (what "read it" costs at the least);
- ingest: `BillingStore.ingest` — checked, normalised, streamed into the ledger batch by batch;
- query: `/cloudCost/view/table` for the month aggregated by service, over the ingested bill.

    .venv/bin/python benchmarks/focus.py [--mb 1024]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from modes import compare, peak_mib

HEADER = (
    "BillingAccountId,BillingAccountName,BillingCurrency,ChargeCategory,ChargePeriodStart,"
    "ChargePeriodEnd,BilledCost,EffectiveCost,ListCost,ContractedCost,ProviderName,SubAccountId,"
    "RegionId,AvailabilityZone,ResourceId,ResourceName,ResourceType,ServiceName,ServiceCategory,"
    "PricingCategory,Tags\n"
)
START = datetime(2026, 10, 1, tzinfo=UTC).timestamp()


def generate(path: Path, megabytes: float) -> int:
    """Write the CSV; returns its rows."""
    rng = random.Random(7)
    target = megabytes * 1e6
    rows = 0
    with path.open("w") as out:
        out.write(HEADER)
        written = len(HEADER)
        hour = 0
        while written < target:
            stamp = datetime.fromtimestamp(START + hour * 3600, tz=UTC).strftime(
                "%Y-%m-%dT%H:%M:%SZ"
            )
            until = datetime.fromtimestamp(START + (hour + 1) * 3600, tz=UTC).strftime(
                "%Y-%m-%dT%H:%M:%SZ"
            )
            lines = []
            for r in range(2000):
                ec2 = r % 4 != 0
                cost = rng.uniform(0.01, 1.5)
                tags = json.dumps({"team": f"t{r % 40}", "eks:cluster-name": f"c{r % 5}"}).replace(
                    '"', '""'
                )
                lines.append(
                    f"123456789012,Example,USD,Usage,{stamp},{until},{cost:.8f},{cost * 0.7:.8f},"
                    f"{cost:.8f},{cost:.8f},AWS,2100000{r % 20},us-east-1,us-east-1a,"
                    f"{'i' if ec2 else 'vol'}-{r:012x},node-{r},{'Instance' if ec2 else 'Volume'},"
                    f"{'Amazon Elastic Compute Cloud' if ec2 else 'Amazon Elastic Block Store'},"
                    f'{"Compute" if ec2 else "Storage"},Standard,"{tags}"\n'
                )
            chunk = "".join(lines)
            out.write(chunk)
            written += len(chunk)
            rows += len(lines)
            hour += 1
    return rows


def measure(mode: str, bills: str, ledger: str) -> dict[str, float]:
    began = time.perf_counter()
    if mode == "baseline":
        import pyarrow.csv as pacsv

        rows = pacsv.read_csv(next(Path(bills).glob("*.csv"))).num_rows
    elif mode == "ingest":
        from costreport.sources.billing.store import BillingStore
        from costreport.sources.ledger import LedgerStore

        rows = BillingStore(LedgerStore(ledger)).ingest(bills).rows
    else:
        from costreport.engine.cloudcost import parse_cloud_cost_query
        from costreport.engine.cloudcost_render import view_table
        from costreport.sources.billing.service import CloudCosts
        from costreport.sources.billing.store import BillingStore
        from costreport.sources.ledger import LedgerStore

        service = CloudCosts(BillingStore(LedgerStore(ledger)))
        query = parse_cloud_cost_query(
            {"window": "2026-10-01T00:00:00Z,2026-11-01T00:00:00Z", "aggregate": "service"},
            now=datetime(2026, 11, 5, tzinfo=UTC),
        )
        rows = len(view_table(asyncio.run(service.sets(query)), query))
    return {"seconds": time.perf_counter() - began, "mib": peak_mib(), "rows": rows}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mb", type=float, default=1024.0)
    parser.add_argument("--measure", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(*args.measure)))
        return
    work = Path(tempfile.mkdtemp(prefix="focus-bench-"))
    (work / "bills").mkdir()
    began = time.perf_counter()
    rows = generate(work / "bills" / "focus.csv", args.mb)
    size = (work / "bills" / "focus.csv").stat().st_size
    took = time.perf_counter() - began
    print(f"{size / 1e6:.0f} MB FOCUS CSV, {rows:,} rows (generated in {took:.0f} s)")
    compare(
        __file__,
        [
            (mode, label, ["--measure", mode, str(work / "bills"), str(work / "ledger")])
            for mode, label in (
                ("baseline", "pyarrow read_csv of the whole file (baseline)"),
                ("ingest", "ingest: checked, normalised, streamed to the ledger"),
                ("query", "cloud-cost table for the month by service"),
            )
        ],
    )


if __name__ == "__main__":
    main()
