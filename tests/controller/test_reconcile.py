"""Pure decisions: due times, namespace confinement, conditions, status."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from costreport.controller.reconcile import (
    InvalidSpec,
    due_at,
    is_due,
    next_run_time,
    report_query,
    retry_delay,
    set_condition,
)
from costreport.controller.spec import CostReportSpec
from costreport.model.report import ReportRef

NOW = datetime(2026, 11, 3, 12, 0, tzinfo=UTC)
NS = ReportRef("CostReport", "a", "r")
CLUSTER = ReportRef("ClusterCostReport", None, "r")


def spec(**fields: object) -> CostReportSpec:
    return CostReportSpec.model_validate({"window": "7d", **fields})


@pytest.mark.parametrize(
    ("schedule", "expected"),
    [
        ("1h", "2026-11-03T13:00:00+00:00"),
        ("30m", "2026-11-03T12:30:00+00:00"),
        ("1d", "2026-11-04T12:00:00+00:00"),
        ("0 6 * * 1", "2026-11-09T06:00:00+00:00"),  # next Monday 06:00
        ("*/15 * * * *", "2026-11-03T12:15:00+00:00"),
    ],
)
def test_next_run_time(schedule: str, expected: str) -> None:
    assert next_run_time(schedule, NOW).isoformat() == expected


@pytest.mark.parametrize("schedule", ["hourly", "0 25 * * *", "30s"])
def test_bad_schedules(schedule: str) -> None:
    with pytest.raises(InvalidSpec, match=r"spec\.schedule"):
        next_run_time(schedule, NOW)


def test_due_times_from_status() -> None:
    s = spec(schedule="1h")
    assert is_due(s, {}, 1, NOW)  # never computed
    done = {"observedGeneration": 1, "lastRunTime": "2026-11-03T11:30:00Z"}
    assert due_at(s, done, 1) == datetime(2026, 11, 3, 12, 30, tzinfo=UTC)
    assert not is_due(s, done, 1, NOW)
    assert is_due(s, done, 2, NOW)  # spec changed
    assert due_at(spec(suspend=True), {}, 1) is None
    failed = {
        **done,
        "consecutiveFailures": 3,
        "lastAttemptTime": "2026-11-03T11:59:00Z",
        "attemptedGeneration": 1,
    }
    assert due_at(s, failed, 1) == datetime(2026, 11, 3, 12, 1, tzinfo=UTC)  # 120 s backoff


def test_retry_backoff_doubles_up_to_an_hour() -> None:
    assert [retry_delay(n).total_seconds() for n in (1, 2, 3, 8, 20)] == [30, 60, 120, 3600, 3600]


def test_namespaced_reports_are_confined_to_their_namespace() -> None:
    query, idle = report_query(spec(filter='namespace:"b"|pod:"x"'), NS, now=NOW)
    assert query.filter == 'namespace:"a"+(namespace:"b"|pod:"x")'
    assert idle.startswith("excluded: a namespaced report cannot see cluster idle")
    assert query.include_idle is False
    query, idle = report_query(spec(idle={"mode": "share", "byNode": True}), NS, now=NOW)
    assert (query.include_idle, query.share_idle, idle) == (True, True, "shared-weighted (by node)")
    for sharing in ({"namespaces": ["b"]}, {"labels": ["team:x"]}, {"monthlyCost": "100"}):
        with pytest.raises(InvalidSpec, match="only allowed in a ClusterCostReport"):
            report_query(spec(sharing=sharing), NS, now=NOW)


def test_cluster_reports_use_the_spec_as_is() -> None:
    query, idle = report_query(
        spec(
            aggregate=["label:team"],
            sharing={"namespaces": ["kube-system"], "split": "even"},
            step="1d",
            accumulate="all",
        ),
        CLUSTER,
        now=NOW,
    )
    assert query.aggregate == ("label:team",)
    assert query.share_namespaces == ("kube-system",) and query.share_split == "even"
    assert query.step == timedelta(days=1) and query.accumulate == "all"
    assert idle == "separate" and query.filter == ""


def test_a_spec_the_engine_rejects_is_an_invalid_spec() -> None:
    with pytest.raises(InvalidSpec, match="invalid 'window' parameter: 'fortnight'"):
        report_query(spec(window="fortnight"), CLUSTER, now=NOW)


def test_condition_transition_time_moves_only_on_change() -> None:
    first = set_condition([], "Ready", True, "Computed", "3 rows", 1, NOW)
    later = NOW + timedelta(hours=1)
    same = set_condition(first, "Ready", True, "Computed", "4 rows", 2, later)
    assert same[0]["lastTransitionTime"] == "2026-11-03T12:00:00Z"
    assert same[0]["message"] == "4 rows" and same[0]["observedGeneration"] == 2
    flipped = set_condition(same, "Ready", False, "PrometheusUnavailable", "down", 2, later)
    assert flipped[0]["lastTransitionTime"] == "2026-11-03T13:00:00Z"
    assert flipped[0]["status"] == "False"
