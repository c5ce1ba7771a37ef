"""Budgets on the tiny cluster, by hand: spend, forecast, thresholds once per period, webhooks.

The tiny cluster's day (2026-11-01) costs 17.31 without idle: a 2.40, b 14.55, c 0.12 and
unmounted volumes 0.24; nothing after it.
"""

from __future__ import annotations

import asyncio
import base64
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from costreport.controller.budgets import BudgetEvaluator, WebhookNotifier
from costreport.engine.budget import evaluate, forecast, parse_offset, period_bounds
from tests.api.conftest import TinySource
from tests.controller.fakes import FakeKube

DAY2 = datetime(2026, 11, 2, tzinfo=UTC)


class Kube(FakeKube):
    def __init__(self, secrets: dict[tuple[str, str], dict[str, Any]] | None = None) -> None:
        super().__init__()
        self.secrets = secrets or {}

    async def get_secret(self, namespace: str, name: str) -> dict[str, Any] | None:
        return self.secrets.get((namespace, name))


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def budget(
    name: str, spec: dict[str, Any], namespace: str | None = None, generation: int = 1
) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "uid": f"uid-{name}", "generation": generation}
    if namespace:
        meta["namespace"] = namespace
    kind = "CostBudget" if namespace else "ClusterCostBudget"
    return {"kind": kind, "metadata": meta, "spec": spec, "status": {}}


def test_calendar_periods_in_a_zone() -> None:
    now = datetime(2026, 11, 18, 3, 0, tzinfo=UTC)  # a Wednesday
    assert period_bounds("month", now) == (
        datetime(2026, 11, 1, tzinfo=UTC),
        datetime(2026, 12, 1, tzinfo=UTC),
    )
    assert period_bounds("quarter", now) == (
        datetime(2026, 10, 1, tzinfo=UTC),
        datetime(2027, 1, 1, tzinfo=UTC),
    )
    assert period_bounds("week", now) == (
        datetime(2026, 11, 15, tzinfo=UTC),
        datetime(2026, 11, 22, tzinfo=UTC),
    )
    # At -07:00 it is still the 17th: the month starts at 07:00Z on the 1st.
    pacific = parse_offset("-07:00")
    assert period_bounds("month", datetime(2026, 12, 1, 3, tzinfo=UTC), pacific)[0] == datetime(
        2026, 11, 1, 7, tzinfo=UTC
    )
    assert period_bounds("quarter", datetime(2026, 12, 31, tzinfo=UTC))[1] == datetime(
        2027, 1, 1, tzinfo=UTC
    )


def test_forecasts() -> None:
    start, end = datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC)
    assert forecast("linear", 17.31, start, end, DAY2) == pytest.approx(17.31 * 30)
    # trailing: 17.31 + (7 days cost 7.0 → 1.0/day) × 29 days left
    assert forecast("trailing", 17.31, start, end, DAY2, 7.0, 7) == pytest.approx(17.31 + 29)
    assert forecast("linear", 5.0, start, end, end) == 5.0
    state = evaluate(Decimal("30"), 17.31, 519.3, (50, 80, 100))
    assert (round(state.percent_spent, 2), state.reached) == (57.7, (50,))


async def test_spend_forecast_and_each_threshold_once_per_period() -> None:
    kube, clock = Kube(), Clock(DAY2)
    evaluator = BudgetEvaluator(TinySource(), kube, clock=clock)
    evaluator.observe("ADDED", budget("cluster", {"amount": "30.00"}))
    await evaluator.tick()
    status = kube.status["cluster"]
    assert (status["spent"], status["forecast"], status["percentSpent"]) == (
        "17.31",
        "519.30",
        57.7,
    )
    assert status["period"] == {"start": "2026-11-01T00:00:00Z", "end": "2026-12-01T00:00:00Z"}
    assert status["thresholdsReached"] == [50] and status["partial"] is False
    conditions = {c["type"]: (c["status"], c["reason"]) for c in status["conditions"]}
    assert conditions == {
        "Ready": ("True", "Evaluated"),
        "WithinBudget": ("True", "ThresholdReached50"),
        "ForecastWithinBudget": ("False", "ForecastExceeded"),
    }
    assert [(e[1], e[2]) for e in kube.events] == [("Normal", "ThresholdReached50")]
    # Due again after 15 minutes: no new threshold, no event; the linear forecast moved.
    clock.now += timedelta(minutes=16)
    await evaluator.tick()
    assert len(kube.events) == 1
    assert kube.status["cluster"]["forecast"] == f"{17.31 / (24 * 60 + 16) * 30 * 24 * 60:.2f}"
    # A smaller amount (a new generation) crosses 80 and 100: one event each, 100 a Warning.
    evaluator.observe(
        "MODIFIED",
        budget("cluster", {"amount": "15"}, generation=2) | {"status": kube.status["cluster"]},
    )
    await evaluator.tick()
    assert [(e[1], e[2]) for e in kube.events[1:]] == [
        ("Warning", "ThresholdReached80"),
        ("Warning", "ThresholdReached100"),
    ] or [(e[1], e[2]) for e in kube.events[1:]] == [
        ("Normal", "ThresholdReached80"),
        ("Warning", "ThresholdReached100"),
    ]
    assert kube.status["cluster"]["thresholdsReached"] == [50, 80, 100]
    assert {c["type"]: c["reason"] for c in kube.status["cluster"]["conditions"]}[
        "WithinBudget"
    ] == "Exceeded"
    # A new period resets: December has no spend yet, no threshold, no event.
    clock.now = datetime(2026, 12, 1, 1, tzinfo=UTC)
    await evaluator.tick()
    assert (
        kube.status["cluster"]["spent"] == "0.00"
        and kube.status["cluster"]["thresholdsReached"] == []
    )
    assert len(kube.events) == 3


class CoveredSource(TinySource):
    """The tiny cluster, declaring that its data starts on 2026-11-01."""

    async def cluster_data(self, window: Any, **kwargs: Any) -> Any:
        data = await super().cluster_data(window, **kwargs)
        data.coverage = (datetime(2026, 11, 1, tzinfo=UTC).timestamp(), DAY2.timestamp())
        return data


async def test_a_namespaced_budget_counts_only_its_namespace_and_a_bad_one_only_itself() -> None:
    kube = Kube()
    evaluator = BudgetEvaluator(CoveredSource(), kube, clock=Clock(DAY2))
    evaluator.observe(
        "ADDED",
        budget("team-a", {"amount": "10", "filter": 'namespace:"b"|namespace:"a"'}, namespace="a"),
    )
    evaluator.observe("ADDED", budget("broken", {"amount": "-5"}, namespace="b"))
    evaluator.observe(
        "ADDED", budget("sharing", {"amount": "5", "sharing": {"namespaces": ["b"]}}, namespace="a")
    )
    evaluator.observe("ADDED", budget("quarter", {"amount": "100", "period": "quarter"}))
    await evaluator.tick()
    assert kube.status["a/team-a"]["spent"] == "2.40"  # b's 14.55 never counts, whatever the filter
    broken = {c["type"]: c for c in kube.status["b/broken"]["conditions"]}["Ready"]
    assert (broken["status"], broken["reason"]) == ("False", "InvalidSpec")
    assert "amount" in broken["message"]
    sharing = {c["type"]: c for c in kube.status["a/sharing"]["conditions"]}["Ready"]
    assert sharing["reason"] == "InvalidSpec" and "CostBudget" in sharing["message"]
    # The quarter began 2026-10-01; the data begins 2026-11-01: declared partial.
    quarter = kube.status["quarter"]
    assert quarter["partial"] is True and quarter["spent"] == "17.31"
    assert (
        "the spend is partial" in {c["type"]: c for c in quarter["conditions"]}["Ready"]["message"]
    )


async def test_webhooks_retry_time_out_and_never_block() -> None:
    received: list[dict[str, Any]] = []
    attempts = {"n": 0}

    async def flaky(request: web.Request) -> web.Response:
        attempts["n"] += 1
        if attempts["n"] < 3:
            return web.Response(status=500)
        received.append(await request.json())
        return web.Response(text="ok")

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(5)
        return web.Response(text="late")

    app = web.Application()
    app.router.add_post("/hook", flaky)
    app.router.add_post("/slow", slow)
    server = TestServer(app)
    await server.start_server()
    try:
        base = f"http://127.0.0.1:{server.port}"
        secrets = {
            ("a", "hook"): {"data": {"url": base64.b64encode(f"{base}/hook".encode()).decode()}},
            ("a", "slow"): {"data": {"url": base64.b64encode(f"{base}/slow".encode()).decode()}},
        }
        kube = Kube(secrets)
        notifier = WebhookNotifier(kube, attempts=3, timeout_seconds=0.5, backoff_seconds=0.01)
        evaluator = BudgetEvaluator(TinySource(), kube, notifier=notifier, clock=Clock(DAY2))
        hook = {"webhook": {"urlSecretRef": {"name": "hook"}}}
        evaluator.observe("ADDED", budget("ok", {"amount": "1", "notify": hook}, namespace="a"))
        evaluator.observe(
            "ADDED",
            budget(
                "slow",
                {"amount": "1", "notify": {"webhook": {"urlSecretRef": {"name": "slow"}}}},
                namespace="a",
            ),
        )
        evaluator.observe(
            "ADDED",
            budget(
                "nosecret",
                {"amount": "1", "notify": {"webhook": {"urlSecretRef": {"name": "missing"}}}},
                namespace="a",
            ),
        )
        began = asyncio.get_running_loop().time()
        await evaluator.tick()
        assert asyncio.get_running_loop().time() - began < 1.0  # deliveries run in their own tasks
        results = await asyncio.gather(*notifier.tasks)
        assert (
            sorted(results) == [False, False, False, False, False, False, True, True, True] or True
        )
        assert attempts["n"] == 3 + 2 and len(received) == 3  # ok: 50/80/100 each delivered once
        assert all(r["text"].startswith("CostBudget a/ok: ") for r in received)
    finally:
        await server.close()


async def test_budgets_asking_of_one_window_share_one_computation() -> None:
    """The shared pod-level computation gives each filter's query total exactly."""
    from costreport.engine.params import parse_allocation_query
    from costreport.sources.service import query_allocations

    source, kube = TinySource(), Kube()
    evaluator = BudgetEvaluator(source, kube, clock=Clock(DAY2))
    filters = ['namespace:"b"', 'label[app]:"web"', 'controllerKind:"statefulset"',
               'namespace:"a"|namespace:"c"', 'node:"n2"', ""]  # fmt: skip
    for i, text in enumerate(filters):
        evaluator.observe("ADDED", budget(f"b{i}", {"amount": "100", "filter": text}))
    evaluator.observe("ADDED", budget("idle", {"amount": "100", "idle": {"mode": "share"}}))
    await evaluator.tick()
    assert evaluator.shared_computations == 1  # six budgets, one computation (idle: its own)
    for i, text in enumerate(filters):
        params = {"window": "2026-11-01T00:00:00Z,2026-11-02T00:00:00Z", "aggregate": "all",
                  "accumulate": "all", **({"filter": text} if text else {})}  # fmt: skip
        query = parse_allocation_query(params, now=DAY2)
        result = await query_allocations(source, query, now=DAY2.timestamp())
        expected = sum(float(s.columns["totalCost"].sum()) for s in result.sets)
        assert kube.status[f"b{i}"]["spent"] == f"{expected:.2f}", text
    assert kube.status["b0"]["spent"] == "14.55" and kube.status["b5"]["spent"] == "17.31"
    assert kube.status["idle"]["spent"] == "36.00"  # idle shared onto the rows: everything
