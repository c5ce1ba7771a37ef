"""Time windows, durations and step/accumulation arithmetic (reference §1.3, §1.5).

Implements OpenCost's window grammar with its alignment rules (relative durations end at the
next UTC unit boundary, so `7d` includes today), with two upstream bugs deliberately fixed:
an `offset` in weeks means one week per unit (upstream multiplies by 24 weeks), and UTC
offsets with minutes (`+05:30`) work (upstream adds the minutes as nanoseconds).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Literal

from costreport.model.errors import InvalidParameter

AccumulateBy = Literal["none", "all", "hour", "day", "week", "weeknow", "month", "quarter"]
MAX_STEP_SETS = 10_000

WINDOW_FORMS = (
    "today, yesterday, week, lastweek, month, lastmonth, <N>m|h|d|w (e.g. 7d), "
    "'<N><unit> offset <M><unit>', '<unix>,<unix>', '<RFC3339>,<RFC3339>'"
)
DURATION_FORMS = "a positive duration such as 1h, 1d, 30m, 1h30m, 2w"
BOOL_FORMS = "1, t, T, TRUE, true, True, 0, f, F, FALSE, false, False"
UNIT = {
    "m": timedelta(minutes=1),
    "h": timedelta(hours=1),
    "d": timedelta(days=1),
    "w": timedelta(weeks=1),
}


@dataclass(frozen=True, slots=True)
class Window:
    """A half-open time range [start, end) with timezone-aware bounds."""

    start: datetime
    end: datetime

    @property
    def duration(self) -> timedelta:
        """end − start."""
        return self.end - self.start

    @property
    def hours(self) -> float:
        """Length in hours."""
        return self.duration.total_seconds() / 3600.0

    @property
    def start_ts(self) -> float:
        """Start as unix seconds."""
        return self.start.timestamp()

    @property
    def end_ts(self) -> float:
        """End as unix seconds."""
        return self.end.timestamp()

    def contains_future(self, now: datetime) -> bool:
        """Whether the window reaches past `now` (its data can still change)."""
        return self.end > now

    @classmethod
    def from_timestamps(cls, start: float, end: float) -> Window:
        """A UTC window from unix seconds."""
        return cls(datetime.fromtimestamp(start, tz=UTC), datetime.fromtimestamp(end, tz=UTC))

    def to_json(self) -> dict[str, str]:
        """RFC3339 bounds in the window's own zone (`Z` for UTC)."""
        return {"start": _rfc3339(self.start), "end": _rfc3339(self.end)}


def _rfc3339(moment: datetime) -> str:
    text = moment.replace(microsecond=0).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _truncate(moment: datetime, unit: timedelta) -> datetime:
    """Truncate an absolute instant to a multiple of `unit` since the epoch (Go Truncate)."""
    seconds = int(unit.total_seconds())
    stamp = int(moment.timestamp()) // seconds * seconds
    return datetime.fromtimestamp(stamp, tz=moment.tzinfo)


_RELATIVE = re.compile(r"^(\d+)([mhdw])$")
_OFFSET = re.compile(r"^(\d+)([mhdw])\s+offset\s+(\d+)([mhdw])$")
_UNIX_PAIR = re.compile(r"^(\d+)\s*[,|\-]\s*(\d+)$")


def _invalid(text: str) -> InvalidParameter:
    return InvalidParameter("window", text, WINDOW_FORMS)


def _parse_instant(text: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None or "T" not in text:
        return None
    return moment


def parse_window(text: str, *, now: datetime, utc_offset: timedelta = timedelta(0)) -> Window:
    """Parse OpenCost's window grammar at `now` (keywords use the fixed `utc_offset` zone)."""
    zone = timezone(utc_offset) if utc_offset else UTC
    local_now = now.astimezone(zone)
    midnight = local_now.replace(hour=0, minute=0, second=0, microsecond=0)
    raw = text
    text = text.strip()
    if text == "today":
        return Window(midnight, midnight + timedelta(days=1))
    if text == "yesterday":
        return Window(midnight - timedelta(days=1), midnight)
    if text in ("week", "lastweek"):
        sunday = midnight - timedelta(days=(midnight.weekday() + 1) % 7)
        if text == "week":
            return Window(sunday, local_now)
        return Window(sunday - timedelta(days=7), sunday)
    if text in ("month", "lastmonth"):
        first = midnight.replace(day=1)
        if text == "month":
            return Window(first, local_now)
        previous = (first - timedelta(days=1)).replace(day=1)
        return Window(previous, first)
    if match := _RELATIVE.match(text):
        count, unit = int(match.group(1)), match.group(2)
        if count <= 0:
            raise _invalid(raw)
        if unit == "w":
            end = _truncate(now, UNIT["d"]) + UNIT["d"]
            start = _truncate(now - count * UNIT["w"], UNIT["d"]) + UNIT["d"]
        else:
            end = _truncate(now, UNIT[unit]) + UNIT[unit]
            start = end - count * UNIT[unit]
        return Window(start.astimezone(zone), end.astimezone(zone))
    if match := _OFFSET.match(text):
        length, unit, offset, offset_unit = match.groups()
        if int(length) <= 0:
            raise _invalid(raw)
        end = now - int(offset) * UNIT[offset_unit]
        return Window((end - int(length) * UNIT[unit]).astimezone(zone), end.astimezone(zone))
    if match := _UNIX_PAIR.match(text):
        start = datetime.fromtimestamp(int(match.group(1)), tz=zone)
        end = datetime.fromtimestamp(int(match.group(2)), tz=zone)
        if start >= end:
            raise _invalid(raw)
        return Window(start, end)
    if "," in text:
        left, _, right = text.partition(",")
        start_at, end_at = _parse_instant(left), _parse_instant(right)
        if start_at is None or end_at is None or start_at >= end_at:
            raise _invalid(raw)
        return Window(start_at.astimezone(zone), end_at.astimezone(zone))
    raise _invalid(raw)


_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ms|s|m|h|d|w)")
_DURATION_UNITS = {
    "ms": 0.001,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
    "d": 86400.0,
    "w": 604800.0,
}


def parse_duration(text: str, *, parameter: str) -> timedelta:
    """Go duration syntax plus `d` and `w` units; must be positive (a zero step never ends)."""
    stripped = text.strip()
    position = 0
    seconds = 0.0
    for match in _DURATION_PART.finditer(stripped):
        if match.start() != position:
            break
        seconds += float(match.group(1)) * _DURATION_UNITS[match.group(2)]
        position = match.end()
    if not stripped or position != len(stripped) or seconds <= 0:
        raise InvalidParameter(parameter, text, DURATION_FORMS)
    return timedelta(seconds=seconds)


def format_duration(duration: timedelta) -> str:
    """OpenCost's DurationString: `Nd`, else `Nh`, else `Nm`, else `Ns` (for PromQL ranges)."""
    seconds = int(duration.total_seconds())
    for suffix, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0 and seconds >= size:
            return f"{seconds // size}{suffix}"
    return f"{seconds}s"


def parse_bool(text: str, *, parameter: str) -> bool:
    """Go's ParseBool forms; anything else is an error (not a silent false)."""
    if text in ("1", "t", "T", "TRUE", "true", "True"):
        return True
    if text in ("0", "f", "F", "FALSE", "false", "False"):
        return False
    raise InvalidParameter(parameter, text, BOOL_FORMS)


ACCUMULATE_PERIODS: tuple[AccumulateBy, ...] = (
    "all",
    "hour",
    "day",
    "week",
    "weeknow",
    "month",
    "quarter",
    "none",
)


def parse_accumulate(text: str) -> AccumulateBy:
    """`accumulate`: a boolean (true = all) or a period.

    Periods: `hour`, `day`, `week` (calendar weeks from Sunday, OpenCost's), `weeknow`
    (calendar weeks from Monday, ISO 8601; the OpenCost UI's "Week (calendar)"), `month`,
    `quarter` (calendar quarters from January, April, July and October), and `all`.
    """
    value = text.strip()
    if value == "":
        return "none"
    lowered = value.lower()
    if lowered in ACCUMULATE_PERIODS:
        return next(p for p in ACCUMULATE_PERIODS if p == lowered)
    try:
        return "all" if parse_bool(value, parameter="accumulate") else "none"
    except InvalidParameter:
        raise InvalidParameter(
            "accumulate", text, f"{BOOL_FORMS}, or one of {', '.join(ACCUMULATE_PERIODS[:-1])}"
        ) from None


def split_window(window: Window, step: timedelta | None) -> list[Window]:
    """Step sets walking forward from the start; like OpenCost the last is not clamped."""
    if step is None:
        return [window]
    if step <= timedelta(0):
        raise InvalidParameter("step", str(step), DURATION_FORMS)
    count = -(-window.duration // step)
    if count > MAX_STEP_SETS:
        raise InvalidParameter(
            "step", str(step), f"a step giving at most {MAX_STEP_SETS} sets for this window"
        )
    return [Window(window.start + k * step, window.start + (k + 1) * step) for k in range(count)]


def _period(moment: datetime, by: AccumulateBy) -> tuple[int, ...]:
    if by == "hour":
        return (moment.year, moment.month, moment.day, moment.hour)
    if by == "day":
        return (moment.year, moment.month, moment.day)
    if by == "week":
        sunday = moment.date() - timedelta(days=(moment.weekday() + 1) % 7)
        return (sunday.year, sunday.month, sunday.day)
    if by == "weeknow":
        monday = moment.date() - timedelta(days=moment.weekday())
        return (monday.year, monday.month, monday.day)
    if by == "quarter":
        return (moment.year, (moment.month - 1) // 3)
    return (moment.year, moment.month)


_PERIOD_LENGTH = {
    "hour": timedelta(hours=1),
    "day": timedelta(days=1),
    "week": timedelta(weeks=1),
    "weeknow": timedelta(weeks=1),
}


def accumulation_groups(sets: Sequence[Window], by: AccumulateBy) -> list[list[int]]:
    """Which consecutive sets merge: none, all, or those starting in one hour/day/week/month."""
    if not sets:
        return []
    if by == "none":
        return [[i] for i in range(len(sets))]
    if by == "all":
        return [list(range(len(sets)))]
    groups: list[list[int]] = []
    previous: tuple[int, ...] | None = None
    for i, s in enumerate(sets):
        longer = by in _PERIOD_LENGTH and s.duration > _PERIOD_LENGTH[by]
        period = _period(s.start, by)
        if longer or period != previous or not groups:
            groups.append([i])
        else:
            groups[-1].append(i)
        previous = None if longer else period
    return groups


def default_step_for(by: AccumulateBy) -> timedelta | None:
    """The step implied by a periodic `accumulate` with no `step` (the UI sends that)."""
    if by == "hour":
        return timedelta(hours=1)
    if by in ("day", "week", "weeknow", "month", "quarter"):
        return timedelta(days=1)
    return None
