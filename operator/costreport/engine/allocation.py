"""Allocation queries: from cluster data to OpenCost allocation sets.

Pipeline per query (reference §1.6, §3, §4): cut usage segments by the step sets into raw
container allocations and price them on their node; attach volume and load-balancer costs
(with the unmounted buckets); compute idle per node from the node assets; share idle; set
aside shared allocations; apply the filter; aggregate by name; distribute shared costs;
accumulate. Every stage works on whole columns.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np

from costreport.engine.aggregate import IDLE, POD_ATTRIBUTE_KEYS, row_name
from costreport.engine.builder import AllocationBuilder
from costreport.engine.coverage import coverage_of
from costreport.engine.filters import parse_filter
from costreport.engine.gcpause import paused_gc
from costreport.engine.idle import filter_idle, idle_ids_of, share_idle
from costreport.engine.members import RESOURCES, Interner, Members
from costreport.engine.reconcile import Factors, cost_basis, merge_adjustments
from costreport.engine.render import render_set
from costreport.engine.rows import (
    RowTable,
    concat,
    merge,
)
from costreport.engine.sharing import (
    distribute_shared,
    shared_sources,
)
from costreport.model.allocation import AllocationSetRange, JSONDict
from costreport.model.cluster import ClusterData
from costreport.model.query import AllocationQuery
from costreport.model.window import Window, accumulation_groups, default_step_for, split_window


def compute_allocations(
    data: ClusterData, query: AllocationQuery, *, now: float | None = None
) -> AllocationSetRange:
    """Answer an allocation query over cluster data (OpenCost's `QueryAllocation`).

    With bills in the data and `costBasis` reconciled (the default where bills exist), the
    query is priced twice, at list and at the billed cost of every matched resource, and the
    answer carries list costs plus their adjustments (`engine.reconcile`).
    """
    now = time.time() if now is None else now
    with paused_gc():
        return _priced(data, query, now)


def _priced(data: ClusterData, query: AllocationQuery, now: float) -> AllocationSetRange:
    listed = _compute(data, query, now, None)
    step = query.step or default_step_for(query.accumulate)
    basis = cost_basis(data, split_window(query.window, step), query.cost_basis)
    if basis.factors is None:
        result = listed
        result.meta["costBasis"] = basis.declaration
    else:
        reconciled = _compute(data, query, now, basis.factors)
        result = merge_adjustments(listed, reconciled, basis.declaration)
    result.meta["warnings"] = [*result.meta.get("warnings", []), *basis.warnings]
    return result


def _compute(
    data: ClusterData, query: AllocationQuery, now: float, factors: Factors | None
) -> AllocationSetRange:
    step = query.step or default_step_for(query.accumulate)
    sets = split_window(query.window, step)
    interner = Interner()
    builder = AllocationBuilder(data, sets, interner, factors)
    containers = builder.container_rows()
    builder.attach_volumes_and_lbs(containers)
    allocations = concat([containers, builder.pseudo_table()], consume=True)
    del containers  # its columns now live in `allocations` only
    members = builder.members.views

    idle = builder.idle_rows(allocations) if query.include_idle else RowTable.empty()
    width = 0
    if len(idle):
        alloc_ids = idle_ids_of(allocations, query.idle_by_node, interner)
        idle_ids = idle_ids_of(idle, query.idle_by_node, interner)
        width = len(interner.strings) + 1
    if len(idle) and query.share_idle:
        share_idle(allocations, idle, alloc_ids, idle_ids, width)
        leftover = np.zeros(len(idle), dtype=bool)
        for r in RESOURCES:
            leftover |= idle.columns[r] != 0
        if query.hide_idle_remainder:
            leftover[:] = False
        idle = idle.take(leftover)
        idle_ids = idle_ids[leftover]

    member_pass = _member_filter(builder.members, query.filter)
    passing = member_pass[allocations.member_lo] if member_pass is not None else None
    shared_source = shared_sources(builder.members, query, allocations)
    shared = shared_source >= 0

    if len(idle) and passing is not None and not query.share_idle:
        filter_idle(idle, allocations, passing, alloc_ids, idle_ids, width)

    names = Interner()
    keys = query.aggregate
    name_code = builder.members.codes(
        names,
        lambda v: row_name(v, keys),
        by_pod="container" not in keys,
        per_pod=_pod_row_names(builder.members, keys),
    )
    idle_code = names.code(IDLE)
    n_names = len(names.strings)
    alloc_names = name_code[allocations.member_lo] if len(allocations) else np.zeros(0, np.int64)

    visible = ~shared & (passing if passing is not None else True)
    if np.all(visible):  # nothing shared or filtered out: merge the rows without a copy
        agg = merge(allocations, allocations.set_index * n_names + alloc_names)
    else:
        agg = merge(
            allocations.take(visible),
            allocations.set_index[visible] * n_names + alloc_names[visible],
        )
    rows = agg.rows
    rows.set_index = agg.keys // n_names
    row_names = agg.keys % n_names

    if shared.any() or query.share_cost:
        hidden = ~shared & ~visible
        distribute_shared(
            query,
            sets,
            now,
            rows,
            row_names,
            names,
            allocations,
            shared_source,
            hidden,
            alloc_names,
            n_names,
        )

    if len(idle):
        idle_merged = merge(idle, idle.set_index * n_names + idle_code)
        idle_rows = idle_merged.rows
        idle_rows.set_index = idle_merged.keys // n_names
        rows = concat([rows, idle_rows], consume=True)
        row_names = np.concatenate([row_names, np.full(len(idle_rows), idle_code)])

    groups = accumulation_groups(sets, query.accumulate)
    group_of_set = np.empty(len(sets), dtype=np.int64)
    for g, members_of_group in enumerate(groups):
        group_of_set[members_of_group] = g
    acc = merge(rows, group_of_set[rows.set_index] * n_names + row_names)
    acc_rows = acc.rows
    acc_rows.set_index = acc.keys // n_names
    acc_names = acc.keys % n_names
    single_set = np.array([len(g) == 1 for g in groups])

    result_sets = []
    for g, members_of_group in enumerate(groups):
        window = Window(sets[members_of_group[0]].start, sets[members_of_group[-1]].end)
        in_group = np.flatnonzero(acc_rows.set_index == g)
        result_sets.append(
            render_set(
                window,
                acc_rows.take(in_group),
                [names.strings[i] for i in acc_names[in_group].tolist()],
                interner,
                data,
                members,
                bool(single_set[g]),
            )
        )
    coverage, missing = coverage_of(data, query.window, now)
    meta: JSONDict = {
        "coverage": coverage,
        "idle": query.idle_handling(),
        "sharing": query.sharing_policy(),
        "currency": data.currency,
        "queries": data.query_count,
        "warnings": [*data.warnings, *missing, *policy_warnings(query, builder.members)],
    }
    if data.notes:
        meta["source"] = dict(data.notes)
    return AllocationSetRange(result_sets, meta)


def policy_warnings(query: AllocationQuery, members: Members) -> list[str]:
    """Options that did nothing for this query, said instead of silently ignored."""
    warnings: list[str] = []
    if query.idle_by_node and not query.include_idle:
        warnings.append("idleByNode=true did nothing: idle is not included (includeIdle=false)")
    if query.share_split == "even" and not query.sharing_policy()["applied"]:
        warnings.append("shareSplit=even did nothing: nothing is shared")
    if not (query.share_namespaces or query.share_labels):
        return warnings
    used = [members.pod_view(p) for p in np.unique(members.container_pod).tolist()]
    views = [*used, *members.pseudo]
    namespaces = {m.namespace for m in views}
    for namespace in query.share_namespaces:
        if namespace not in namespaces:
            warnings.append(f"shareNamespaces {namespace} matched no pod in the window")
    for key, value in query.share_labels:
        if not any(m.labels.get(key) == value for m in views):
            warnings.append(f"shareLabels {key}:{value} matched no pod in the window")
    return warnings


def _pod_row_names(members: Members, keys: Sequence[str]) -> Sequence[str] | None:
    """Row names straight from pod attributes when every key is one (the common
    `namespace`, `cluster`, `node`, `pod` aggregations); None otherwise."""
    if not keys or any(k not in POD_ATTRIBUTE_KEYS for k in keys):
        return None
    columns = [members.pod_values(POD_ATTRIBUTE_KEYS[k]) for k in keys]
    return (
        columns[0]
        if len(columns) == 1
        else ["/".join(parts) for parts in zip(*columns, strict=True)]
    )


def _member_filter(members: Members, text: str) -> np.ndarray | None:
    if not text.strip():
        return None
    compiled = parse_filter(text, kind="allocation")
    by_pod = "container" not in compiled.fields()
    return members.array(lambda m: compiled.matches(m.filter_record()), bool, by_pod=by_pod)
