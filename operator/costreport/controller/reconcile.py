"""The operator's decisions as pure functions: what to compute, when, and what status to write.

Handlers in `costreport.controller.handlers` only move data between Kubernetes and these
functions, so every rule here is unit-tested with plain dicts and a fake clock.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from croniter import croniter

from costreport.controller.spec import CostReportSpec, IdleSpec, SharingSpec
from costreport.engine.filters import parse_filter
from costreport.engine.params import parse_allocation_query
from costreport.model.allocation import AllocationSetRange
from costreport.model.errors import InvalidParameter
from costreport.model.query import AllocationQuery
from costreport.model.report import ReportRef
from costreport.model.window import parse_duration

RETRY_BASE_SECONDS = 30.0
RETRY_MAX_SECONDS = 3600.0
MONEY_FIELDS = (
    ("cpu", "cpuCost"),
    ("ram", "ramCost"),
    ("gpu", "gpuCost"),
    ("pv", "pvCost"),
    ("network", "networkCost"),
    ("loadBalancer", "loadBalancerCost"),
    ("shared", "sharedCost"),
)


class InvalidSpec(ValueError):
    """A spec the schema accepted but costreport cannot run; reported in a condition."""


# -- what to compute ---------------------------------------------------------------
def policy_params(idle: IdleSpec, sharing: SharingSpec) -> dict[str, str]:
    """A spec's idle and sharing policy as `/allocation` parameters (reports and budgets)."""
    return {
        "includeIdle": str(idle.mode != "exclude").lower(),
        "shareIdle": str(idle.mode == "share").lower(),
        "idleByNode": str(idle.by_node).lower(),
        "shareNamespaces": ",".join(sharing.namespaces),
        "shareLabels": ",".join(sharing.labels),
        "shareCost": sharing.monthly_cost,
        "shareSplit": sharing.split,
    }


def spec_params(spec: CostReportSpec) -> dict[str, str]:
    """The spec as `/allocation` parameters (one parser validates both)."""
    params = {
        "window": spec.window,
        "aggregate": ",".join(spec.aggregate) or "all",
        "accumulate": spec.accumulate,
        **policy_params(spec.idle, spec.sharing),
        "includeSharedCostBreakdown": str(spec.sharing.include_breakdown).lower(),
        "filter": spec.filter,
        "costBasis": spec.cost_basis,
    }
    if spec.step:
        params["step"] = spec.step
    return params


def confine_to_namespace(spec: CostReportSpec, namespace: str) -> tuple[dict[str, str], str]:
    """Parameters for a namespaced report, which may only ever see its own namespace.

    The namespace filter is ANDed with the user's filter (so no filter can widen it), and
    anything that would fold other namespaces' costs into this report's numbers is refused:
    shared namespaces, shared labels (they select pods anywhere) and a fixed shared cost
    (weighted by everyone's cost). Idle is only available as the share distributed onto the
    namespace's own rows; a separate `__idle__` row would reveal the cluster's idle.
    Returns the parameters and the idle handling to declare.
    """
    if spec.sharing.applied:
        raise InvalidSpec(
            "spec.sharing is only allowed in a ClusterCostReport: sharing folds other "
            "namespaces' costs into this report"
        )
    params = spec_params(spec)
    parse_filter(spec.filter)  # errors name the user's own filter, not the confined one
    own = f'namespace:"{namespace}"'
    params["filter"] = f"{own}+({spec.filter})" if spec.filter.strip() else own
    idle = "shared-weighted" if spec.idle.mode == "share" else "excluded"
    if spec.idle.mode == "separate":
        params["includeIdle"] = "false"
        idle = "excluded: a namespaced report cannot see cluster idle; use idle.mode=share"
    return params, idle


def report_query(
    spec: CostReportSpec, ref: ReportRef, *, now: datetime
) -> tuple[AllocationQuery, str]:
    """The query a report runs now, and its idle handling as declared in status."""
    if ref.namespace is not None:
        params, idle = confine_to_namespace(spec, ref.namespace)
    else:
        params = spec_params(spec)
        idle = {"exclude": "excluded", "separate": "separate", "share": "shared-weighted"}[
            spec.idle.mode
        ]
    try:
        query = parse_allocation_query(params, now=now)
    except InvalidParameter as error:
        raise InvalidSpec(error.message) from error
    if spec.idle.by_node and spec.idle.mode != "exclude" and not idle.startswith("excluded"):
        idle += " (by node)"
    return query, idle


def query_key(query: AllocationQuery) -> str:
    """Reports with equal keys share one computation per tick."""
    return hashlib.sha256(query.model_dump_json().encode()).hexdigest()[:16]


# -- when ----------------------------------------------------------------------------
def _parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def format_timestamp(moment: datetime) -> str:
    """RFC3339 UTC with seconds, as Kubernetes writes times."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def next_run_time(schedule: str, last_run: datetime) -> datetime:
    """When a report last computed at `last_run` is next due: an interval or a cron expression."""
    text = schedule.strip()
    if len(text.split()) == 5:
        if not croniter.is_valid(text):
            raise InvalidSpec(f"spec.schedule {schedule!r} is not a valid cron expression")
        moment: datetime = croniter(text, last_run.astimezone(UTC)).get_next(datetime)
        return moment
    try:
        interval = parse_duration(text, parameter="schedule")
    except InvalidParameter as error:
        raise InvalidSpec(
            f"spec.schedule {schedule!r} is neither an interval (e.g. 1h, 30m) nor a "
            "five-field cron expression"
        ) from error
    if interval < timedelta(minutes=1):
        raise InvalidSpec(f"spec.schedule {schedule!r} is shorter than the 1m minimum")
    return last_run + interval


def retry_delay(failures: int) -> timedelta:
    """Backoff after consecutive failures: 30 s doubling, at most an hour."""
    return timedelta(seconds=min(RETRY_BASE_SECONDS * 2 ** max(failures - 1, 0), RETRY_MAX_SECONDS))


def due_at(spec: CostReportSpec, status: Mapping[str, Any], generation: int) -> datetime | None:
    """When the report should next run; None when suspended, the epoch when due at once.

    A spec change (generation ahead of observedGeneration) or a report never computed is due
    at once. After failures the retry backoff applies; otherwise the schedule from
    `status.lastRunTime`, so a restarted operator neither skips nor repeats a run.
    """
    if spec.suspend:
        return None
    epoch = datetime.fromtimestamp(0, tz=UTC)
    failures = int(status.get("consecutiveFailures", 0) or 0)
    last_attempt = _parse_time(status.get("lastAttemptTime"))
    if failures and last_attempt is not None and status.get("attemptedGeneration") == generation:
        return last_attempt + retry_delay(failures)
    if status.get("observedGeneration") != generation:
        return epoch
    last_run = _parse_time(status.get("lastRunTime"))
    if last_run is None:
        return epoch
    return next_run_time(spec.schedule, last_run)


def is_due(spec: CostReportSpec, status: Mapping[str, Any], generation: int, now: datetime) -> bool:
    """Whether the report should be computed now."""
    when = due_at(spec, status, generation)
    return when is not None and when <= now


# -- status ----------------------------------------------------------------------------
def money(value: float) -> str:
    """A cost as a decimal string with two places (status fields are strings, not floats)."""
    if not math.isfinite(value):
        return "0.00"
    return f"{value:.2f}"


def set_condition(
    conditions: Sequence[Mapping[str, Any]],
    type_: str,
    status: bool,
    reason: str,
    message: str,
    generation: int,
    now: datetime,
) -> list[dict[str, Any]]:
    """Conditions with one updated (metav1.Condition): the transition time moves only on change."""
    value = "True" if status else "False"
    out: list[dict[str, Any]] = []
    found = False
    for existing in conditions:
        if existing.get("type") != type_:
            out.append(dict(existing))
            continue
        found = True
        changed = existing.get("status") != value
        out.append(
            {
                "type": type_,
                "status": value,
                "observedGeneration": generation,
                "lastTransitionTime": format_timestamp(now)
                if changed
                else existing.get("lastTransitionTime", format_timestamp(now)),
                "reason": reason,
                "message": message[:32768],
            }
        )
    if not found:
        out.append(
            {
                "type": type_,
                "status": value,
                "observedGeneration": generation,
                "lastTransitionTime": format_timestamp(now),
                "reason": reason,
                "message": message[:32768],
            }
        )
    return sorted(out, key=lambda c: str(c["type"]))


def result_rows(result: AllocationSetRange) -> list[tuple[str, dict[str, float]]]:
    """Rows summed over every set, most expensive first (names stable for ties)."""
    totals: dict[str, dict[str, float]] = {}
    for s in result.sets:
        columns = {f: s.columns[f].tolist() for _, f in MONEY_FIELDS}
        columns["totalCost"] = s.columns["totalCost"].tolist()
        for i, name in enumerate(s.names):
            row = totals.setdefault(name, dict.fromkeys(columns, 0.0))
            for f, values in columns.items():
                row[f] += values[i]
    return sorted(totals.items(), key=lambda kv: (-kv[1]["totalCost"], kv[0]))


def success_status(
    previous: Mapping[str, Any],
    *,
    result: AllocationSetRange,
    query: AllocationQuery,
    spec: CostReportSpec,
    idle_handling: str,
    generation: int,
    now: datetime,
    outputs: Sequence[str],
    currency: str,
) -> dict[str, Any]:
    """The status after a successful run; bounded in size whatever the report's row count."""
    rows = result_rows(result)
    idle = sum(r["totalCost"] for name, r in rows if name == "__idle__")
    totals = {key: money(sum(r[f] for _, r in rows)) for key, f in MONEY_FIELDS}
    totals["idle"] = money(idle)
    totals["total"] = money(sum(r["totalCost"] for _, r in rows))
    top = [
        {
            "name": name or "(all)",
            "totalCost": money(r["totalCost"]),
            "cpuCost": money(r["cpuCost"]),
            "ramCost": money(r["ramCost"]),
            "gpuCost": money(r["gpuCost"]),
            "pvCost": money(r["pvCost"]),
            "sharedCost": money(r["sharedCost"]),
        }
        for name, r in rows[: spec.output.top_n]
    ]
    sets = result.sets
    covered = (
        {"start": sets[0].window.to_json()["start"], "end": sets[-1].window.to_json()["end"]}
        if sets
        else query.window.to_json()
    )
    policy = query.sharing_policy()
    sharing = "none"
    if policy["applied"]:
        parts = [f"namespaces={','.join(query.share_namespaces)}"] if query.share_namespaces else []
        if query.share_labels:
            parts.append("labels=" + ",".join(f"{k}:{v}" for k, v in query.share_labels))
        if query.share_cost:
            parts.append(f"monthlyCost={query.share_cost:g}")
        parts.append(f"split={query.share_split}")
        sharing = "; ".join(parts)
    conditions = list(previous.get("conditions") or [])
    conditions = set_condition(
        conditions, "Ready", True, "Computed", f"{len(rows)} rows", generation, now
    )
    conditions = set_condition(
        conditions, "Reconciling", False, "Idle", "up to date", generation, now
    )
    conditions = set_condition(conditions, "Stalled", False, "Computed", "", generation, now)
    run_time = format_timestamp(now)
    return {
        "observedGeneration": generation,
        "conditions": conditions,
        "lastRunTime": run_time,
        "lastAttemptTime": run_time,
        "attemptedGeneration": generation,
        "consecutiveFailures": 0,
        "nextRunTime": format_timestamp(next_run_time(spec.schedule, now)),
        "coveredWindow": covered,
        "currency": currency,
        "totals": totals,
        "totalDisplay": f"{totals['total']} {currency}",
        "idleDisplay": f"{totals['idle']} {currency}",
        "idleHandling": idle_handling,
        "sharingPolicy": sharing,
        "topRows": top,
        "rowCount": len(rows),
        "outputs": list(outputs),
        "lastError": "",
    }


FAILURE_REASONS = {"invalid": "InvalidSpec", "source": "PrometheusUnavailable"}


def failure_status(
    previous: Mapping[str, Any],
    *,
    reason: str,
    message: str,
    generation: int,
    now: datetime,
    permanent: bool,
) -> dict[str, Any]:
    """A failed run: keep the last good results, say why, schedule a retry with backoff.

    Only the fields that describe the failure change; totals, rows and outputs of the last
    good run stay as they were.
    """
    failures = int(previous.get("consecutiveFailures", 0) or 0) + 1
    conditions = list(previous.get("conditions") or [])
    conditions = set_condition(conditions, "Ready", False, reason, message, generation, now)
    conditions = set_condition(
        conditions, "Reconciling", not permanent, reason, "retrying with backoff", generation, now
    )
    conditions = set_condition(conditions, "Stalled", permanent, reason, message, generation, now)
    patch: dict[str, Any] = {
        "conditions": conditions,
        "lastAttemptTime": format_timestamp(now),
        "attemptedGeneration": generation,
        "consecutiveFailures": failures,
        "lastError": message[:1024],
        "nextRunTime": format_timestamp(now + retry_delay(failures)),
    }
    if permanent:
        patch["observedGeneration"] = generation
    return patch


def status_changed(previous: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    """Whether writing `new` over `previous` changes anything (kopf#1172: write only then)."""
    return any(previous.get(k) != v for k, v in new.items())
