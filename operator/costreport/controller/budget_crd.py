"""The CostBudget and ClusterCostBudget CRDs (written with the report CRDs by `crd.py`)."""

from __future__ import annotations

from typing import Any

from costreport.controller.crd import (
    MONEY,
    NO_SHARING_RULE,
    _b,
    _condition,
    _s,
    manifest,
    spec_schema,
)


def budget_spec_schema() -> dict[str, Any]:
    """The budget spec's structural schema (idle and sharing as in CostReport)."""
    report = spec_schema()["properties"]
    idle = {**report["idle"], "default": {"mode": "exclude"}}
    return {
        "type": "object",
        "description": "A spending limit per calendar period.",
        "required": ["amount"],
        "properties": {
            "amount": _s(
                'The budget per period, a decimal string (e.g. "1200.00").',
                pattern=MONEY,
                maxLength=20,
            ),
            "currency": _s(
                "Currency of the amount (the costs' currency).",
                default="USD",
                maxLength=3,
                minLength=3,
            ),
            "period": _s(
                "Calendar period: month, quarter, or week (from Sunday).",
                enum=["month", "quarter", "week"],
                default="month",
            ),
            "utcOffset": _s(
                "Zone of the calendar, e.g. -07:00.",
                pattern=r"^[+-](0\d|1[0-4]):[0-5]\d$",
                default="+00:00",
            ),
            "filter": _s(
                'OpenCost v2 filter of what counts, e.g. label[team]:"payments".',
                maxLength=1024,
                default="",
            ),
            "idle": idle,
            "sharing": report["sharing"],
            "thresholds": {
                "type": "array",
                "description": "Percentages of the amount that are announced once per period.",
                "default": [50, 80, 100],
                "minItems": 1,
                "maxItems": 10,
                "items": {"type": "integer", "minimum": 1, "maximum": 1000},
            },
            "forecast": {
                "type": "object",
                "description": "How the end-of-period spend is forecast.",
                "default": {},
                "properties": {
                    "method": _s(
                        "linear on the period so far, or trailing (daily rate of the last N days).",
                        enum=["linear", "trailing"],
                        default="linear",
                    ),
                    "days": {
                        "type": "integer",
                        "minimum": 1,
                        "maximum": 90,
                        "default": 7,
                        "description": "N for trailing.",
                    },
                },
            },
            "costBasis": _s(
                "auto, list or reconciled (as in CostReport).",
                enum=["auto", "list", "reconciled"],
                default="auto",
            ),
            "schedule": _s(
                "How often it is evaluated, e.g. 15m.",
                pattern=r"^([0-9]+(s|m|h|d))+$",
                default="15m",
                maxLength=16,
            ),
            "notify": {
                "type": "object",
                "description": "Where threshold crossings go besides Events.",
                "default": {},
                "properties": {
                    "webhook": {
                        "type": "object",
                        "description": "A Slack-compatible incoming webhook.",
                        "required": ["urlSecretRef"],
                        "properties": {
                            "urlSecretRef": {
                                "type": "object",
                                "description": "Secret (budget namespace) with the URL.",
                                "required": ["name"],
                                "properties": {
                                    "name": _s("Secret name.", maxLength=253),
                                    "key": _s("Key in the Secret.", default="url", maxLength=253),
                                },
                            }
                        },
                    }
                },
            },
        },
    }


def budget_status_schema() -> dict[str, Any]:
    """Every status field the operator writes for a budget."""
    return {
        "type": "object",
        "description": "The latest evaluation.",
        "properties": {
            "observedGeneration": {
                "type": "integer",
                "format": "int64",
                "description": "Generation evaluated.",
            },
            "conditions": {
                "type": "array",
                "description": "Ready, WithinBudget, ForecastWithinBudget (metav1.Condition).",
                "items": _condition(),
                "x-kubernetes-list-type": "map",
                "x-kubernetes-list-map-keys": ["type"],
            },
            "amount": _s("The budget, a decimal string."),
            "currency": _s("Currency of every amount."),
            "spent": _s("Spend of the period so far, a decimal string."),
            "forecast": _s("Forecast spend by the period's end, a decimal string."),
            "percentSpent": {"type": "number", "description": "spent ÷ amount × 100."},
            "percentForecast": {"type": "number", "description": "forecast ÷ amount × 100."},
            "period": {
                "type": "object",
                "description": "The current period, absolute.",
                "properties": {"start": _s("Start (inclusive)."), "end": _s("End (exclusive).")},
            },
            "partial": _b("The data starts after the period did: the spend is partial."),
            "thresholdsReached": {
                "type": "array",
                "description": "Thresholds reached this period.",
                "items": {"type": "integer"},
            },
            "budgetDisplay": _s("Amount with currency (printer column)."),
            "spentDisplay": _s("Spend with currency (printer column)."),
            "forecastDisplay": _s("Forecast with currency (printer column)."),
            "lastEvaluated": _s(
                "Last evaluation whose result changed the status.", format="date-time"
            ),
            "lastError": _s("Why the last evaluation failed (empty after success)."),
        },
    }


def budget_crd(kind: str) -> dict[str, Any]:
    """The CRD manifest for CostBudget or ClusterCostBudget."""
    namespaced = kind == "CostBudget"
    spec = budget_spec_schema()
    if namespaced:
        spec["x-kubernetes-validations"] = [
            {
                "rule": NO_SHARING_RULE,
                "message": "spec.sharing is only allowed in a ClusterCostBudget: sharing folds "
                "other namespaces' costs into this budget",
                "fieldPath": ".sharing",
            }
        ]
    return manifest(
        kind,
        "costbudget" if namespaced else "ccostbudget",
        "A cost budget over its own namespace only."
        if namespaced
        else "A cost budget over the cluster (any filter).",
        [
            {"name": "Budget", "type": "string", "jsonPath": ".status.budgetDisplay"},
            {"name": "Spent", "type": "string", "jsonPath": ".status.spentDisplay"},
            {"name": "Forecast", "type": "string", "jsonPath": ".status.forecastDisplay"},
            {"name": "%", "type": "number", "jsonPath": ".status.percentSpent"},
        ],
        spec,
        budget_status_schema(),
    )
