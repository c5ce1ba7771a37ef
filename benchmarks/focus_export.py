"""FOCUS 1.3 export of 30 days of the 10,000-pod sample (scale 80), reconciled to its bill.

In fresh processes (peak RSS is each one's own): the baseline computes the same 30 days as
one allocation query by pod and day (`step=1d`, what `/allocation` would answer); the export
streams `costreport export focus --window 30d` rows day by day to a CSV file.

    .venv/bin/python benchmarks/focus_export.py [--scale 80] [--days 30]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def measure(mode: str, scale: float, days: int, out: str) -> dict[str, float]:
    from costreport.engine.allocation import compute_allocations
    from costreport.engine.focus_export import focus_rows
    from costreport.model.query import AllocationQuery
    from costreport.model.window import Window, split_window
    from costreport.sources.billing import focus_writer
    from costreport.sources.billing.reconcile import ReconcilingSource
    from costreport.sources.billing.sample_bill import write_sample_bill
    from costreport.sources.billing.store import BillingStore
    from costreport.sources.ledger import LedgerStore
    from costreport.sources.sample import SampleSource

    sample = SampleSource(now=NOW, scale=scale, days=max(days + 1, 11))
    work = Path(out).parent
    write_sample_bill(sample.data(), work / "bills")
    store = BillingStore(LedgerStore(str(work / "ledger")))
    store.ingest(str(work / "bills"))
    source = ReconcilingSource(sample, store)
    end = NOW.replace(hour=0)
    window = Window(end - timedelta(days=days), end)
    began = time.perf_counter()
    rows = 0
    if mode == "baseline":
        data = asyncio.run(source.cluster_data(window, resolution_seconds=60, step_seconds=86400))
        query = AllocationQuery(
            window=window, aggregate=("cluster", "node", "namespace", "pod"), step=timedelta(days=1)
        )
        result = compute_allocations(data, query, now=NOW.timestamp())
        rows = sum(len(s) for s in result.sets)
    else:
        with open(out, "w") as text:
            text.write(focus_writer.csv_header())
            for day in split_window(window, timedelta(days=1)):
                data = asyncio.run(
                    source.cluster_data(day, resolution_seconds=60, step_seconds=None)
                )
                day_rows = list(focus_rows(data, day, now=NOW.timestamp()))
                rows += len(day_rows)
                text.write(focus_writer.csv_rows(day_rows))
    seconds = time.perf_counter() - began
    mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"seconds": seconds, "mib": mib, "rows": rows}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=float, default=80.0)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, args.scale, args.days, args.out)))
        return
    work = Path(tempfile.mkdtemp(prefix="focus-export-"))
    results = {}
    for mode in ("baseline", "export"):
        out = subprocess.run(
            [sys.executable, __file__, "--measure", mode, "--scale", str(args.scale),
             "--days", str(args.days), "--out", str(work / "focus.csv")],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        results[mode] = json.loads(out.stdout)
    size = (work / "focus.csv").stat().st_size / 2**20
    base, export = results["baseline"], results["export"]
    print(f"sample scale {args.scale:g}, {args.days} days, reconciled to its bill (2 cores)")
    print(f"baseline: allocation by pod and day {base['seconds']:.1f} s, "
          f"peak RSS {base['mib']:.0f} MiB, {base['rows']:,.0f} rows")  # fmt: skip
    ratio_s, ratio_m = export["seconds"] / base["seconds"], export["mib"] / base["mib"]
    print(f"FOCUS export streamed day by day: {export['seconds']:.1f} s ({ratio_s:.2f}×), "
          f"peak RSS {export['mib']:.0f} MiB ({ratio_m:.2f}×), {export['rows']:,.0f} rows, "
          f"{size:.0f} MiB CSV")  # fmt: skip


if __name__ == "__main__":
    main()
