"""ConfigMap parts: complete documents, nothing truncated, our labels only."""

from __future__ import annotations

import csv
import io
import json

from costreport.controller.outputs import build_configmaps, part_name, split_rows
from tests.engine.helpers import run


def test_rows_split_into_parts_that_each_parse() -> None:
    rows = [
        {
            "name": f"row-{i}",
            "window": {"start": "s", "end": "e"},
            **{f: float(i) for f in ("minutes", "cpuCores")},
        }
        for i in range(100)
    ]
    rows = [{**r, **dict.fromkeys(_numeric(), 0.0)} for r in rows]
    parts = split_rows(rows, "both", limit=20_000)
    assert len(parts) > 1
    names = []
    for part in parts:
        assert len(part["rows.json"]) + len(part["rows.csv"]) <= 20_000
        names += [r["name"] for r in json.loads(part["rows.json"])]
        table = list(csv.reader(io.StringIO(part["rows.csv"])))
        assert table[0][:3] == ["windowStart", "windowEnd", "name"]
        assert [r[2] for r in table[1:]] == [r["name"] for r in json.loads(part["rows.json"])]
    assert names == [f"row-{i}" for i in range(100)]


def _numeric() -> tuple[str, ...]:
    from costreport.model.allocation import NUMERIC_FIELDS

    return NUMERIC_FIELDS


def test_configmaps_carry_owner_reference_and_our_labels_only() -> None:
    result = run(aggregate=("namespace",))
    [cm] = build_configmaps(
        report_kind="CostReport",
        report_name="weekly",
        report_uid="uid-1",
        namespace="a",
        result=result,
        fmt="json",
        summary={"report": "a/weekly"},
    )
    assert cm["metadata"]["name"] == "weekly-costreport"
    assert cm["metadata"]["labels"] == {
        "app.kubernetes.io/managed-by": "costreport",
        "costreport.io/report": "weekly",
        "costreport.io/report-kind": "costreport",
    }
    assert cm["metadata"]["ownerReferences"] == [
        {
            "apiVersion": "costreport.io/v1alpha1",
            "kind": "CostReport",
            "name": "weekly",
            "uid": "uid-1",
            "controller": True,
            "blockOwnerDeletion": False,
        }
    ]
    assert set(cm["data"]) == {"rows.json", "part", "summary.json"}
    assert cm["data"]["part"] == "1/1"
    assert sorted(r["name"] for r in json.loads(cm["data"]["rows.json"])) == [
        "__unmounted__",
        "a",
        "b",
        "c",
    ]


def test_part_names() -> None:
    assert [part_name("r", i) for i in range(3)] == [
        "r-costreport",
        "r-costreport-2",
        "r-costreport-3",
    ]
