"""Budget maths: the calendar period, period-to-date spend, the forecast and thresholds.

Periods are calendar months, quarters or weeks (Sunday to Sunday, as OpenCost's `week`
window) in a fixed zone given as a UTC offset. The forecast is `linear` (spend so far ÷
elapsed × period length) or `trailing` (spend so far + the average daily spend of the last
N days × the days left). A period
that started before the data did is *partial*: its spend is what the data covers, declared,
never silently presented as the whole period.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Literal

Period = Literal["month", "quarter", "week"]
ForecastMethod = Literal["linear", "trailing"]


def parse_offset(text: str) -> timedelta:
    """`+HH:MM` / `-HH:MM` as a timedelta (the spec's pattern already checked the form)."""
    sign = -1 if text.startswith("-") else 1
    hours, minutes = text.lstrip("+-").split(":")
    return sign * timedelta(hours=int(hours), minutes=int(minutes))


def period_bounds(
    period: Period, now: datetime, utc_offset: timedelta = timedelta(0)
) -> tuple[datetime, datetime]:
    """[start, end) of the calendar period containing `now`, in the offset's zone (UTC out)."""
    zone = timezone(utc_offset)
    local = now.astimezone(zone)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "week":
        start = midnight - timedelta(days=(midnight.weekday() + 1) % 7)
        end = start + timedelta(days=7)
    elif period == "month":
        start = midnight.replace(day=1)
        end = start.replace(year=start.year + (start.month == 12), month=start.month % 12 + 1)
    else:
        first_month = 3 * ((local.month - 1) // 3) + 1
        start = midnight.replace(month=first_month, day=1)
        month = first_month + 3
        end = start.replace(year=start.year + (month > 12), month=(month - 1) % 12 + 1)
    return start.astimezone(UTC), end.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class BudgetState:
    """One evaluation's numbers."""

    spent: float
    forecast: float
    percent_spent: float
    percent_forecast: float
    reached: tuple[int, ...]  # thresholds reached by spend, ascending


def forecast(
    method: ForecastMethod,
    spent: float,
    start: datetime,
    end: datetime,
    now: datetime,
    trailing_spend: float | None = None,
    trailing_days: float = 7.0,
) -> float:
    """Forecast end-of-period spend."""
    if now >= end:
        return spent
    elapsed = (now - start).total_seconds()
    remaining = (end - now).total_seconds()
    if method == "trailing" and trailing_spend is not None and trailing_days > 0:
        return spent + trailing_spend / (trailing_days * 86400) * remaining
    if elapsed <= 0:
        return spent
    return spent / elapsed * (end - start).total_seconds()


def evaluate(
    amount: Decimal, spent: float, projected: float, thresholds: tuple[int, ...]
) -> BudgetState:
    """Percentages and the thresholds spend has reached."""
    budget = float(amount)
    percent = 100.0 * spent / budget if budget > 0 else 0.0
    percent_forecast = 100.0 * projected / budget if budget > 0 else 0.0
    reached = tuple(t for t in sorted(set(thresholds)) if percent >= t)
    return BudgetState(spent, projected, percent, percent_forecast, reached)
