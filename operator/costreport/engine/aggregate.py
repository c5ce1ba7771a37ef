"""Aggregation keys and row names (reference §1.7).

Each raw allocation (a container, or an unmounted pseudo-allocation) gets a row name from the
aggregate keys; rows with equal names merge. Names follow OpenCost exactly: values joined with
`/`, `__unallocated__` for a missing property, `kind:name` controllers, `__unmounted__` for the
unmounted volume and load-balancer buckets, and `""` for `aggregate=all`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from costreport.model.errors import InvalidParameter
from costreport.model.query import DEFAULT_AGGREGATE

IDLE = "__idle__"
UNALLOCATED = "__unallocated__"
UNMOUNTED = "__unmounted__"

PLAIN_KEYS: tuple[str, ...] = (
    "cluster",
    "node",
    "container",
    "controller",
    "controllerKind",
    "namespace",
    "pod",
    "providerID",
    "service",
    "deployment",
    "daemonset",
    "statefulset",
    "job",
    "department",
    "environment",
    "owner",
    "product",
    "team",
)
_CANONICAL = {k.lower(): k for k in PLAIN_KEYS}
# OpenCost's default label config: alias → label (else annotation) name.
ALIAS_LABELS: Mapping[str, str] = {
    "department": "department",
    "environment": "env",
    "owner": "owner",
    "product": "app",
    "team": "team",
}
CONTROLLER_KEYS = frozenset({"deployment", "daemonset", "statefulset", "job"})
ACCEPTED_AGGREGATE = (
    "a comma-separated list of " + ", ".join(PLAIN_KEYS) + ", label:<key>, annotation:<key>; or all"
)
_SANITIZE = re.compile(r"[^a-zA-Z0-9_]")


def sanitize_key(key: str) -> str:
    """Prometheus form of a label key (`app.kubernetes.io/name` → `app_kubernetes_io_name`)."""
    return _SANITIZE.sub("_", key)


def parse_aggregate(text: str | None) -> tuple[str, ...]:
    """Normalise an `aggregate` value; unknown keys are an error (OpenCost drops them silently)."""
    if text is None or not text.strip():
        return DEFAULT_AGGREGATE
    items = [item.strip() for item in text.split(",")]
    if [i.lower() for i in items] == ["all"]:
        return ()
    keys: list[str] = []
    for item in items:
        lowered = item.lower()
        for prefix in ("label:", "annotation:"):
            if lowered.startswith(prefix) and len(item) > len(prefix):
                keys.append(prefix + sanitize_key(item[len(prefix) :].strip()))
                break
        else:
            if lowered not in _CANONICAL:
                raise InvalidParameter("aggregate", text, ACCEPTED_AGGREGATE)
            keys.append(_CANONICAL[lowered])
    repeated = sorted({k for k in keys if keys.count(k) > 1})
    if repeated:
        raise InvalidParameter(
            "aggregate", text, f"each key at most once ({', '.join(repeated)} is repeated)"
        )
    return tuple(keys)


@dataclass(slots=True)  # not frozen: built once per container, twice as fast
class MemberView:
    """What naming and filtering need to know about one raw allocation."""

    cluster: str
    node: str
    namespace: str
    pod: str
    container: str
    controller_kind: str = ""
    controller_name: str = ""
    provider_id: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    services: Sequence[str] = ()
    unmounted: bool = False

    def filter_record(self) -> dict[str, object]:
        """The record shape the v2 allocation filter matches against."""
        return {
            "cluster": self.cluster,
            "node": self.node,
            "namespace": self.namespace,
            "controllerName": self.controller_name,
            "controllerKind": self.controller_kind,
            "container": self.container,
            "pod": self.pod,
            "providerID": self.provider_id,
            "services": self.services,
            "labels": self.labels,
            "annotations": self.annotations,
        }


POD_ATTRIBUTE_KEYS: Mapping[str, str] = {
    "cluster": "cluster",
    "node": "node",
    "namespace": "namespace",
    "pod": "name",
}
"""Aggregate keys whose value is a `Pod` attribute as it is (see `key_value`)."""


def key_value(member: MemberView, key: str) -> str:
    """The value one aggregate key contributes to a row name."""
    if key in POD_ATTRIBUTE_KEYS or key == "container":
        return str(getattr(member, key))
    if member.unmounted:
        return UNMOUNTED
    if key == "controllerKind":
        return member.controller_kind or UNALLOCATED
    if key == "controller":
        if not member.controller_name:
            return UNALLOCATED
        if member.controller_kind:
            return f"{member.controller_kind}:{member.controller_name}"
        return member.controller_name
    if key in CONTROLLER_KEYS:
        return member.controller_name if member.controller_kind == key else UNALLOCATED
    if key == "service":
        return min(member.services) if member.services else UNALLOCATED
    if key == "providerID":
        return member.provider_id or UNALLOCATED
    if key.startswith("label:"):
        return member.labels.get(key[6:]) or UNALLOCATED
    if key.startswith("annotation:"):
        return member.annotations.get(key[11:]) or UNALLOCATED
    name = ALIAS_LABELS[key]
    return member.labels.get(name) or member.annotations.get(name) or UNALLOCATED


def row_name(member: MemberView, keys: Sequence[str]) -> str:
    """The row a raw allocation merges into under the given aggregate keys."""
    return "/".join(key_value(member, key) for key in keys)
