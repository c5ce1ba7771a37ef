"""OpenCost's v2 filter language (reference §1.9), parsed and compiled to predicates.

Two deliberate fixes of upstream: comparisons separated only by whitespace (a `+` that became a
space in URL decoding, opencost#3371) mean AND instead of silently dropping the rest, and every
parse error is an `InvalidParameter` rather than a partial filter.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from costreport.model.errors import InvalidParameter

FilterKind = Literal["allocation", "asset", "cloudcost"]
FilterRecord = Mapping[str, object]

ALLOCATION_FIELDS = (
    "cluster",
    "node",
    "namespace",
    "controllerName",
    "controllerKind",
    "container",
    "pod",
    "provider",
    "services",
    "label",
    "annotation",
    "department",
    "environment",
    "owner",
    "product",
    "team",
)
ASSET_FIELDS = (
    "name",
    "assetType",
    "category",
    "cluster",
    "project",
    "provider",
    "providerID",
    "account",
    "service",
    "label",
)
CLOUDCOST_FIELDS = (
    "invoiceEntityID",
    "invoiceEntityName",
    "accountID",
    "accountName",
    "regionID",
    "availabilityZone",
    "provider",
    "providerID",
    "category",
    "service",
    "label",
)
FIELDS: Mapping[str, Sequence[str]] = {
    "allocation": ALLOCATION_FIELDS,
    "asset": ASSET_FIELDS,
    "cloudcost": CLOUDCOST_FIELDS,
}
ALIASES = {
    "department": "department",
    "environment": "env",
    "owner": "owner",
    "product": "app",
    "team": "team",
}
RECORD_KEY = {"provider": "providerID"}
OPERATORS = ("!~>:", "!<~:", "!~:", "~>:", "<~:", "~:", "!:", ":")
EXAMPLE = 'v2 filter syntax, e.g. namespace:"kube-system"+controllerKind:"deployment"'
MAX_FILTER_LENGTH = 4096
"""Longest filter text accepted (the CRD allows 1,024 characters; URLs are capped at 8 KiB)."""
MAX_FILTER_DEPTH = 32
"""Deepest nesting of parentheses accepted (the parser and matcher recurse once per level)."""
MAX_FILTER_COMPARISONS = 256
"""Most comparisons one filter may hold."""
_SANITIZE = re.compile(r"[^a-zA-Z0-9_]")
_IDENT = re.compile(r"[A-Za-z0-9_-]+")
_BRACKET_KEY = re.compile(r"[A-Za-z0-9_./-]+")


def sanitize_label_key(key: str) -> str:
    """Prometheus form of a label key (`app.kubernetes.io/name` → `app_kubernetes_io_name`)."""
    return _SANITIZE.sub("_", key)


class Filter:
    """A compiled filter: `matches` a record, `fields` it reads, a canonical text form."""

    def matches(self, record: FilterRecord) -> bool:
        """Whether the record passes."""
        raise NotImplementedError

    def fields(self) -> frozenset[str]:
        """Record fields read (`label:<key>` for map lookups, `label` for key-less)."""
        raise NotImplementedError


@dataclass(frozen=True)
class MatchAll(Filter):
    """The empty filter."""

    def matches(self, record: FilterRecord) -> bool:
        return True

    def fields(self) -> frozenset[str]:
        return frozenset()

    def __str__(self) -> str:
        return ""


MATCH_ALL = MatchAll()


def _string_test(op: str, value: str) -> Callable[[str], bool]:
    base = op.lstrip("!")
    if base == ":":
        return lambda s: s == value
    if base == "~:":
        return lambda s: value in s
    if base == "<~:":
        return lambda s: s.startswith(value)
    return lambda s: s.endswith(value)


@dataclass(frozen=True)
class Comparison(Filter):
    """`field[key] op "v1","v2"`: positive ops OR their values, negative ops AND them."""

    field: str
    key: str | None
    op: str
    values: tuple[str, ...]
    record_key: str | None = None  # the record's key for the field (None: OpenCost's mapping)

    def _value(self, record: FilterRecord) -> object:
        if self.record_key is not None:
            if self.field == "label":
                table = record.get("labels") or {}
                assert isinstance(table, Mapping)
                return list(table) if self.key is None else table.get(self.key, "")
            value = record.get(self.record_key, "")
            return value if value is not None else ""
        if self.field in ALIASES:
            name = ALIASES[self.field]
            labels = record.get("labels") or {}
            annotations = record.get("annotations") or {}
            assert isinstance(labels, Mapping) and isinstance(annotations, Mapping)
            return labels.get(name) or annotations.get(name) or ""
        if self.field in ("label", "annotation"):
            table = record.get(self.field + "s") or {}
            assert isinstance(table, Mapping)
            if self.key is None:
                return list(table)
            return table.get(self.key, "")
        value = record.get(RECORD_KEY.get(self.field, self.field), "")
        return value if value is not None else ""

    def matches(self, record: FilterRecord) -> bool:
        value = self._value(record)
        negative = self.op.startswith("!")
        if isinstance(value, list | tuple):
            if self.op.lstrip("!") == ":":
                hits = [v in value for v in self.values]
            else:
                hits = [any(_string_test(self.op, v)(str(x)) for x in value) for v in self.values]
        else:
            hits = [_string_test(self.op, v)(str(value)) for v in self.values]
        return not any(hits) if negative else any(hits)

    def fields(self) -> frozenset[str]:
        if self.field in ALIASES:
            name = ALIASES[self.field]
            return frozenset({f"label:{name}", f"annotation:{name}"})
        if self.field in ("label", "annotation"):
            return frozenset({f"{self.field}:{self.key}" if self.key else self.field})
        return frozenset({self.field})

    def __str__(self) -> str:
        key = f"[{self.key}]" if self.key is not None else ""
        return f"{self.field}{key}{self.op}" + ",".join(f'"{v}"' for v in self.values)


@dataclass(frozen=True)
class Combination(Filter):
    """AND (`+`) or OR (`|`) of sub-filters."""

    op: str
    parts: tuple[Filter, ...]

    def matches(self, record: FilterRecord) -> bool:
        if self.op == "+":
            return all(p.matches(record) for p in self.parts)
        return any(p.matches(record) for p in self.parts)

    def fields(self) -> frozenset[str]:
        return frozenset().union(*(p.fields() for p in self.parts))

    def __str__(self) -> str:
        return "(" + self.op.join(str(p) for p in self.parts) + ")"


class _Parser:
    def __init__(self, text: str, kind: FilterKind) -> None:
        self.text = text
        self.pos = 0
        self.fields: Sequence[str] = FIELDS[kind]
        self.kind = kind
        self.depth = 0
        self.comparisons = 0

    def error(self, what: str) -> InvalidParameter:
        return InvalidParameter("filter", self.text, f"{EXAMPLE}; {what}")

    def skip_space(self) -> bool:
        start = self.pos
        while self.pos < len(self.text) and self.text[self.pos] in " \t\r\n":
            self.pos += 1
        return self.pos > start

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def parse(self) -> Filter:
        result = self.filter()
        self.skip_space()
        if self.pos < len(self.text):
            raise self.error(f"unexpected {self.peek()!r} at position {self.pos}")
        return result

    def filter(self) -> Filter:
        parts = [self.element()]
        op: str | None = None
        while True:
            spaced = self.skip_space()
            ch = self.peek()
            if ch in ("+", "|"):
                if op is not None and ch != op:
                    raise self.error(
                        f"found {ch!r} at position {self.pos}, expected {op!r}: "
                        "use parentheses to mix + and |"
                    )
                op = ch
                self.pos += 1
                self.skip_space()
                if self.peek() in ("", ")"):
                    raise self.error(f"expected a comparison after {ch!r} at position {self.pos}")
                parts.append(self.element())
            elif ch and ch != ")" and spaced:
                if op == "|":
                    raise self.error(f"found ' ' (AND) at position {self.pos}, expected '|'")
                op = "+"
                parts.append(self.element())
            else:
                break
        return parts[0] if len(parts) == 1 else Combination(op or "+", tuple(parts))

    def element(self) -> Filter:
        self.skip_space()
        if self.peek() == "(":
            if self.depth >= MAX_FILTER_DEPTH:
                raise self.error(
                    f"parentheses nested deeper than {MAX_FILTER_DEPTH} levels at position "
                    f"{self.pos}"
                )
            self.depth += 1
            self.pos += 1
            inner = self.filter()
            self.depth -= 1
            self.skip_space()
            if self.peek() != ")":
                raise self.error(f"expected ')' at position {self.pos}")
            self.pos += 1
            return inner
        return self.comparison()

    def comparison(self) -> Filter:
        start = self.pos
        self.comparisons += 1
        if self.comparisons > MAX_FILTER_COMPARISONS:
            raise self.error(
                f"more than {MAX_FILTER_COMPARISONS} comparisons (position {self.pos})"
            )
        match = _IDENT.match(self.text, self.pos)
        if not match:
            raise self.error(f"expected a field name at position {self.pos}")
        field = match.group(0)
        if field not in self.fields:
            raise self.error(
                f"unknown field {field!r} at position {start} (fields: {', '.join(self.fields)})"
            )
        self.pos = match.end()
        key: str | None = None
        if self.peek() == "[":
            if field not in ("label", "annotation"):
                raise self.error(f"field {field!r} takes no [key] (position {self.pos})")
            key_match = _BRACKET_KEY.match(self.text, self.pos + 1)
            if not key_match or self.text[key_match.end() : key_match.end() + 1] != "]":
                raise self.error(f"expected a key and ']' at position {self.pos + 1}")
            key = sanitize_label_key(key_match.group(0))
            self.pos = key_match.end() + 1
        self.skip_space()
        op = next((o for o in OPERATORS if self.text.startswith(o, self.pos)), None)
        if op is None:
            raise self.error(f"expected an operator (:, !:, ~:, <~:, ~>: …) at position {self.pos}")
        self.pos += len(op)
        values = [self.value()]
        while True:
            before = self.pos
            self.skip_space()
            if self.peek() != ",":
                self.pos = before
                break
            self.pos += 1
            values.append(self.value())
        cleaned = tuple("" if v == "__unallocated__" else v for v in values)
        if field in ("label", "annotation") and key is None:
            cleaned = tuple(sanitize_label_key(v) for v in cleaned)
        return Comparison(field, key, op, cleaned, field if self.kind == "cloudcost" else None)

    def value(self) -> str:
        self.skip_space()
        if self.peek() != '"':
            raise self.error(f"expected '\"' at position {self.pos}")
        end = self.text.find('"', self.pos + 1)
        if end < 0:
            raise self.error(f"unterminated string starting at position {self.pos}")
        value = self.text[self.pos + 1 : end]
        self.pos = end + 1
        return value


def parse_filter(text: str, *, kind: FilterKind = "allocation") -> Filter:
    """Parse and compile a v2 filter; empty text matches everything.

    Bounded: at most `MAX_FILTER_LENGTH` characters, `MAX_FILTER_DEPTH` levels of parentheses
    and `MAX_FILTER_COMPARISONS` comparisons; anything beyond is an `InvalidParameter`.
    """
    if len(text) > MAX_FILTER_LENGTH:
        raise InvalidParameter(
            "filter",
            text[:64] + "…",
            f"{EXAMPLE}; at most {MAX_FILTER_LENGTH} characters (got {len(text)})",
        )
    if not text.strip():
        return MATCH_ALL
    return _Parser(text, kind).parse()
