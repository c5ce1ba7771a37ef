"""The CostReport and ClusterCostReport CRDs, built from one definition.

`python -m costreport.controller.crd --out crds --out charts/costreport/crds` writes the
CRDs (`--check DIR` verifies them); a test
checks the committed files equal this output, that the schema and the pydantic spec agree,
and that every status field the operator writes is declared (undeclared ones are pruned).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from costreport.model.report import GROUP, PLURALS, VERSION

AGGREGATE_PATTERN = (
    r"^(cluster|node|namespace|pod|container|controller|controllerKind|providerID|service|"
    r"deployment|daemonset|statefulset|job|department|environment|owner|product|team|all|"
    r"label:[A-Za-z0-9_./-]{1,63}|annotation:[A-Za-z0-9_./-]{1,63})$"
)
DURATION_PATTERN = r"^([0-9]+(\.[0-9]+)?(ms|s|m|h|d|w))+$"
SCHEDULE_PATTERN = r"^(([0-9]+(ms|s|m|h|d|w))+|([0-9*/,-]+ ){4}[0-9A-Za-z*/,-]+)$"
MONEY = r"^[0-9]+(\.[0-9]+)?$"


def _s(description: str, **extra: Any) -> dict[str, Any]:
    return {"type": "string", "description": description, **extra}


def _b(description: str, default: bool = False) -> dict[str, Any]:
    return {"type": "boolean", "default": default, "description": description}


def spec_schema() -> dict[str, Any]:
    """The spec's structural schema (shared by both kinds)."""
    return {
        "type": "object",
        "description": "What the report computes and when.",
        "required": ["window"],
        "properties": {
            "window": _s(
                "Time window in OpenCost's grammar: today, yesterday, week, lastweek, month, "
                "lastmonth, <N>m|h|d|w (e.g. 7d), '<N><u> offset <M><u>', or "
                "'<RFC3339>,<RFC3339>'.",
                minLength=1,
                maxLength=64,
            ),
            "aggregate": {
                "type": "array",
                "description": "Aggregation keys, e.g. [namespace] or [namespace, label:team]; "
                "[all] gives one row.",
                "maxItems": 8,
                "default": ["namespace"],
                "items": _s("An aggregation key.", pattern=AGGREGATE_PATTERN, maxLength=80),
            },
            "step": _s(
                "Length of each step set, e.g. 1d; omit for one set.",
                pattern=DURATION_PATTERN,
                maxLength=16,
            ),
            "accumulate": _s(
                "Merge step sets: none, all, or per hour/day/week/month.",
                enum=["none", "all", "hour", "day", "week", "weeknow", "month", "quarter"],
                default="none",
            ),
            "idle": {
                "type": "object",
                "description": "How idle (unallocated node) cost is handled.",
                "default": {},
                "properties": {
                    "mode": _s(
                        "exclude: no idle; separate: an __idle__ row (cluster reports only; a "
                        "namespaced report treats it as exclude); share: spread onto rows by "
                        "resource cost.",
                        enum=["exclude", "separate", "share"],
                        default="separate",
                    ),
                    "byNode": _b("Compute idle sharing per node instead of per cluster."),
                },
                "x-kubernetes-validations": [
                    {
                        "rule": "!has(self.byNode) || !self.byNode || !has(self.mode) || "
                        "self.mode != 'exclude'",
                        "message": "idle.byNode needs idle.mode separate or share",
                    }
                ],
            },
            "sharing": {
                "type": "object",
                "description": "Costs spread over the report's rows (ClusterCostReport only).",
                "default": {},
                "properties": {
                    "namespaces": {
                        "type": "array",
                        "maxItems": 32,
                        "description": "Namespaces whose cost is shared (e.g. kube-system).",
                        "items": _s("A namespace.", maxLength=63),
                    },
                    "labels": {
                        "type": "array",
                        "maxItems": 32,
                        "description": "key:value labels whose pods' cost is shared.",
                        "items": _s("key:value", pattern=r"^[^:]+:.+$", maxLength=253),
                    },
                    "monthlyCost": _s(
                        "A fixed monthly amount shared over the rows (÷ 730 per hour).",
                        pattern=MONEY,
                        maxLength=20,
                        default="0",
                    ),
                    "split": _s(
                        "weighted by row cost, or even.",
                        enum=["weighted", "even"],
                        default="weighted",
                    ),
                    "includeBreakdown": _b("Record per-source shared costs in the outputs."),
                },
                "x-kubernetes-validations": [
                    {
                        "rule": "!has(self.split) || self.split == 'weighted' || "
                        "(has(self.namespaces) && size(self.namespaces) > 0) || "
                        "(has(self.labels) && size(self.labels) > 0) || "
                        "(has(self.monthlyCost) && self.monthlyCost != '0')",
                        "message": "sharing.split needs something to share",
                    }
                ],
            },
            "filter": _s(
                'OpenCost v2 filter, e.g. controllerKind:"deployment".', maxLength=1024, default=""
            ),
            "schedule": _s(
                "An interval (1h, 30m, 1d; at least 1m) or a five-field cron expression (UTC).",
                pattern=SCHEDULE_PATTERN,
                maxLength=64,
                default="1h",
            ),
            "output": {
                "type": "object",
                "description": "Where results go besides the status.",
                "default": {},
                "properties": {
                    "configMap": _b("Write rows to ConfigMaps <report>-costreport[-N].", True),
                    "format": _s(
                        "Row format in the ConfigMaps.",
                        enum=["json", "csv", "both"],
                        default="json",
                    ),
                    "topN": {
                        "type": "integer",
                        "minimum": 0,
                        "maximum": 100,
                        "default": 10,
                        "description": "Rows kept in status.topRows.",
                    },
                    "focus": {
                        "type": "object",
                        "description": "Also write the run's FOCUS 1.3 rows (closed days of the "
                        "window) to a directory or bucket: <url>/<namespace>/<report>/focus-"
                        "<start>_<end>.<format>.",
                        "required": ["url"],
                        "properties": {
                            "url": _s(
                                "A directory, or s3://, gs://, az:// (the ledger's schemes).",
                                maxLength=1024,
                                minLength=1,
                            ),
                            "format": _s(
                                "parquet or csv.", enum=["parquet", "csv"], default="parquet"
                            ),
                        },
                    },
                },
            },
            "suspend": _b("Stop computing; the last results stay."),
            "costBasis": _s(
                "auto (default): costs reconciled to the cloud bill where the ledger has one, "
                "list prices elsewhere; list: on-demand prices; reconciled: the bill's "
                "effective cost for every matched node, volume and load balancer.",
                enum=["auto", "list", "reconciled"],
                default="auto",
            ),
        },
    }


def _condition() -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["type", "status", "lastTransitionTime", "reason", "message"],
        "properties": {
            "type": _s("Ready, Reconciling or Stalled.", maxLength=316),
            "status": _s("True, False or Unknown.", enum=["True", "False", "Unknown"]),
            "observedGeneration": {
                "type": "integer",
                "format": "int64",
                "minimum": 0,
                "description": "Generation the condition describes.",
            },
            "lastTransitionTime": _s("When the status last changed.", format="date-time"),
            "reason": _s(
                "CamelCase reason, e.g. Computed, InvalidSpec, PrometheusUnavailable.",
                maxLength=1024,
            ),
            "message": _s("Human-readable detail.", maxLength=32768),
        },
    }


NO_SHARING_RULE = (
    "!has(self.sharing) || ("
    "(!has(self.sharing.namespaces) || size(self.sharing.namespaces) == 0) && "
    "(!has(self.sharing.labels) || size(self.sharing.labels) == 0) && "
    "(!has(self.sharing.monthlyCost) || self.sharing.monthlyCost.matches('^0+(\\\\.0+)?$')))"
)


def namespaced_rules() -> dict[str, Any]:
    """Admission rules of a namespaced CostReport: it sees its own namespace only."""
    return {
        "x-kubernetes-validations": [
            {
                "rule": NO_SHARING_RULE,
                "message": "spec.sharing is only allowed in a ClusterCostReport: sharing folds "
                "other namespaces' costs into this report",
                "fieldPath": ".sharing",
            }
        ]
    }


def status_schema() -> dict[str, Any]:
    """Every field the operator writes to status."""
    resources = {
        "cpu": "CPU",
        "ram": "memory (RAM)",
        "gpu": "GPU",
        "pv": "persistent-volume",
        "network": "network egress",
        "loadBalancer": "load-balancer",
        "shared": "shared (distributed from shared namespaces, labels or a fixed amount)",
        "idle": "idle (unallocated node)",
        "total": "total",
    }
    money = {
        k: _s(f"The report's {text} cost, a decimal string in status.currency.")
        for k, text in resources.items()
    }
    row = {"name": _s("The row's name: its aggregation key values joined by '/'.")} | {
        f"{k}Cost": _s(f"The row's {resources[k]} cost, a decimal string.")
        for k in ("total", "cpu", "ram", "gpu", "pv", "shared")
    }
    return {
        "type": "object",
        "description": "The latest run.",
        "properties": {
            "observedGeneration": {
                "type": "integer",
                "format": "int64",
                "description": "Generation of the last run.",
            },
            "conditions": {
                "type": "array",
                "description": "Ready, Reconciling, Stalled (metav1.Condition).",
                "items": _condition(),
                "x-kubernetes-list-type": "map",
                "x-kubernetes-list-map-keys": ["type"],
            },
            "lastRunTime": _s("Last successful run.", format="date-time"),
            "lastAttemptTime": _s("Last attempt, successful or not.", format="date-time"),
            "attemptedGeneration": {
                "type": "integer",
                "format": "int64",
                "description": "Generation of the last attempt.",
            },
            "consecutiveFailures": {"type": "integer", "description": "Failed runs in a row."},
            "nextRunTime": _s("When the next run is due.", format="date-time"),
            "coveredWindow": {
                "type": "object",
                "description": "Absolute window of the result.",
                "properties": {"start": _s("Start."), "end": _s("End.")},
            },
            "currency": _s("Currency of every amount."),
            "totals": {
                "type": "object",
                "description": "Totals as decimal strings.",
                "properties": money,
            },
            "totalDisplay": _s("Total with currency (printer column)."),
            "idleDisplay": _s("Idle with currency (printer column)."),
            "idleHandling": _s(
                "How idle cost was handled: excluded, separate or shared-weighted (see the "
                "README's idle table), and whether by node."
            ),
            "sharingPolicy": _s(
                "Which shared-cost rules applied: none, or namespaces, labels, monthly cost "
                "and split."
            ),
            "topRows": {
                "type": "array",
                "maxItems": 100,
                "description": "The most expensive rows.",
                "items": {"type": "object", "properties": row},
            },
            "rowCount": {"type": "integer", "description": "Rows in the full result."},
            "outputs": {
                "type": "array",
                "description": "ConfigMaps holding the rows.",
                "items": _s("ConfigMap name."),
            },
            "lastError": _s("Why the last attempt failed (empty after success)."),
        },
    }


def manifest(
    kind: str,
    short_name: str,
    description: str,
    columns: list[dict[str, str]],
    spec: dict[str, Any],
    status: dict[str, Any],
) -> dict[str, Any]:
    """A costreport.io CRD (namespaced when `kind` does not start with `Cluster`): one served
    version with a status subresource, the given printer columns then Ready and Age; its plural
    is the one the API client's paths use (`model.report.PLURALS`)."""
    namespaced = not kind.startswith("Cluster")
    plural = PLURALS[kind]
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": f"{plural}.{GROUP}",
            "labels": {"app.kubernetes.io/name": "costreport"},
        },
        "spec": {
            "group": GROUP,
            "scope": "Namespaced" if namespaced else "Cluster",
            "names": {
                "kind": kind,
                "listKind": f"{kind}List",
                "plural": plural,
                "singular": kind.lower(),
                "shortNames": [short_name],
                "categories": ["costreport"],
            },
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": [
                        *columns,
                        {
                            "name": "Ready",
                            "type": "string",
                            "jsonPath": '.status.conditions[?(@.type=="Ready")].status',
                        },
                        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
                    ],
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "description": description,
                            "required": ["spec"],
                            "properties": {
                                "apiVersion": {"type": "string"},
                                "kind": {"type": "string"},
                                "metadata": {"type": "object"},
                                "spec": spec,
                                "status": status,
                            },
                        }
                    },
                }
            ],
        },
    }


def crd(kind: str) -> dict[str, Any]:
    """The CRD manifest for CostReport or ClusterCostReport."""
    namespaced = kind == "CostReport"
    return manifest(
        kind,
        # Not `cr`: cert-manager's CertificateRequest has it.
        "costrep" if namespaced else "ccostrep",
        "A cost report over its own namespace only."
        if namespaced
        else "A cost report over the whole cluster (needs cluster-level RBAC).",
        [
            {"name": "Window", "type": "string", "jsonPath": ".spec.window"},
            {"name": "Aggregate", "type": "string", "jsonPath": ".spec.aggregate"},
            {"name": "Total", "type": "string", "jsonPath": ".status.totalDisplay"},
            {"name": "Idle", "type": "string", "jsonPath": ".status.idleDisplay"},
            {"name": "Last run", "type": "date", "jsonPath": ".status.lastRunTime"},
        ],
        spec_schema() | namespaced_rules() if namespaced else spec_schema(),
        status_schema(),
    )


def files() -> dict[str, dict[str, Any]]:
    """File name → CRD manifest."""
    from costreport.controller.budget_crd import budget_crd

    return {
        f"costreports.{GROUP}.yaml": crd("CostReport"),
        f"clustercostreports.{GROUP}.yaml": crd("ClusterCostReport"),
        f"costbudgets.{GROUP}.yaml": budget_crd("CostBudget"),
        f"clustercostbudgets.{GROUP}.yaml": budget_crd("ClusterCostBudget"),
    }


def render(manifest: dict[str, Any]) -> str:
    """A CRD manifest as the YAML committed in `crds/`."""
    import yaml

    return str(yaml.safe_dump(manifest, sort_keys=False, width=100))


def main(argv: list[str] | None = None) -> int:
    """`--out DIR` writes the CRDs; `--check DIR` exits 1 when the files there differ."""
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m costreport.controller.crd",
        description="Write or verify costreport's CRD manifests (generated from one definition).",
        epilog="example: python -m costreport.controller.crd --out crds --out "
        "charts/costreport/crds",
    )
    parser.add_argument(
        "--out", action="append", default=[], metavar="DIR", help="write the CRDs into DIR"
    )
    parser.add_argument(
        "--check",
        action="append",
        default=[],
        metavar="DIR",
        help="verify that DIR holds exactly the generated CRDs (exit 1 if not)",
    )
    args = parser.parse_args(argv)
    if not args.out and not args.check:
        parser.error("give --out DIR to write the CRDs or --check DIR to verify them")
    generated = {name: render(manifest) for name, manifest in files().items()}
    for target in map(Path, args.out):
        target.mkdir(parents=True, exist_ok=True)
        for name, text in generated.items():
            (target / name).write_text(text)
    stale = [
        str(Path(directory) / name)
        for directory in args.check
        for name, text in generated.items()
        if not (Path(directory) / name).is_file() or (Path(directory) / name).read_text() != text
    ]
    for path in stale:
        print(f"{path}: differs from the generated CRD (regenerate with --out)", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
