"""The CRDs: generated from one definition, structural, agreeing with the Python spec."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from costreport.controller.crd import crd, files
from costreport.controller.spec import CostReportSpec

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))


def plain(schema: Any) -> Any:
    """The OpenAPI schema as JSON Schema (x-kubernetes-* keys dropped)."""
    if isinstance(schema, dict):
        return {k: plain(v) for k, v in schema.items() if not k.startswith("x-kubernetes")}
    if isinstance(schema, list):
        return [plain(v) for v in schema]
    return schema


def schema_of(kind: str) -> dict[str, Any]:
    result: dict[str, Any] = crd(kind)["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    return result


def test_committed_crds_are_the_generated_ones_and_the_chart_has_copies() -> None:
    for name, manifest in files().items():
        top = (ROOT / "crds" / name).read_text()
        assert yaml.safe_load(top) == manifest
        assert (ROOT / "charts" / "costreport" / "crds" / name).read_text() == top


def test_examples_validate_against_their_crd_and_the_spec_model() -> None:
    assert {p.name for p in EXAMPLES} == {
        "team-weekly-chargeback.yaml",
        "daily-cluster-shared-kube-system.yaml",
        "label-team-breakdown.yaml",
    }
    for path in EXAMPLES:
        doc = yaml.safe_load(path.read_text())
        jsonschema.validate(doc, plain(schema_of(doc["kind"])))
        CostReportSpec.model_validate(doc["spec"])


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"aggregate": ["namespace"]}, "'window' is a required property"),
        ({"window": "7d", "accumulate": "quarterly"}, "'quarterly' is not one of"),
        ({"window": "7d", "aggregate": ["namespce"]}, "'namespce' does not match"),
        ({"window": "7d", "output": {"topN": 101}}, "101 is greater than the maximum of 100"),
        ({"window": "7d", "schedule": "hourly"}, "'hourly' does not match"),
        ({"window": "7d", "sharing": {"labels": ["team"]}}, "'team' does not match"),
    ],
)
def test_bad_specs_are_rejected(spec: dict[str, Any], message: str) -> None:
    doc = {
        "apiVersion": "costreport.io/v1alpha1",
        "kind": "CostReport",
        "metadata": {"name": "x"},
        "spec": spec,
    }
    with pytest.raises(jsonschema.ValidationError, match=message):
        jsonschema.validate(doc, plain(schema_of("CostReport")))


def test_crd_spec_and_pydantic_spec_have_the_same_fields() -> None:
    def aliases(model: Any) -> set[str]:
        return {f.alias or name for name, f in model.model_fields.items()}

    spec = schema_of("CostReport")["properties"]["spec"]["properties"]
    assert set(spec) == aliases(CostReportSpec)
    for key in ("idle", "sharing", "output"):
        nested = CostReportSpec.model_fields[key].annotation
        assert set(spec[key]["properties"]) == aliases(nested), key


def test_every_status_field_the_operator_writes_is_declared() -> None:
    from datetime import UTC, datetime

    from costreport.controller.reconcile import failure_status, report_query, success_status
    from costreport.model.report import ReportRef
    from tests.engine.helpers import run

    now = datetime(2026, 11, 3, tzinfo=UTC)
    spec = CostReportSpec.model_validate({"window": "7d"})
    query, idle = report_query(spec, ReportRef("ClusterCostReport", None, "r"), now=now)
    ok = success_status(
        {},
        result=run(),
        query=query,
        spec=spec,
        idle_handling=idle,
        generation=1,
        now=now,
        outputs=["r-costreport"],
        currency="USD",
    )
    failed = failure_status(
        ok, reason="InvalidSpec", message="m", generation=2, now=now, permanent=True
    )
    declared = schema_of("CostReport")["properties"]["status"]
    assert set(ok) | set(failed) <= set(declared["properties"])
    assert set(ok["totals"]) == set(declared["properties"]["totals"]["properties"])
    jsonschema.validate({**ok, **failed}, plain(declared))


def test_printer_columns_read_status_fields_that_exist() -> None:
    columns = crd("CostReport")["spec"]["versions"][0]["additionalPrinterColumns"]
    assert [c["name"] for c in columns] == [
        "Window",
        "Aggregate",
        "Total",
        "Idle",
        "Last run",
        "Ready",
        "Age",
    ]
    status = schema_of("CostReport")["properties"]["status"]["properties"]
    for column in columns:
        path = column["jsonPath"]
        if path.startswith(".status.") and "[" not in path:
            assert path.split(".")[2] in status
