"""Raw request parameters → a validated `AllocationQuery`.

One parser for the API, the CLI and the operator, so that every entry point accepts the same
values and rejects bad ones with the same message. Unlike OpenCost, a value that does not parse
is an error naming the parameter, never a silent fallback to the default.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from costreport.engine.aggregate import parse_aggregate, sanitize_key
from costreport.engine.filters import parse_filter
from costreport.engine.legacy_filters import with_legacy_filters
from costreport.model.errors import InvalidParameter
from costreport.model.query import (
    DEFAULT_RESOLUTION,
    AllocationQuery,
    AssetQuery,
    CostBasis,
    ShareSplit,
)
from costreport.model.window import (
    AccumulateBy,
    parse_accumulate,
    parse_bool,
    parse_duration,
    parse_window,
)

MAX_SHARE_COST = 1e12
"""Largest fixed monthly shared cost accepted (larger values overflow cost sums to inf)."""


@dataclass(frozen=True, slots=True)
class QueryLimits:
    """Bounds on one query's size, the same for the API, the CLI and the operator."""

    max_window_days: float = 400.0
    max_sets: int = 2000


def check_limits(
    query: AllocationQuery | AssetQuery, params: Mapping[str, str], limits: QueryLimits
) -> None:
    """Refuse windows and step counts that would make one query unbounded.

    The message echoes the parameter as the caller typed it (`10000d`, `1s`).
    """
    days = query.window.duration.total_seconds() / 86400
    if days > limits.max_window_days:
        raise InvalidParameter(
            "window",
            params.get("window", ""),
            f"a window of at most {limits.max_window_days:g} days",
        )
    step = query.step
    if step is not None and query.window.duration / step > limits.max_sets:
        raise InvalidParameter(
            "step",
            params.get("step", ""),
            f"a step giving at most {limits.max_sets} sets for this window",
        )


WINDOW_REQUIRED = (
    "a window such as today, yesterday, week, lastweek, month, lastmonth, 7d, 24h, 30m, 2w, "
    "'7d offset 1d', '<unix>,<unix>' or '<RFC3339>,<RFC3339>'"
)


def _flag(params: Mapping[str, str], name: str, default: bool = False) -> bool:
    value = params.get(name)
    if value is None or value == "":
        return default
    return parse_bool(value, parameter=name)


def _list(params: Mapping[str, str], name: str) -> tuple[str, ...]:
    value = params.get(name) or ""
    return tuple(item.strip() for item in value.split(",") if item.strip())


def parse_share_labels(text: str) -> tuple[tuple[str, str], ...]:
    """`shareLabels=team:platform,app:ingress` → (("team", "platform"), ("app", "ingress"))."""
    pairs = []
    for item in (i.strip() for i in text.split(",")):
        if not item:
            continue
        key, sep, value = item.partition(":")
        if not sep or not key.strip() or not value.strip():
            raise InvalidParameter(
                "shareLabels", text, "a comma-separated list of key:value, e.g. team:platform"
            )
        pairs.append((sanitize_key(key.strip()), value.strip()))
    return tuple(pairs)


def parse_share_cost(text: str | None) -> float:
    """A fixed monthly shared cost: a non-negative finite number."""
    if text is None or text.strip() == "":
        return 0.0
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or not 0 <= value <= MAX_SHARE_COST:
        raise InvalidParameter(
            "shareCost",
            text,
            f"a monthly amount from 0 to {MAX_SHARE_COST:.0e}, e.g. 250.00",
        )
    return value


def parse_cost_basis(text: str | None) -> CostBasis:
    """`costBasis`: `list`, `reconciled`, or absent (reconciled where a bill exists)."""
    value = (text or "auto").strip().lower()
    if value not in ("auto", "list", "reconciled"):
        raise InvalidParameter(
            "costBasis", text, "list, or reconciled (the default where a bill exists)"
        )
    return value  # type: ignore[return-value]


def parse_share_split(text: str | None) -> ShareSplit:
    """`weighted` (default) or `even`."""
    value = (text or "weighted").strip().lower()
    if value in ("weighted", "__weighted__"):
        return "weighted"
    if value in ("even", "__even__"):
        return "even"
    raise InvalidParameter("shareSplit", text, "weighted or even")


def parse_allocation_query(
    params: Mapping[str, str], *, now: datetime, utc_offset: timedelta = timedelta(0)
) -> AllocationQuery:
    """Validate OpenCost `/allocation` parameters (plus Kubecost's sharing ones).

    `accumulateBy` is honoured like OpenCost when `accumulate` is absent; `resolution` is
    accepted and validated (it only trades source query cost, never correctness here).
    """
    window_text = params.get("window")
    if window_text is None or not window_text.strip():
        raise InvalidParameter("window", window_text or "", WINDOW_REQUIRED)
    window = parse_window(window_text.strip(), now=now, utc_offset=utc_offset)
    step_text = params.get("step")
    step = parse_duration(step_text, parameter="step") if step_text else None
    resolution_text = params.get("resolution")
    resolution = (
        parse_duration(resolution_text, parameter="resolution")
        if resolution_text
        else DEFAULT_RESOLUTION
    )
    accumulate: AccumulateBy = parse_accumulate(params.get("accumulate") or "")
    if accumulate == "none" and params.get("accumulateBy"):
        accumulate = parse_accumulate(params["accumulateBy"])
    filter_text = with_legacy_filters(params)
    parse_filter(filter_text, kind="allocation")
    include_idle = _flag(params, "includeIdle")
    if _flag(params, "includeProportionalAssetResourceCosts") and not include_idle:
        raise InvalidParameter(
            "includeProportionalAssetResourceCosts",
            params["includeProportionalAssetResourceCosts"],
            "true only together with includeIdle=true",
        )
    return AllocationQuery(
        window=window,
        aggregate=parse_aggregate(params.get("aggregate")),
        step=step,
        resolution=resolution,
        accumulate=accumulate,
        include_idle=include_idle,
        share_idle=_flag(params, "shareIdle"),
        idle_by_node=_flag(params, "idleByNode"),
        share_namespaces=_list(params, "shareNamespaces"),
        share_labels=parse_share_labels(params.get("shareLabels") or ""),
        share_cost=parse_share_cost(params.get("shareCost")),
        share_split=parse_share_split(params.get("shareSplit")),
        include_shared_cost_breakdown=_flag(params, "includeSharedCostBreakdown"),
        include_aggregated_metadata=_flag(params, "includeAggregatedMetadata"),
        filter=filter_text,
        cost_basis=parse_cost_basis(params.get("costBasis")),
    )
