"""Report results as ConfigMaps a namespace's readers can read.

A ConfigMap holds at most 1 MiB, so rows are written in parts: each part is a ConfigMap of its
own whose `rows.json` (a JSON array) and/or `rows.csv` (with its header) are complete documents
on their own. Part 1 is `<report>-costreport`, the next ones `<report>-costreport-2`, … and the
status lists them all: nothing is truncated. Labels are our own only, never copied from the
report, and an ownerReference lets Kubernetes garbage-collect the parts with the report.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import orjson

from costreport.model.allocation import NUMERIC_FIELDS, AllocationSetRange
from costreport.model.report import GROUP, VERSION, configmap_name

PART_LIMIT_BYTES = 900 * 1024
MANAGED_BY: dict[str, str] = {"app.kubernetes.io/managed-by": "costreport"}


def flat_rows(result: AllocationSetRange) -> Iterator[dict[str, Any]]:
    """Every row of every set, each carrying its set's window."""
    for s in result.sets:
        yield from s.to_json().values()


def _csv_line(row: Mapping[str, Any]) -> str:
    buffer = io.StringIO()
    window = row["window"]
    csv.writer(buffer, lineterminator="\n").writerow(
        [window["start"], window["end"], row["name"], *(row[f] for f in NUMERIC_FIELDS)]
    )
    return buffer.getvalue()


CSV_HEADER = "windowStart,windowEnd,name," + ",".join(NUMERIC_FIELDS) + "\n"


part_name = configmap_name


def split_rows(
    rows: Sequence[Mapping[str, Any]], fmt: str, limit: int = PART_LIMIT_BYTES
) -> list[dict[str, str]]:
    """Group rows into parts whose files stay under `limit` bytes in total.

    A single row larger than the limit still gets a part of its own (and the API server will
    refuse it loudly rather than us dropping it silently).
    """
    parts: list[dict[str, str]] = []
    json_items: list[bytes] = []
    csv_lines: list[str] = []
    want_json = fmt in ("json", "both")
    want_csv = fmt in ("csv", "both")
    overhead = (2 if want_json else 0) + (len(CSV_HEADER) if want_csv else 0)
    size = overhead

    def flush() -> None:
        files: dict[str, str] = {}
        if want_json:
            files["rows.json"] = "[" + ",".join(i.decode() for i in json_items) + "]"
        if want_csv:
            files["rows.csv"] = CSV_HEADER + "".join(csv_lines)
        parts.append(files)

    for row in rows:
        encoded = orjson.dumps(row) if want_json else b""
        line = _csv_line(row) if want_csv else ""
        cost = len(encoded) + 1 + len(line.encode())
        if (json_items or csv_lines) and size + cost > limit:
            flush()
            json_items, csv_lines, size = [], [], overhead
        if want_json:
            json_items.append(encoded)
        if want_csv:
            csv_lines.append(line)
        size += cost
    if json_items or csv_lines or not parts:
        flush()
    return parts


def owner_reference(kind: str, name: str, uid: str) -> dict[str, Any]:
    """ownerReference to the report, so its ConfigMaps are garbage-collected with it."""
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": kind,
        "name": name,
        "uid": uid,
        "controller": True,
        "blockOwnerDeletion": False,
    }


def build_configmaps(
    *,
    report_kind: str,
    report_name: str,
    report_uid: str,
    namespace: str,
    result: AllocationSetRange,
    fmt: str,
    summary: Mapping[str, Any],
    limit: int = PART_LIMIT_BYTES,
) -> list[dict[str, Any]]:
    """The ConfigMap manifests of one report run, part 1 first."""
    rows = list(flat_rows(result))
    parts = split_rows(rows, fmt, limit)
    manifests = []
    for index, files in enumerate(parts):
        data = dict(files)
        data["part"] = f"{index + 1}/{len(parts)}"
        if index == 0:
            data["summary.json"] = orjson.dumps(summary).decode()
        labels = {
            **MANAGED_BY,
            f"{GROUP}/report": report_name,
            f"{GROUP}/report-kind": report_kind.lower(),
        }
        manifests.append(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {
                    "name": part_name(report_name, index),
                    "namespace": namespace,
                    "labels": labels,
                    "ownerReferences": [owner_reference(report_kind, report_name, report_uid)],
                },
                "data": data,
            }
        )
    return manifests
