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


def rules_of(schema: Any, path: str = "") -> list[tuple[str, str, str]]:
    """Every (path, rule, message) of the x-kubernetes-validations in a schema."""
    found = [(path, r["rule"], r["message"]) for r in schema.get("x-kubernetes-validations", [])]
    for name, sub in (schema.get("properties") or {}).items():
        found += rules_of(sub, f"{path}.{name}")
    return found


def admitted(kind: str, spec: dict[str, Any]) -> list[str]:
    """The messages of the CEL rules a spec breaks (evaluated with cel-python)."""
    import celpy

    env = celpy.Environment()
    broken = []
    for path, rule, message in rules_of(schema_of(kind)["properties"]["spec"], ""):
        value: Any = spec
        for part in [p for p in path.split(".") if p]:
            value = value.get(part, {}) if isinstance(value, dict) else {}
        program = env.program(env.compile(rule))
        if not program.evaluate({"self": celpy.json_to_cel(value)}):
            broken.append(message)
    return broken


@pytest.mark.parametrize(
    ("kind", "spec", "messages"),
    [
        ("CostReport", {"window": "7d"}, []),
        ("CostReport", {"window": "7d", "sharing": {"monthlyCost": "0"}}, []),
        (
            "CostReport",
            {"window": "7d", "sharing": {"namespaces": ["kube-system"]}},
            [
                "spec.sharing is only allowed in a ClusterCostReport: sharing folds other "
                "namespaces' costs into this report"
            ],
        ),
        (
            "CostReport",
            {"window": "7d", "sharing": {"monthlyCost": "250.00"}},
            [
                "spec.sharing is only allowed in a ClusterCostReport: sharing folds other "
                "namespaces' costs into this report"
            ],
        ),
        ("ClusterCostReport", {"window": "7d", "sharing": {"namespaces": ["kube-system"]}}, []),
        (
            "ClusterCostReport",
            {"window": "7d", "idle": {"mode": "exclude", "byNode": True}},
            ["idle.byNode needs idle.mode separate or share"],
        ),
        (
            "ClusterCostReport",
            {"window": "7d", "sharing": {"split": "even"}},
            ["sharing.split needs something to share"],
        ),
    ],
)
def test_admission_rules(kind: str, spec: dict[str, Any], messages: list[str]) -> None:
    assert admitted(kind, spec) == messages


def test_descriptions_are_for_users() -> None:
    text = yaml.safe_dump([crd("CostReport"), crd("ClusterCostReport")])
    assert "idle-handling-declared" not in text and "shared-cost-explicit" not in text
    money = schema_of("CostReport")["properties"]["status"]["properties"]["totals"]
    assert money["properties"]["cpu"]["description"] == (
        "The report's CPU cost, a decimal string in status.currency."
    )
    names = crd("CostReport")["spec"]["names"]
    assert "cr" not in names["shortNames"]  # cert-manager's CertificateRequest
