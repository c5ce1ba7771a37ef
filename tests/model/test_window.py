"""Every window form at a frozen now (Wednesday 2026-11-18 10:17:45Z), durations, accumulation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from costreport.model.errors import InvalidParameter
from costreport.model.window import (
    BOOL_FORMS,
    DURATION_FORMS,
    WINDOW_FORMS,
    Window,
    accumulation_groups,
    default_step_for,
    format_duration,
    parse_accumulate,
    parse_bool,
    parse_duration,
    parse_window,
    split_window,
)

NOW = datetime(2026, 11, 18, 10, 17, 45, tzinfo=UTC)


def z(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        ("today", "2026-11-18T00:00:00Z", "2026-11-19T00:00:00Z"),
        ("yesterday", "2026-11-17T00:00:00Z", "2026-11-18T00:00:00Z"),
        ("week", "2026-11-15T00:00:00Z", "2026-11-18T10:17:45Z"),
        ("lastweek", "2026-11-08T00:00:00Z", "2026-11-15T00:00:00Z"),
        ("month", "2026-11-01T00:00:00Z", "2026-11-18T10:17:45Z"),
        ("lastmonth", "2026-10-01T00:00:00Z", "2026-11-01T00:00:00Z"),
        ("7d", "2026-11-12T00:00:00Z", "2026-11-19T00:00:00Z"),
        ("1d", "2026-11-18T00:00:00Z", "2026-11-19T00:00:00Z"),
        ("12h", "2026-11-17T23:00:00Z", "2026-11-18T11:00:00Z"),
        ("30m", "2026-11-18T09:48:00Z", "2026-11-18T10:18:00Z"),
        ("2w", "2026-11-05T00:00:00Z", "2026-11-19T00:00:00Z"),
        ("1d offset 1d", "2026-11-16T10:17:45Z", "2026-11-17T10:17:45Z"),
        ("2h offset 30m", "2026-11-18T07:47:45Z", "2026-11-18T09:47:45Z"),
        # Upstream multiplies a week offset by 24 weeks; one week means one week here.
        ("3d offset 1w", "2026-11-08T10:17:45Z", "2026-11-11T10:17:45Z"),
        ("1763424000,1763510400", "2025-11-18T00:00:00Z", "2025-11-19T00:00:00Z"),
        ("1763424000-1763510400", "2025-11-18T00:00:00Z", "2025-11-19T00:00:00Z"),
        ("1763424000|1763510400", "2025-11-18T00:00:00Z", "2025-11-19T00:00:00Z"),
        (
            "2026-11-01T00:00:00Z,2026-11-02T12:00:00Z",
            "2026-11-01T00:00:00Z",
            "2026-11-02T12:00:00Z",
        ),
        (
            " 2026-11-01T02:00:00+02:00,2026-11-02T00:00:00Z ",
            "2026-11-01T00:00:00Z",
            "2026-11-02T00:00:00Z",
        ),
    ],
)
def test_windows_in_utc(text: str, start: str, end: str) -> None:
    window = parse_window(text, now=NOW)
    assert window.to_json() == {"start": start, "end": end}


@pytest.mark.parametrize(
    ("offset", "text", "start", "end"),
    [
        (timedelta(hours=-7), "today", "2026-11-18T00:00:00-07:00", "2026-11-19T00:00:00-07:00"),
        (
            timedelta(hours=-7),
            "yesterday",
            "2026-11-17T00:00:00-07:00",
            "2026-11-18T00:00:00-07:00",
        ),
        (timedelta(hours=-7), "week", "2026-11-15T00:00:00-07:00", "2026-11-18T03:17:45-07:00"),
        # Relative durations stay aligned to UTC days, rendered in the configured zone.
        (timedelta(hours=-7), "7d", "2026-11-11T17:00:00-07:00", "2026-11-18T17:00:00-07:00"),
        (
            timedelta(hours=5, minutes=30),
            "today",
            "2026-11-18T00:00:00+05:30",
            "2026-11-19T00:00:00+05:30",
        ),
        (
            timedelta(hours=5, minutes=30),
            "lastmonth",
            "2026-10-01T00:00:00+05:30",
            "2026-11-01T00:00:00+05:30",
        ),
    ],
)
def test_windows_with_a_fixed_zone(offset: timedelta, text: str, start: str, end: str) -> None:
    window = parse_window(text, now=NOW, utc_offset=offset)
    assert window.to_json() == {"start": start, "end": end}


@pytest.mark.parametrize(
    "text",
    [
        "",
        "fortnight",
        "0d",
        "-1d",
        "7x",
        "7 d",
        "1d offset",
        "2026-11-02T00:00:00Z,2026-11-01T00:00:00Z",
        "2026-11-01,2026-11-02",
        "5,5",
        "Today",
    ],
)
def test_bad_windows_name_the_value_and_the_forms(text: str) -> None:
    with pytest.raises(InvalidParameter) as caught:
        parse_window(text, now=NOW)
    assert str(caught.value) == f"invalid 'window' parameter: {text!r}; accepted: {WINDOW_FORMS}"


def test_window_properties() -> None:
    window = Window(z("2026-11-01T00:00:00Z"), z("2026-11-01T06:00:00Z"))
    assert window.hours == 6.0
    assert window.duration == timedelta(hours=6)
    assert window.end_ts - window.start_ts == 21600
    assert window.contains_future(z("2026-11-01T05:00:00Z"))
    assert not window.contains_future(z("2026-11-01T06:00:00Z"))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1h", timedelta(hours=1)),
        ("1d", timedelta(days=1)),
        ("2w", timedelta(weeks=2)),
        ("1h30m", timedelta(minutes=90)),
        ("1d12h", timedelta(hours=36)),
        ("1.5h", timedelta(minutes=90)),
        ("90s", timedelta(seconds=90)),
        ("500ms", timedelta(milliseconds=500)),
    ],
)
def test_durations(text: str, expected: timedelta) -> None:
    assert parse_duration(text, parameter="step") == expected


@pytest.mark.parametrize("text", ["", "0", "0h", "-1h", "h", "1x", "1h 30m", "1hh", "daily"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(InvalidParameter) as caught:
        parse_duration(text, parameter="step")
    assert str(caught.value) == f"invalid 'step' parameter: {text!r}; accepted: {DURATION_FORMS}"


@pytest.mark.parametrize(
    ("duration", "text"),
    [
        (timedelta(days=2), "2d"),
        (timedelta(hours=36), "36h"),
        (timedelta(minutes=5), "5m"),
        (timedelta(seconds=90), "90s"),
        (timedelta(hours=1), "1h"),
    ],
)
def test_format_duration(duration: timedelta, text: str) -> None:
    assert format_duration(duration) == text


def test_bools_follow_go_parse_bool() -> None:
    assert [parse_bool(v, parameter="x") for v in ("1", "t", "TRUE", "True")] == [True] * 4
    assert [parse_bool(v, parameter="x") for v in ("0", "f", "FALSE", "False")] == [False] * 4
    with pytest.raises(InvalidParameter) as caught:
        parse_bool("yes", parameter="includeIdle")
    assert str(caught.value) == f"invalid 'includeIdle' parameter: 'yes'; accepted: {BOOL_FORMS}"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "none"),
        ("true", "all"),
        ("false", "none"),
        ("1", "all"),
        ("day", "day"),
        ("Week", "week"),
        ("month", "month"),
        ("hour", "hour"),
        ("all", "all"),
        ("weeknow", "weeknow"),
        ("Quarter", "quarter"),
    ],
)
def test_accumulate(text: str, expected: str) -> None:
    assert parse_accumulate(text) == expected


def test_bad_accumulate() -> None:
    with pytest.raises(InvalidParameter) as caught:
        parse_accumulate("quarterly")
    assert caught.value.message.endswith("or one of all, hour, day, week, weeknow, month, quarter")


def test_split_window_walks_forward_and_does_not_clamp() -> None:
    week = parse_window("7d", now=NOW)
    sets = split_window(week, timedelta(days=1))
    assert len(sets) == 7
    assert sets[0].to_json() == {"start": "2026-11-12T00:00:00Z", "end": "2026-11-13T00:00:00Z"}
    ten_hours = Window(z("2026-11-01T00:00:00Z"), z("2026-11-01T10:00:00Z"))
    sets = split_window(ten_hours, timedelta(hours=3))
    assert [s.to_json()["end"] for s in sets] == [
        "2026-11-01T03:00:00Z",
        "2026-11-01T06:00:00Z",
        "2026-11-01T09:00:00Z",
        "2026-11-01T12:00:00Z",
    ]
    assert split_window(ten_hours, None) == [ten_hours]
    with pytest.raises(InvalidParameter, match="at most 10000 sets"):
        split_window(parse_window("30d", now=NOW), timedelta(seconds=60))


def _hours(start: str, count: int, step: timedelta) -> list[Window]:
    return split_window(Window(z(start), z(start) + count * step), step)


def test_accumulate_day_over_hourly_sets_crossing_midnight() -> None:
    sets = _hours("2026-11-17T22:00:00Z", 4, timedelta(hours=1))
    assert accumulation_groups(sets, "day") == [[0, 1], [2, 3]]


def test_accumulate_week_starts_on_sunday() -> None:
    sets = _hours("2026-11-13T00:00:00Z", 4, timedelta(days=1))  # Fri, Sat, Sun, Mon
    assert accumulation_groups(sets, "week") == [[0, 1], [2, 3]]


def test_accumulate_weeknow_starts_on_monday() -> None:
    sets = _hours("2026-11-13T00:00:00Z", 4, timedelta(days=1))  # Fri, Sat, Sun, Mon
    assert accumulation_groups(sets, "weeknow") == [[0, 1, 2], [3]]
    # A week-long set from a Monday stays one period; longer sets stand alone.
    assert accumulation_groups(
        _hours("2026-11-16T00:00:00Z", 2, timedelta(weeks=1)), "weeknow"
    ) == [
        [0],
        [1],
    ]


def test_accumulate_quarter_over_daily_sets() -> None:
    sets = _hours("2026-09-29T00:00:00Z", 4, timedelta(days=1))  # Sep 29, 30, Oct 1, 2
    assert accumulation_groups(sets, "quarter") == [[0, 1], [2, 3]]
    days = _hours("2026-01-01T00:00:00Z", 181, timedelta(days=1))  # Jan 1 … Jun 30
    assert [len(g) for g in accumulation_groups(days, "quarter")] == [90, 91]
    assert default_step_for("quarter") == default_step_for("weeknow") == timedelta(days=1)


def test_accumulate_month_over_daily_sets() -> None:
    sets = _hours("2026-10-30T00:00:00Z", 4, timedelta(days=1))
    assert accumulation_groups(sets, "month") == [[0, 1], [2, 3]]


def test_accumulate_all_none_and_long_sets() -> None:
    sets = _hours("2026-10-30T00:00:00Z", 3, timedelta(days=1))
    assert accumulation_groups(sets, "all") == [[0, 1, 2]]
    assert accumulation_groups(sets, "none") == [[0], [1], [2]]
    assert accumulation_groups(sets, "hour") == [[0], [1], [2]]  # longer than an hour: alone
    assert accumulation_groups([], "all") == []


def test_default_steps() -> None:
    assert default_step_for("hour") == timedelta(hours=1)
    assert default_step_for("day") == default_step_for("month") == timedelta(days=1)
    assert default_step_for("all") is None and default_step_for("none") is None
