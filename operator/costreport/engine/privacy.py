"""Label and annotation privacy: an allow-list of keys, and keyed hashing of chosen values.

Labels "may carry tenant or user identifiers". Only allowed keys survive into responses,
status and ConfigMaps: the policy is applied to the cluster data before any computation, so
every output sees the same filtered labels, and a query that names a disallowed key (in
`aggregate` or `filter`) is a 400 naming the key and the setting.
"""

from __future__ import annotations

import fnmatch
import functools
import hashlib
import hmac
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

from costreport.engine.aggregate import ALIAS_LABELS, sanitize_key
from costreport.engine.filters import parse_filter
from costreport.model.cluster import ClusterData, Pod, PodColumns
from costreport.model.errors import InvalidParameter
from costreport.model.query import AllocationQuery

DEFAULT_ALLOWED = ("app", "team", "env", "component", "app.kubernetes.io/*")
# Node labels the engine adds to pods for the node allow-list (OpenCost §3.8).
NODE_KEYS = (
    "node_kubernetes_io_instance_type",
    "topology_kubernetes_io_region",
    "topology_kubernetes_io_zone",
)


@dataclass(frozen=True, slots=True)
class LabelPolicy:
    """Which label/annotation keys may appear, and which values are replaced by a keyed hash.

    Keys are matched in their sanitised form (`app.kubernetes.io/*` → `app_kubernetes_io_*`).
    """

    allowed: tuple[str, ...] = DEFAULT_ALLOWED
    hashed: tuple[str, ...] = ()
    secret: bytes = b""
    setting: str = "--label-allow-list"

    def permits(self, key: str) -> bool:
        """Whether a (sanitised) key may appear."""
        return _permits(self.allowed, key)

    def _value(self, key: str, value: str) -> str:
        if key in {sanitize_key(h) for h in self.hashed}:
            digest = hmac.new(self.secret, value.encode(), hashlib.sha256).hexdigest()
            return f"h:{digest[:16]}"
        return value

    def clean(self, labels: Mapping[str, str]) -> Mapping[str, str]:
        """Allowed keys only, chosen values hashed (the same mapping when nothing changes)."""
        hashed = {sanitize_key(h) for h in self.hashed}
        if all(self.permits(k) and k not in hashed for k in labels):
            return labels
        return {k: self._value(k, v) for k, v in labels.items() if self.permits(k)}

    def apply(self, data: ClusterData) -> ClusterData:
        """The data with every label and annotation map cleaned. Each map object is cleaned
        once: pods with equal maps often share one (the ledger's decoder makes one dict per
        distinct map), and a query over 90 days of a 10k-pod cluster holds ~100,000 pods."""
        cleaned: dict[int, Mapping[str, str]] = {}  # by id: every map stays alive meanwhile

        def once(labels: Mapping[str, str]) -> Mapping[str, str]:
            found = cleaned.get(id(labels))
            if found is None:
                found = cleaned[id(labels)] = self.clean(labels)
            return found

        return replace(
            data,
            pods=self._pods(data.pods, once),
            namespace_labels={k: self.clean(v) for k, v in data.namespace_labels.items()},
            namespace_annotations={k: self.clean(v) for k, v in data.namespace_annotations.items()},
        )

    @staticmethod
    def _pods(
        pods: Sequence[Pod], once: Callable[[Mapping[str, str]], Mapping[str, str]]
    ) -> Sequence[Pod]:
        """The pods with their maps cleaned; the same sequence where nothing changes."""
        if isinstance(pods, PodColumns):  # column by column: no `Pod` made
            columns = {
                name: [once(m) for m in pods.column(name)] for name in ("labels", "annotations")
            }
            same = all(
                a is b
                for name, cleaned in columns.items()
                for a, b in zip(cleaned, pods.column(name), strict=True)
            )
            return pods if same else pods.replaced(**columns)
        out: list[Pod] = []
        changed = False
        for p in pods:
            labels, annotations = once(p.labels), once(p.annotations)
            if labels is p.labels and annotations is p.annotations:
                out.append(p)
            else:
                out.append(replace(p, labels=labels, annotations=annotations))
                changed = True
        return out if changed else pods

    def check(self, query: AllocationQuery) -> None:
        """Reject a query that aggregates or filters by a key the policy hides."""
        for key in query.aggregate:
            name = _label_key(key)
            if name is not None and not self.permits(name):
                raise InvalidParameter("aggregate", key, self.accepted(name))
        for key, value in query.share_labels:
            if not self.permits(key):
                raise InvalidParameter("shareLabels", f"{key}:{value}", self.accepted(key))
        if query.filter:
            for read in sorted(parse_filter(query.filter).fields()):
                kind, _, name = read.partition(":")
                if kind in ("label", "annotation") and name and not self.permits(name):
                    raise InvalidParameter("filter", query.filter, self.accepted(name))

    def accepted(self, key: str) -> str:
        """The accepted-values text of the 400 for a hidden key."""
        return (
            f"label/annotation keys allowed by {self.setting} ({', '.join(self.allowed)}); "
            f"{key!r} is not"
        )


@functools.lru_cache(maxsize=65536)
def _permits(allowed: tuple[str, ...], key: str) -> bool:
    sanitized = sanitize_key(key)
    patterns = [sanitize_key(p.rstrip("*")) + ("*" if p.endswith("*") else "") for p in allowed]
    return sanitized in NODE_KEYS or any(fnmatch.fnmatchcase(sanitized, p) for p in patterns)


def _label_key(aggregate_key: str) -> str | None:
    if aggregate_key.startswith(("label:", "annotation:")):
        return aggregate_key.split(":", 1)[1]
    return ALIAS_LABELS.get(aggregate_key)


def parse_allow_list(text: str | None) -> tuple[str, ...]:
    """`app,team,app.kubernetes.io/*` → a tuple; empty keeps the defaults."""
    items = tuple(i.strip() for i in (text or "").split(",") if i.strip())
    return items or DEFAULT_ALLOWED


def hashed_keys(values: Sequence[str]) -> tuple[str, ...]:
    """Keys whose values are hashed (repeatable option values)."""
    return tuple(v.strip() for v in values if v.strip())
