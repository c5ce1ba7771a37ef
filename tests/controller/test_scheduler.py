"""The operator loop through a fake Kubernetes API: runs, confinement, failures, restarts."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import kopf
import pytest

import costreport.controller.handlers  # noqa: F401  (registers the kopf handlers)
from costreport.controller.scheduler import ReportScheduler
from costreport.model.cluster import ClusterData
from costreport.model.errors import SourceUnavailable
from costreport.model.window import Window
from tests.controller.fakes import TINY_DAY, FakeKube, report
from tests.engine.tiny_cluster import tiny_cluster


class Source:
    """The tiny cluster, switchable to 'down'."""

    name = "tiny"

    def __init__(self) -> None:
        self.down = False

    async def cluster_data(
        self, window: Window, *, resolution_seconds: float, step_seconds: float | None = None
    ) -> ClusterData:
        if self.down:
            raise SourceUnavailable("prometheus timed out after 30s")
        return tiny_cluster()

    async def check(self) -> None:
        return None


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 3, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def setup() -> tuple[ReportScheduler, FakeKube, Source, Clock]:
    kube, source, clock = FakeKube(), Source(), Clock()
    scheduler = ReportScheduler(source, kube, operator_namespace="costreport", clock=clock)
    return scheduler, kube, source, clock


SPEC = {"window": TINY_DAY, "aggregate": ["namespace"], "schedule": "1h"}


async def test_a_namespaced_report_computes_its_own_namespace(setup: Any) -> None:
    scheduler, kube, _, _ = setup
    scheduler.observe("ADDED", report("weekly", SPEC))
    [outcome] = await scheduler.tick()
    assert outcome.ok and outcome.wrote_status
    status = kube.status["a/weekly"]
    assert status["totals"]["total"] == "2.40"
    assert status["totals"]["loadBalancer"] == "0.72"
    assert status["totalDisplay"] == "2.40 USD"
    assert status["rowCount"] == 1
    assert status["topRows"] == [
        {
            "name": "a",
            "totalCost": "2.40",
            "cpuCost": "1.20",
            "ramCost": "0.48",
            "gpuCost": "0.00",
            "pvCost": "0.00",
            "sharedCost": "0.00",
        }
    ]
    assert status["coveredWindow"] == {
        "start": "2026-11-01T00:00:00Z",
        "end": "2026-11-02T00:00:00Z",
    }
    assert status["lastRunTime"] == "2026-11-03T12:00:00Z"
    assert status["nextRunTime"] == "2026-11-03T13:00:00Z"
    assert status["observedGeneration"] == 1
    assert status["idleHandling"].startswith("excluded")
    assert status["sharingPolicy"] == "none"
    ready = {c["type"]: c["status"] for c in status["conditions"]}
    assert ready == {"Ready": "True", "Reconciling": "False", "Stalled": "False"}
    assert status["outputs"] == ["weekly-costreport"]
    cm = kube.configmaps[("a", "weekly-costreport")]
    assert [r["name"] for r in json.loads(cm["data"]["rows.json"])] == ["a"]


@pytest.mark.parametrize(
    "extra",
    [
        {"aggregate": ["cluster"]},
        {"aggregate": ["node", "pod"]},
        {"aggregate": ["label:team"]},
        {"aggregate": []},
        {"filter": 'namespace:"b"'},
        {"filter": 'namespace:"a"|namespace:"b"'},
        {"filter": 'namespace!:"a"'},
        {"idle": {"mode": "separate", "byNode": True}},
        {"idle": {"mode": "exclude"}},
        {"step": "6h", "accumulate": "all"},
        {"aggregate": ["service"], "filter": 'label[app]~:""'},
    ],
)
async def test_no_spec_field_reveals_another_namespaces_cost(
    setup: Any, extra: dict[str, Any]
) -> None:
    scheduler, kube, _, _ = setup
    scheduler.observe("ADDED", report("probe", {**SPEC, **extra}))
    await scheduler.tick()
    status = kube.status["a/probe"]
    assert status["totals"]["total"] in ("2.40", "0.00")  # namespace a's own cost, or nothing
    assert status["totals"]["idle"] == "0.00"
    rows = json.loads(kube.configmaps[("a", "probe-costreport")]["data"]["rows.json"])
    assert all(r["properties"].get("namespace") in (None, "a") for r in rows)
    assert all(r["name"] != "__idle__" for r in rows)


async def test_sharing_in_a_namespaced_report_is_an_invalid_spec(setup: Any) -> None:
    scheduler, kube, _, _ = setup
    scheduler.observe("ADDED", report("greedy", {**SPEC, "sharing": {"namespaces": ["b"]}}))
    [outcome] = await scheduler.tick()
    assert not outcome.ok and outcome.reason == "InvalidSpec"
    status = kube.status["a/greedy"]
    ready = next(c for c in status["conditions"] if c["type"] == "Ready")
    assert (ready["status"], ready["reason"]) == ("False", "InvalidSpec")
    assert "only allowed in a ClusterCostReport" in ready["message"]
    assert next(c for c in status["conditions"] if c["type"] == "Stalled")["status"] == "True"
    assert kube.events == [("a/greedy", "Warning", "InvalidSpec", ready["message"])]
    assert "totals" not in status and not kube.configmaps
    # The same invalid spec does not produce a status write or an Event every tick.
    await scheduler.tick()
    assert len(kube.events) == 1


async def test_a_schema_violation_is_reported_not_raised(setup: Any) -> None:
    scheduler, kube, _, _ = setup
    scheduler.observe("ADDED", report("bad", {**SPEC, "output": {"topN": 500}}))
    [outcome] = await scheduler.tick()
    assert outcome.reason == "InvalidSpec"
    assert "spec.output.topN" in kube.status["a/bad"]["lastError"]


async def test_cluster_reports_over_the_same_query_share_one_computation(setup: Any) -> None:
    scheduler, kube, _, _ = setup
    for name in ("one", "two"):
        scheduler.observe(
            "ADDED", report(name, {**SPEC, "idle": {"mode": "share"}}, namespace=None)
        )
    await scheduler.tick()
    assert scheduler.computations == 1
    assert kube.status["one"]["totals"] == kube.status["two"]["totals"]
    assert kube.status["one"]["totals"]["total"] == "36.00"  # everything, idle shared in
    assert ("costreport", "one-costreport") in kube.configmaps


async def test_status_is_written_only_when_due_and_changed(setup: Any) -> None:
    scheduler, kube, _, clock = setup
    scheduler.observe("ADDED", report("weekly", SPEC))
    await scheduler.tick()
    writes = len(kube.status_patches)
    clock.now += timedelta(minutes=30)
    assert await scheduler.tick() == []  # not due: no computation, no write
    assert len(kube.status_patches) == writes
    clock.now += timedelta(minutes=30)
    [outcome] = await scheduler.tick()
    assert outcome.ok and len(kube.status_patches) == writes + 1


async def test_a_failed_run_keeps_the_last_good_results_and_retries(setup: Any) -> None:
    scheduler, kube, source, clock = setup
    scheduler.observe("ADDED", report("weekly", SPEC))
    await scheduler.tick()
    source.down = True
    clock.now += timedelta(hours=1)
    [outcome] = await scheduler.tick()
    assert not outcome.ok and outcome.reason == "PrometheusUnavailable"
    status = kube.status["a/weekly"]
    assert status["totals"]["total"] == "2.40"  # kept
    assert status["lastRunTime"] == "2026-11-03T12:00:00Z"
    assert status["lastError"] == "prometheus timed out after 30s"
    assert status["consecutiveFailures"] == 1
    ready = next(c for c in status["conditions"] if c["type"] == "Ready")
    assert (ready["status"], ready["reason"]) == ("False", "PrometheusUnavailable")
    assert ("a", "weekly-costreport") in kube.configmaps  # kept
    assert kube.events == [
        ("a/weekly", "Warning", "PrometheusUnavailable", "prometheus timed out after 30s")
    ]
    clock.now += timedelta(seconds=10)
    assert await scheduler.tick() == []  # backing off (30 s)
    source.down = False
    clock.now += timedelta(seconds=30)
    [outcome] = await scheduler.tick()
    assert outcome.ok
    assert kube.status["a/weekly"]["consecutiveFailures"] == 0
    assert kube.events[-1] == ("a/weekly", "Normal", "Recovered", "report computed again")


async def test_a_restarted_operator_neither_repeats_nor_skips(setup: Any) -> None:
    scheduler, kube, _, clock = setup
    scheduler.observe("ADDED", report("weekly", SPEC))
    await scheduler.tick()
    stored = kube.status["a/weekly"]
    restarted = ReportScheduler(Source(), kube, operator_namespace="costreport", clock=clock)
    restarted.observe("ADDED", report("weekly", SPEC, status=dict(stored)))
    clock.now += timedelta(minutes=20)
    assert await restarted.tick() == []
    clock.now += timedelta(minutes=40)
    assert len(await restarted.tick()) == 1


async def test_fewer_parts_delete_stale_configmaps_and_deleted_reports_leave(setup: Any) -> None:
    scheduler, kube, _, _ = setup
    scheduler.observe(
        "ADDED",
        report(
            "weekly",
            SPEC,
            status={
                "observedGeneration": 0,
                "outputs": ["weekly-costreport", "weekly-costreport-2"],
            },
        ),
    )
    kube.configmaps[("a", "weekly-costreport-2")] = {}
    await scheduler.tick()
    assert ("a", "weekly-costreport-2") not in kube.configmaps
    scheduler.observe("DELETED", report("weekly", SPEC))
    assert scheduler.reports == {}


async def test_status_stays_small_for_a_big_report(setup: Any) -> None:
    from costreport.sources.sample import SampleSource

    scheduler, kube, _, clock = setup
    scheduler.source = SampleSource(scale=20, now=clock.now)
    scheduler.observe(
        "ADDED", report("pods", {"window": "7d", "aggregate": ["pod"]}, namespace=None)
    )
    await scheduler.tick()
    status = kube.status["pods"]
    assert status["rowCount"] > 2000
    assert len(status["topRows"]) == 10
    assert len(json.dumps(status)) < 100 * 1024
    assert len(status["outputs"]) >= 2  # split across ConfigMaps, nothing truncated
    total = sum(len(json.loads(cm["data"]["rows.json"])) for cm in kube.configmaps.values())
    assert total == status["rowCount"]


def test_the_handlers_need_no_finalizer() -> None:
    registry = kopf.get_default_registry()
    assert not registry._spawning.has_handlers(resource=None)  # type: ignore[arg-type]
    assert not list(registry._changing.get_all_handlers())
    assert (
        len(list(registry._watching.get_all_handlers())) == 4
    )  # reports and budgets, both kinds each


async def test_the_label_allow_list_applies_to_status_and_configmaps(setup: Any) -> None:
    from costreport.engine.privacy import LabelPolicy

    scheduler, kube, _, _ = setup
    scheduler.policy = LabelPolicy(allowed=("app",))
    scheduler.observe("ADDED", report("pods", {**SPEC, "aggregate": ["pod"]}))
    scheduler.observe("ADDED", report("teams", {**SPEC, "aggregate": ["label:team"]}))
    await scheduler.tick()
    rows = json.loads(kube.configmaps[("a", "pods-costreport")]["data"]["rows.json"])
    assert rows[0]["properties"]["labels"] == {"app": "web"}  # team is not allowed
    teams = kube.status["a/teams"]
    assert teams["lastError"].startswith("invalid 'aggregate' parameter: 'label:team'")
    assert next(c for c in teams["conditions"] if c["type"] == "Ready")["reason"] == "InvalidSpec"


DEEP_FILTER = "(" * 495 + 'namespace:"a"' + ")" * 495


async def test_a_deeply_nested_filter_fails_only_its_own_report(setup: Any) -> None:
    scheduler, kube, _, _ = setup
    assert len(DEEP_FILTER) == 1003  # within the CRD's maxLength of 1024
    scheduler.observe("ADDED", report("poisoned", {**SPEC, "filter": DEEP_FILTER}))
    scheduler.observe("ADDED", report("good", SPEC))
    outcomes = {o.ref.key: (o.ok, o.reason) for o in await scheduler.tick()}
    assert outcomes == {"a/poisoned": (False, "InvalidSpec"), "a/good": (True, "Computed")}
    ready = next(c for c in kube.status["a/poisoned"]["conditions"] if c["type"] == "Ready")
    assert ready["status"] == "False"
    assert "parentheses nested deeper than 32 levels at position 32" in ready["message"]
    assert kube.status["a/good"]["totals"]["total"] == "2.40"


class ExplodingSource(Source):
    """Raises an unexpected error for one namespace's query, answers the others."""

    async def cluster_data(
        self, window: Window, *, resolution_seconds: float, step_seconds: float | None = None
    ) -> ClusterData:
        if window.start_ts == datetime(2026, 10, 1, tzinfo=UTC).timestamp():
            raise ZeroDivisionError("division by zero")
        return tiny_cluster()


async def test_an_unexpected_error_in_one_computation_fails_only_its_reports(
    setup: Any,
) -> None:
    scheduler, kube, _, _ = setup
    scheduler.source = ExplodingSource()
    bad = {**SPEC, "window": "2026-10-01T00:00:00Z,2026-10-02T00:00:00Z"}
    scheduler.observe("ADDED", report("bad", bad))
    scheduler.observe("ADDED", report("good", SPEC))
    outcomes = {o.ref.key: (o.ok, o.reason) for o in await scheduler.tick()}
    assert outcomes == {"a/bad": (False, "ComputationFailed"), "a/good": (True, "Computed")}
    assert kube.status["a/bad"]["lastError"] == "ZeroDivisionError: division by zero"
    assert kube.status["a/good"]["totals"]["total"] == "2.40"


class FailingWrites(FakeKube):
    """A Kubernetes API that refuses one report's ConfigMap."""

    async def apply_configmap(self, manifest: Any) -> None:
        if manifest["metadata"]["name"].startswith("bad-"):
            raise RuntimeError("configmaps is forbidden")
        await super().apply_configmap(manifest)


async def test_a_failing_write_fails_only_its_report(setup: Any) -> None:
    _, _, source, clock = setup
    kube = FailingWrites()
    scheduler = ReportScheduler(source, kube, operator_namespace="costreport", clock=clock)
    scheduler.observe("ADDED", report("bad", SPEC))
    scheduler.observe("ADDED", report("good", {**SPEC, "aggregate": ["pod"]}))
    outcomes = {o.ref.key: (o.ok, o.reason) for o in await scheduler.tick()}
    assert outcomes == {"a/bad": (False, "OutputFailed"), "a/good": (True, "Computed")}
    assert kube.status["a/bad"]["lastError"] == "RuntimeError: configmaps is forbidden"


async def test_null_conditions_from_the_api_are_not_an_error(setup: Any) -> None:
    scheduler, kube, _, _ = setup
    scheduler.observe("ADDED", report("fresh", SPEC, status={"conditions": None}))
    [outcome] = await scheduler.tick()
    assert outcome.ok
    ready = next(c for c in kube.status["a/fresh"]["conditions"] if c["type"] == "Ready")
    assert ready["status"] == "True"


async def test_output_focus_writes_the_runs_focus_rows(setup: Any, tmp_path: Any) -> None:
    import csv

    import pyarrow.parquet as pq

    scheduler, kube, _, _ = setup
    url = str(tmp_path / "focus")
    scheduler.observe("ADDED", report("mine", {**SPEC, "output": {"focus": {"url": url}}}))
    cluster_spec = {**SPEC, "output": {"focus": {"url": url, "format": "csv"}}}
    scheduler.observe("ADDED", report("all", cluster_spec, namespace=None))
    await scheduler.tick()
    [mine] = (tmp_path / "focus" / "a" / "mine").iterdir()
    assert mine.name == "focus-20261101T000000Z_20261102T000000Z.parquet"
    table = pq.read_table(mine)
    # A namespaced report's export: its own pods only (compute and load balancer), no remainder.
    assert set(table["x_Namespace"].to_pylist()) == {"a"}
    assert sum(table["EffectiveCost"].to_pylist()) == pytest.approx(2.40)
    assert f"focus:{mine}" in kube.status["a/mine"]["outputs"]
    [everything] = (tmp_path / "focus" / "_cluster" / "all").iterdir()
    rows = list(csv.DictReader(everything.open()))
    assert sum(float(r["EffectiveCost"]) for r in rows) == pytest.approx(36.00)  # with idle
