"""costreport's OpenAPI 3 document: OpenCost's `/allocation/compute` and everything we add.

`python -m costreport.api.openapi > operator/costreport/api/openapi.json` regenerates the
served file; a test checks the two agree and that every route is documented.
"""

from __future__ import annotations

import sys
from typing import Any

import orjson

from costreport.model.allocation import NUMERIC_FIELDS

BOOL = {
    "type": "string",
    "enum": ["true", "false", "1", "0", "t", "f", "TRUE", "FALSE", "True", "False", "T", "F"],
}


def _param(
    name: str, description: str, schema: dict[str, Any] | None = None, required: bool = False
) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": required,
        "description": description,
        "schema": schema or {"type": "string"},
    }


WINDOW = _param(
    "window",
    "Time window: today, yesterday, week, lastweek, month, lastmonth, <N>m|h|d|w, "
    "'<N><u> offset <M><u>', '<unix>,<unix>' or '<RFC3339>,<RFC3339>'.",
    required=True,
)
STEP = _param("step", "Length of each set, a duration such as 1h, 1d, 1h30m (must be > 0).")
RESOLUTION = _param("resolution", "Source query resolution (e.g. 1m); trades query cost only.")
ACCUMULATE = _param(
    "accumulate",
    "true/false, or hour|day|week|weeknow|month|quarter|all: merge step sets into one per "
    "period (week: calendar weeks from Sunday; weeknow: from Monday; quarter: calendar "
    "quarters).",
)
FORMAT = _param(
    "format",
    "json (default) or csv: one line per set and row, by cost, with the idle and sharing "
    "declaration on every line.",
    {"type": "string", "enum": ["json", "csv"]},
)
FILTER = _param(
    "filter", 'OpenCost v2 filter, e.g. namespace:"kube-system"+controllerKind:"deployment".'
)
ALLOCATION_PARAMS = [
    WINDOW,
    _param(
        "aggregate",
        "Comma-separated keys: cluster, node, namespace, pod, container, controller, "
        "controllerKind, providerID, service, deployment, daemonset, statefulset, job, "
        "department, environment, owner, product, team, label:<key>, annotation:<key>; or all.",
    ),
    STEP,
    RESOLUTION,
    ACCUMULATE,
    _param("accumulateBy", "Legacy spelling of accumulate's period (when accumulate is absent)."),
    _param("includeIdle", "Add an __idle__ row (node cost not allocated).", BOOL),
    _param("shareIdle", "Distribute idle onto rows by resource cost.", BOOL),
    _param("idleByNode", "Compute idle sharing and filtering per node.", BOOL),
    _param("shareNamespaces", "Comma-separated namespaces whose cost is shared."),
    _param("shareLabels", "Comma-separated key:value labels whose pods' cost is shared."),
    _param(
        "shareCost", "Fixed monthly shared cost (÷ 730 per hour).", {"type": "number", "minimum": 0}
    ),
    _param(
        "shareSplit",
        "How shared costs are split.",
        {"type": "string", "enum": ["weighted", "even"]},
    ),
    _param("includeSharedCostBreakdown", "Add sharedCostBreakdown to rows.", BOOL),
    _param("includeAggregatedMetadata", "Accepted for compatibility.", BOOL),
    _param("includeProportionalAssetResourceCosts", "Requires includeIdle=true.", BOOL),
    FILTER,
    FORMAT,
    _param("metrics", "Accepted for compatibility with the OpenCost UI (ignored)."),
]


def _allocation_schema() -> dict[str, Any]:
    properties: dict[str, Any] = {
        "name": {"type": "string"},
        "properties": {"type": "object"},
        "window": {"$ref": "#/components/schemas/Window"},
        "start": {"type": "string", "format": "date-time"},
        "end": {"type": "string", "format": "date-time"},
        "pvs": {"type": "object", "nullable": True},
        "rawAllocationOnly": {"type": "object"},
        "lbAllocations": {"type": "object", "nullable": True},
        "sharedCostBreakdown": {"type": "object"},
    }
    for name in NUMERIC_FIELDS:
        properties[name] = {"type": "number", "nullable": True}
    return {
        "type": "object",
        "properties": properties,
        "required": ["name", "properties", "window", "start", "end", *NUMERIC_FIELDS],
    }


def _envelope(data: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["code", "status", "data"],
        "properties": {
            "code": {"type": "integer", "example": 200},
            "status": {"type": "string", "example": "success"},
            "data": data,
            "meta": {"$ref": "#/components/schemas/Meta"},
        },
    }


ERRORS = {
    "400": {
        "description": "A bad parameter (the message names it and what is accepted)",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    },
    "503": {
        "description": "The cluster-data source is unavailable (Retry-After set)",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    },
}


def _get(
    summary: str, params: list[dict[str, Any]], schema: dict[str, Any], tag: str
) -> dict[str, Any]:
    return {
        "get": {
            "summary": summary,
            "tags": [tag],
            "parameters": params,
            "responses": {
                "200": {"description": "OK", "content": {"application/json": {"schema": schema}}},
                **ERRORS,
            },
        }
    }


CLOUD_COST_PATHS = (
    ("/cloudCost", "Cloud costs from FOCUS bills, per day (OpenCost CloudCostSetRange)"),
    ("/cloudCost/view/graph", "Cloud costs per set for the UI's chart"),
    ("/cloudCost/view/totals", "Cloud cost total and item count for the UI"),
    ("/cloudCost/view/table", "Cloud cost rows for the UI's table (format=csv too)"),
    ("/cloudCost/status", "One entry per ingested FOCUS bill file"),
    ("/customCost/total", "Costs of non-cloud providers' FOCUS rows, one total"),
    ("/customCost/timeseries", "Costs of non-cloud providers' FOCUS rows, per period"),
)


def build_openapi() -> dict[str, Any]:
    """The document as a dict."""
    allocation_sets = _envelope(
        {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": {"$ref": "#/components/schemas/Allocation"},
            },
        }
    )
    summary = _envelope(
        {
            "type": "object",
            "properties": {
                "step": {"type": "integer"},
                "sets": {"type": "array", "items": {"type": "object"}},
                "window": {"$ref": "#/components/schemas/Window"},
            },
        }
    )
    assets = _envelope(
        {
            "oneOf": [
                {"type": "object", "additionalProperties": {"$ref": "#/components/schemas/Asset"}},
                {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "additionalProperties": {"$ref": "#/components/schemas/Asset"},
                    },
                },
            ]
        }
    )
    autocomplete = {
        "type": "object",
        "required": ["code", "data"],
        "properties": {
            "code": {"type": "integer"},
            "data": {"type": "array", "items": {"type": "string"}},
        },
    }
    summary_params = [WINDOW, STEP, RESOLUTION, ACCUMULATE, ALLOCATION_PARAMS[1], FILTER]
    autocomplete_params = [
        WINDOW,
        _param(
            "field",
            "cluster, node, namespace, controllerKind, controllerName, pod, container, label, "
            "label[<key>], annotation, annotation[<key>]",
            required=True,
        ),
        _param("search", "Case-insensitive substring the values must contain."),
        _param(
            "limit",
            "Maximum values returned (0 = all; default 100).",
            {"type": "integer", "minimum": 0},
        ),
    ]
    asset_params = [
        WINDOW,
        _param(
            "aggregate",
            "Comma-separated: type (assetType), cluster, category, provider, providerID, "
            "service, account, project, name, label:<key>.",
        ),
        STEP,
        _param(
            "accumulate",
            "true (default) merges all sets; false keeps one per step; or "
            "hour|day|week|weeknow|month|quarter|all.",
        ),
        _param("filter", 'v2 asset filter, e.g. assetType:"node"'),
        _param(
            "costBasis",
            "list, or reconciled (default where a bill exists): matched nodes, disks and "
            "balancers carry billed minus list in `adjustment`, included in totalCost.",
        ),
        _param(
            "filterTypes",
            "Kubecost's pre-v2 asset filter (also filterClusters, filterNames, …): translated "
            "into the v2 filter; with any of them, data is always a list of sets.",
        ),
        FORMAT,
        _param("includeIdle", "Accepted for compatibility with the OpenCost UI.", BOOL),
    ]
    cloud_params = [
        WINDOW,
        _param(
            "aggregate",
            "Comma-separated: invoiceEntityID, invoiceEntityName, accountID, accountName, "
            "regionID, availabilityZone, provider, providerID, category, service, label:<key> "
            "(default: invoiceEntityID, accountID, provider, providerID, category, service).",
        ),
        _param("accumulate", "none (daily sets), day, week, month, quarter, or true/all."),
        _param("filter", 'v2 cloud-cost filter, e.g. service:"Amazon Elastic Compute Cloud"'),
    ]
    cloud_view_params = [
        *cloud_params,
        _param(
            "costMetric",
            "ListCost, NetCost, AmortizedNetCost (default), InvoicedCost, AmortizedCost.",
        ),
        _param("limit", "Rows of the table (0 = all).", {"type": "integer", "minimum": 0}),
        _param("offset", "Rows skipped.", {"type": "integer", "minimum": 0}),
        _param("sortBy", "cost (default), name or kubernetesPercent."),
        _param("sortByOrder", "desc (default) or asc."),
        FORMAT,
    ]
    custom_params = [
        WINDOW,
        _param(
            "aggregate",
            "Comma-separated: zone, accountName, chargeCategory, description, resourceName, "
            "resourceType, providerId, usageUnit, domain, costSource.",
        ),
        _param("accumulate", "timeseries only: day (default), week, month, quarter, all."),
        _param("costType", "blended (default), list or billed."),
        _param("sortBy", "cost (default), aggregate or costType."),
        _param("sortDirection", "desc (default) or asc."),
    ]
    paths: dict[str, Any] = {}
    for prefix in ("", "/model"):
        for path in ("/allocation", "/allocation/compute"):
            paths[prefix + path] = _get(
                "Cost allocations per step set (OpenCost)",
                ALLOCATION_PARAMS,
                allocation_sets,
                "allocation",
            )
        for path in ("/allocation/summary", "/allocation/compute/summary"):
            paths[prefix + path] = _get(
                "Summary allocations (OpenCost §1.10)", summary_params, summary, "allocation"
            )
        paths[prefix + "/allocation/autocomplete"] = _get(
            "Distinct values of a field for filter boxes",
            autocomplete_params,
            autocomplete,
            "allocation",
        )
        paths[prefix + "/assets"] = _get(
            "Assets: nodes, disks, load balancers, cluster management",
            asset_params,
            assets,
            "assets",
        )
        paths[prefix + "/allocation/focus"] = {
            "get": {
                "summary": "Allocation as FOCUS 1.3 rows (split cost allocation), streamed",
                "tags": ["allocation"],
                "parameters": [
                    WINDOW,
                    _param(
                        "format",
                        "csv (default) or parquet.",
                        {"type": "string", "enum": ["csv", "parquet"]},
                    ),
                    _param("costBasis", "list, or reconciled (default where a bill exists)."),
                ],
                "responses": {
                    "200": {
                        "description": "FOCUS rows: each node-day charge split per pod",
                        "content": {
                            "text/csv": {"schema": {"type": "string"}},
                            "application/vnd.apache.parquet": {
                                "schema": {"type": "string", "format": "binary"}
                            },
                        },
                    },
                    **ERRORS,
                },
            }
        }
        for path, summary_text in CLOUD_COST_PATHS:
            params = cloud_view_params if "/view/" in path else cloud_params
            if path.endswith("/status"):
                params = []
            if path.startswith("/customCost"):
                params = custom_params
            paths[prefix + path] = _get(summary_text, params, _envelope({}), "cloud costs")
    paths["/reports/{namespace}/{name}"] = {
        "get": {
            "summary": "A CostReport's latest rows (namespace `_cluster` for ClusterCostReports)",
            "tags": ["reports"],
            "parameters": [
                {"name": "namespace", "in": "path", "required": True, "schema": {"type": "string"}},
                {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}},
            ],
            "responses": {
                "200": {
                    "description": "The report's rows, summary and number of ConfigMap parts",
                    "content": {"application/json": {"schema": _envelope({"type": "object"})}},
                },
                "404": {"description": "No result yet, or no Kubernetes API configured"},
                "503": ERRORS["503"],
            },
        }
    }
    paths["/budgets"] = {
        "get": {
            "summary": "CostBudgets and ClusterCostBudgets with their latest evaluation (scoped)",
            "tags": ["budgets"],
            "responses": {
                "200": {
                    "description": "One row per budget the caller may read",
                    "content": {"application/json": {"schema": _envelope({"type": "array"})}},
                },
                **ERRORS,
            },
        }
    }
    paths["/mcp"] = {
        "post": {
            "summary": "MCP (streamable HTTP, JSON responses, stateless): cost tools for AI "
            "clients, scoped by the caller's bearer token like every endpoint",
            "tags": ["mcp"],
            "responses": {"200": {"description": "A JSON-RPC answer"}, **ERRORS},
        }
    }
    paths["/metrics"] = {
        "get": {
            "summary": "Prometheus metrics",
            "tags": ["operations"],
            "responses": {
                "200": {
                    "description": "text exposition",
                    "content": {"text/plain": {"schema": {"type": "string"}}},
                }
            },
        }
    }
    paths["/healthz"] = {
        "get": {
            "summary": "Liveness",
            "tags": ["operations"],
            "responses": {"200": {"description": "alive"}},
        }
    }
    paths["/readyz"] = {
        "get": {
            "summary": "Readiness: the source has answered",
            "tags": ["operations"],
            "responses": {"200": {"description": "ready"}, "503": ERRORS["503"]},
        }
    }
    paths["/openapi.json"] = {
        "get": {
            "summary": "This document",
            "tags": ["operations"],
            "responses": {
                "200": {
                    "description": "OpenAPI 3 document",
                    "content": {"application/json": {"schema": {"type": "object"}}},
                }
            },
        }
    }
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "costreport API",
            "version": "0.1.0",
            "description": "OpenCost-compatible allocation and asset API served by costreport. "
            "Responses carry `meta` beside `data` declaring idle handling and shared costs.",
        },
        "paths": paths,
        "components": {
            "schemas": {
                "Window": {
                    "type": "object",
                    "properties": {"start": {"type": "string"}, "end": {"type": "string"}},
                },
                "Allocation": _allocation_schema(),
                "Asset": {
                    "type": "object",
                    "required": [
                        "type",
                        "properties",
                        "window",
                        "start",
                        "end",
                        "minutes",
                        "totalCost",
                    ],
                    "properties": {
                        "type": {"type": "string"},
                        "properties": {"type": "object"},
                        "labels": {"type": "object"},
                        "window": {"$ref": "#/components/schemas/Window"},
                        "start": {"type": "string"},
                        "end": {"type": "string"},
                        "minutes": {"type": "number"},
                        "totalCost": {"type": "number"},
                    },
                },
                "Meta": {
                    "type": "object",
                    "properties": {
                        "idle": {"type": "object"},
                        "sharing": {"type": "object"},
                        "currency": {"type": "string"},
                        "queries": {"type": "integer"},
                        "warnings": {"type": "array", "items": {"type": "string"}},
                        "window": {"$ref": "#/components/schemas/Window"},
                    },
                },
                "Error": {
                    "type": "object",
                    "required": ["code", "status", "data", "message"],
                    "properties": {
                        "code": {"type": "integer"},
                        "status": {"type": "string", "example": "error"},
                        "data": {"nullable": True},
                        "message": {"type": "string"},
                    },
                },
            }
        },
    }


def main() -> None:
    """Print the document (used to regenerate the committed openapi.json)."""
    sys.stdout.write(orjson.dumps(build_openapi(), option=orjson.OPT_INDENT_2).decode() + "\n")


if __name__ == "__main__":
    main()
