"""OpenCost's cloud-cost queries over bill lines: daily sets, filter, aggregate, accumulate.

Like OpenCost's repository querier (`pkg/cloudcost/repositoryquerier.go`): the window is cut
into one-day sets (a line whose charge period spans several sets is prorated by overlap); lines
are keyed by the aggregate properties joined with `/` (an empty property is `__unallocated__`);
an aggregated item keeps the properties its lines agree on; `kubernetesPercent` is the
cost-weighted share of Kubernetes lines; sets then accumulate (`day`, `week` from Sunday,
`month`, `quarter`, `all`). Unknown parameters are 400s naming what is accepted (OpenCost
silently ignores some).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

import numpy as np

from costreport.engine.filters import CLOUDCOST_FIELDS, parse_filter
from costreport.model.billing import COST_METRICS, DEFAULT_AGGREGATE, PROPERTIES, BillLines
from costreport.model.errors import InvalidParameter
from costreport.model.window import (
    AccumulateBy,
    Window,
    accumulation_groups,
    parse_window,
    split_window,
)

UNALLOCATED = "__unallocated__"
AGGREGATE_KEYS = tuple(f for f in CLOUDCOST_FIELDS if f != "label")
"""What `aggregate=` takes besides `label:<key>`: the fields a cloud-cost filter reads."""
ACCEPTED_AGGREGATE = "a comma-separated list of " + ", ".join(AGGREGATE_KEYS) + ", label:<key>"
ACCUMULATE = {
    "": "none",
    "none": "none",
    "false": "none",
    "true": "all",
    "all": "all",
    "hour": "day",  # the sets are days: an hour is finer than the bill's resolution here
    "day": "day",
    "week": "week",
    "month": "month",
    "quarter": "quarter",
}
COST_METRIC_NAMES = {m.lower(): m for m in COST_METRICS}
SortBy = Literal["cost", "name", "kubernetesPercent"]
CHART_ITEMS = 10
"""Items per graph set before the rest is summed into `Other` (OpenCost's default)."""
MAX_SETS = 400


@dataclass(frozen=True, slots=True)
class CloudCostQuery:
    """A `/cloudCost` request."""

    window: Window
    aggregate: tuple[str, ...] = DEFAULT_AGGREGATE
    accumulate: AccumulateBy = "none"
    filter: str = ""
    cost_metric: str = "amortizedNetCost"
    limit: int = 0
    offset: int = 0
    sort_by: SortBy = "cost"
    descending: bool = True


def parse_cloud_cost_query(params: Mapping[str, str], *, now: datetime) -> CloudCostQuery:
    """OpenCost's cloud-cost parameters (400 with what is accepted on anything else)."""
    text = params.get("window", "")
    if not text:
        raise InvalidParameter("window", "", "a window such as 7d, month or 2026-11-01T00:00:00Z,…")
    window = parse_window(text, now=now)
    if len(split_window(window, timedelta(days=1))) > MAX_SETS:
        raise InvalidParameter("window", text, f"at most {MAX_SETS} days")
    aggregate: list[str] = []
    for item in (params.get("aggregate") or "").split(","):
        item = item.strip()
        if not item:
            continue
        if item not in AGGREGATE_KEYS and not (item.startswith("label:") and item[6:].strip()):
            raise InvalidParameter("aggregate", item, ACCEPTED_AGGREGATE)
        if item not in aggregate:
            aggregate.append(item)
    accumulate = params.get("accumulate", "").strip().lower()
    if accumulate not in ACCUMULATE:
        raise InvalidParameter(
            "accumulate", accumulate, "one of " + ", ".join(k for k in ACCUMULATE if k)
        )
    metric = params.get("costMetric", "amortizedNetCost").strip().lower()
    if metric not in COST_METRIC_NAMES:
        raise InvalidParameter(
            "costMetric", params.get("costMetric", ""),
            "one of ListCost, NetCost, AmortizedNetCost, InvoicedCost, AmortizedCost (any case)",
        )  # fmt: skip
    numbers = {}
    for name in ("limit", "offset"):
        raw = params.get(name, "0").strip() or "0"
        if not raw.isdigit() or len(raw) > 9:
            raise InvalidParameter(name, raw, "a whole number ≥ 0")
        numbers[name] = int(raw)
    sort_by = params.get("sortBy", "cost").strip()
    sorts = {"cost": "cost", "name": "name", "kubernetespercent": "kubernetesPercent"}
    if sort_by.lower() not in sorts:
        raise InvalidParameter("sortBy", sort_by, "one of cost, name, kubernetesPercent")
    order = params.get("sortByOrder", "desc").strip().lower()
    if order not in ("asc", "desc"):
        raise InvalidParameter("sortByOrder", order, "asc or desc")
    filter_text = params.get("filter", "")
    parse_filter(filter_text, kind="cloudcost")  # a 400 now rather than later
    return CloudCostQuery(
        window=window,
        aggregate=tuple(aggregate) or DEFAULT_AGGREGATE,
        accumulate=ACCUMULATE[accumulate],  # type: ignore[arg-type]
        filter=filter_text,
        cost_metric=COST_METRIC_NAMES[metric],
        limit=numbers["limit"],
        offset=numbers["offset"],
        sort_by=sorts[sort_by.lower()],  # type: ignore[arg-type]
        descending=order == "desc",
    )


@dataclass(slots=True)
class CloudCostSet:
    """One set: per item name, its properties and the five metrics (cost, k8s share)."""

    window: Window
    names: list[str]
    properties: list[dict[str, Any]]
    costs: dict[str, np.ndarray]  # metric → cost per item
    kubernetes: dict[str, np.ndarray]  # metric → kubernetesPercent per item


def _key(values: Sequence[str], labels: Mapping[str, str], aggregate: Sequence[str]) -> str:
    parts = []
    for prop in aggregate:
        if prop.startswith("label:"):
            value = labels.get(prop[6:].strip(), "")
        else:
            value = values[PROPERTIES.index(prop)]
        parts.append(value or UNALLOCATED)
    return "/".join(parts)


def _intersection(members: list[tuple[tuple[str, ...], Mapping[str, str]]]) -> dict[str, Any]:
    first_values, first_labels = members[0]
    props: dict[str, Any] = {}
    for i, prop in enumerate(PROPERTIES):
        value = first_values[i]
        if value and all(m[0][i] == value for m in members):
            props[prop] = value
    labels = {k: v for k, v in first_labels.items() if all(m[1].get(k) == v for m in members)}
    props["labels"] = labels
    return props


def compute_cloud_costs(lines: BillLines, query: CloudCostQuery) -> list[CloudCostSet]:
    """The query's sets (daily, then accumulated)."""
    days = split_window(query.window, timedelta(days=1))
    # Group identical lines (same properties and labels): filters and keys run per group.
    if lines.group is not None and lines.groups is not None:
        line_group, groups = lines.group, list(lines.groups)
    else:
        line_group, groups = _group_lines(lines)
    compiled = parse_filter(query.filter, kind="cloudcost")
    passing = np.fromiter(
        (
            compiled.matches({**dict(zip(PROPERTIES, values, strict=True)), "labels": labels})
            for values, labels in groups
        ),
        bool,
        len(groups),
    )
    names: list[str] = []
    name_code: dict[str, int] = {}
    group_name = np.full(len(groups), -1, dtype=np.int64)
    members: list[list[int]] = []
    for g, (values, labels) in enumerate(groups):
        if not passing[g]:
            continue
        key = _key(values, labels, query.aggregate)
        code = name_code.get(key)
        if code is None:
            code = name_code[key] = len(names)
            names.append(key)
            members.append([])
        group_name[g] = code
        members[code].append(g)
    line_name = group_name[line_group] if len(lines) else np.zeros(0, np.int64)
    n = len(names)
    per_day_cost, per_day_k8s, touched_day = _per_day(lines, line_name, days, n)
    # Lines without a positive charge period touch a window by the plain comparison below.
    odd = np.flatnonzero((lines.end <= lines.start) & (line_name >= 0))
    out: list[CloudCostSet] = []
    for group in accumulation_groups(days, query.accumulate):
        window = Window(days[group[0]].start, days[group[-1]].end)
        cost = per_day_cost[group].sum(axis=0)
        k8s = per_day_k8s[group].sum(axis=0)
        present = np.flatnonzero(
            np.any(per_day_cost[group] != 0, axis=(0, 1))
            | touched_day[group].any(axis=0)
            | _touched(lines.start[odd], lines.end[odd], line_name[odd], window, n)
        )
        out.append(
            CloudCostSet(
                window,
                [names[i] for i in present],
                [_intersection([groups[g] for g in members[i]]) for i in present],
                {metric: cost[m, present] for m, metric in enumerate(COST_METRICS)},
                {
                    metric: np.where(
                        cost[m, present] > 0,
                        k8s[m, present] / np.where(cost[m, present] > 0, cost[m, present], 1),
                        0.0,
                    )
                    for m, metric in enumerate(COST_METRICS)
                },
            )
        )
    return out


def _group_lines(
    lines: BillLines,
) -> tuple[np.ndarray, list[tuple[tuple[str, ...], Mapping[str, str]]]]:
    """Lines with the same properties and labels, grouped (per line, in Python)."""
    group_of: dict[tuple[tuple[str, ...], tuple[tuple[str, str], ...]], int] = {}
    groups: list[tuple[tuple[str, ...], Mapping[str, str]]] = []
    line_group = np.empty(len(lines), dtype=np.int64)
    columns = [lines.properties[p] for p in PROPERTIES]
    for i in range(len(lines)):
        values = tuple(c[i] for c in columns)
        labels = lines.labels[i]
        signature = (values, tuple(sorted(labels.items())))
        g = group_of.get(signature)
        if g is None:
            g = group_of[signature] = len(groups)
            groups.append((values, labels))
        line_group[i] = g
    return line_group, groups


def day_pieces(
    start: np.ndarray, end: np.ndarray, keep: np.ndarray, starts: np.ndarray, ends: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The `keep` lines cut by contiguous sets [starts[d], ends[d]): per piece its line, its set,
    its share of the line's cost and the line's duration. A line with a positive charge period
    has a piece in every set it overlaps (share = overlap ÷ duration), a zero-length one a piece
    of share 1 in the set its start falls in. Pieces are in line order."""
    d_count = len(starts)
    duration = np.maximum(end - start, 0.0)
    first = np.searchsorted(ends, start, side="right")  # the first set ending after it
    last = np.searchsorted(starts, end, side="left") - 1  # the last starting before its end
    timed = keep & (duration > 0)
    inside = first < d_count
    instant = keep & (duration == 0) & inside
    instant &= start >= starts[np.minimum(first, d_count - 1)] if d_count else inside
    count = np.where(timed, np.maximum(last - first + 1, 0), 0) + instant
    line = np.repeat(np.arange(len(start)), count)
    offsets = np.cumsum(count) - count
    day = first[line] + (np.arange(line.shape[0]) - offsets[line])
    overlap = np.minimum(end[line], ends[day]) - np.maximum(start[line], starts[day])
    span = duration[line]
    share = np.where(span > 0, np.clip(overlap, 0, None) / np.where(span > 0, span, 1), 1.0)
    return line, day, share, span


def _per_day(
    lines: BillLines, line_name: np.ndarray, days: Sequence[Window], n: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per day, metric and item: cost and Kubernetes cost (a line over several days prorated
    by overlap, a zero-length line in the day it falls in); per day and item: whether a line
    with a positive charge period overlaps it.

    Each line is cut into its (line, day) pieces once, in line order, so every (day, item) sum
    adds the same numbers in the same order as a pass over all lines per day would.
    """
    d_count = len(days)
    starts = np.array([d.start_ts for d in days])
    ends = np.array([d.end_ts for d in days])
    line, day, share, span = day_pieces(lines.start, lines.end, line_name >= 0, starts, ends)
    bins = day * n + line_name[line]
    size = d_count * n
    cost = np.zeros((d_count, len(COST_METRICS), n))
    k8s = np.zeros((d_count, len(COST_METRICS), n))
    for m, metric in enumerate(COST_METRICS):
        piece = lines.costs[metric][line] * share
        cost[:, m] = np.bincount(bins, piece, size).reshape(d_count, n)
        k8s[:, m] = np.bincount(bins, piece * lines.kubernetes[line], size).reshape(d_count, n)
    touched = np.bincount(bins[span > 0], minlength=size).reshape(d_count, n) > 0
    return cost, k8s, touched


def _touched(
    start: np.ndarray, end: np.ndarray, name: np.ndarray, window: Window, n: int
) -> np.ndarray:
    """Items with one of these lines in the window (a zero-cost line still makes an item, as
    upstream)."""
    inside = (start < window.end_ts) & (end > window.start_ts)
    return np.bincount(name[inside], minlength=n) > 0 if n else np.zeros(0, bool)


def accumulate_all(sets: Sequence[CloudCostSet]) -> CloudCostSet | None:
    """Every set summed into one (None when there are none)."""
    if not sets:
        return None
    index: dict[str, int] = {}
    names: list[str] = []
    props: list[dict[str, Any]] = []
    for s in sets:
        for name, p in zip(s.names, s.properties, strict=True):
            if name not in index:
                index[name] = len(names)
                names.append(name)
                props.append(p)
            else:
                held = props[index[name]]
                props[index[name]] = {
                    **{k: v for k, v in held.items() if k != "labels" and p.get(k) == v},
                    "labels": {k: v for k, v in held["labels"].items() if p["labels"].get(k) == v},
                }
    cost = {m: np.zeros(len(names)) for m in COST_METRICS}
    k8s = {m: np.zeros(len(names)) for m in COST_METRICS}
    for s in sets:
        where = np.fromiter((index[n] for n in s.names), np.int64, len(s.names))
        for m in COST_METRICS:
            np.add.at(cost[m], where, s.costs[m])
            np.add.at(k8s[m], where, s.costs[m] * s.kubernetes[m])
    window = Window(sets[0].window.start, sets[-1].window.end)
    return CloudCostSet(
        window,
        names,
        props,
        cost,
        {
            m: np.where(cost[m] > 0, k8s[m] / np.where(cost[m] > 0, cost[m], 1), 0.0)
            for m in COST_METRICS
        },
    )
