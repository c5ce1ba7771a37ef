"""Benchmark modes each run in a fresh process (so peak RSS is its own), printed as ratios
against the first mode, the baseline measured in the same run."""

from __future__ import annotations

import json
import resource
import subprocess
import sys
from collections.abc import Sequence


def peak_mib() -> float:
    """This process's peak resident memory (MiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def compare(
    script: str, modes: Sequence[tuple[str, str, Sequence[str]]], memory: str = "peak RSS"
) -> dict[str, dict[str, float]]:
    """Run `script` once per mode with that mode's arguments (it prints its measure as JSON
    with `seconds` and `mib`), then print each as seconds and memory (named `memory`), and as
    ratios against the first mode. `modes` holds (name, label, arguments)."""
    results: dict[str, dict[str, float]] = {}
    for name, _, arguments in modes:
        out = subprocess.run(
            [sys.executable, script, *arguments], capture_output=True, text=True, check=True
        )
        results[name] = json.loads(out.stdout)
    base = results[modes[0][0]]
    width = max(len(label) for _, label, _ in modes)
    for name, label, _ in modes:
        r = results[name]
        print(
            f"{label:{width}} {r['seconds']:7.2f} s ({r['seconds'] / base['seconds']:.2f}×)  "
            f"{memory} {r['mib']:6.0f} MiB ({r['mib'] / base['mib']:.2f}×)"
        )
    return results
