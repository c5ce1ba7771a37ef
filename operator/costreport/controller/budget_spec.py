"""The CostBudget / ClusterCostBudget spec as pydantic models (the CRD's schema, in Python)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from costreport.controller.spec import IdleSpec, SharingSpec


class _Spec(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="ignore", frozen=True)


class ForecastSpec(_Spec):
    """How the end-of-period spend is forecast."""

    method: Literal["linear", "trailing"] = "linear"
    days: int = Field(7, ge=1, le=90)


class SecretKeyRef(_Spec):
    """A key of a Secret in the budget's namespace (the operator's for cluster budgets)."""

    name: str = Field(min_length=1, max_length=253)
    key: str = Field("url", min_length=1, max_length=253)


class WebhookSpec(_Spec):
    """A Slack-compatible incoming webhook; its URL is a Secret's value."""

    url_secret: SecretKeyRef = Field(alias="urlSecretRef")


class NotifySpec(_Spec):
    """Where threshold crossings are announced besides Events."""

    webhook: WebhookSpec | None = None


class CostBudgetSpec(_Spec):
    """A spending limit per calendar period."""

    amount: str
    currency: str = "USD"
    period: Literal["month", "quarter", "week"] = "month"
    utc_offset: str = Field("+00:00", alias="utcOffset", pattern=r"^[+-](0\d|1[0-4]):[0-5]\d$")
    filter: str = ""
    idle: IdleSpec = IdleSpec(mode="exclude")
    sharing: SharingSpec = SharingSpec()
    thresholds: tuple[int, ...] = (50, 80, 100)
    forecast: ForecastSpec = ForecastSpec()
    cost_basis: Literal["auto", "list", "reconciled"] = Field("auto", alias="costBasis")
    notify: NotifySpec = NotifySpec()
    schedule: str = "15m"

    @field_validator("amount")
    @classmethod
    def _decimal(cls, value: str) -> str:
        try:
            number = Decimal(value)
        except InvalidOperation:
            raise ValueError(f"amount {value!r} is not a decimal number") from None
        if not number.is_finite() or number <= 0:
            raise ValueError(f"amount {value!r} must be a positive decimal")
        return value

    @field_validator("thresholds")
    @classmethod
    def _percents(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if not value or len(value) > 10 or any(not 1 <= t <= 1000 for t in value):
            raise ValueError("thresholds are 1 to 10 percentages between 1 and 1000")
        return tuple(sorted(set(value)))
