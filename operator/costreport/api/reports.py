"""`/reports/{namespace}/{name}`: a report's latest rows from the operator's ConfigMaps."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from costreport.api.auth import (
    Forbidden,
)
from costreport.api.common import (
    error_body,
    json_response,
    request_auth,
    request_caller,
    success_body,
)
from costreport.api.settings import REPORTS_KEY, SETTINGS_KEY, ConfigMapReader
from costreport.model.errors import SourceUnavailable
from costreport.model.report import configmap_name

CLUSTER_SCOPE = "_cluster"


async def handle_report(request: web.Request) -> web.Response:
    """`/reports/{namespace}/{name}`: a report's latest rows from the operator's ConfigMaps.

    ClusterCostReports are under the namespace `_cluster` (their ConfigMaps live in the
    operator's namespace).
    """
    namespace, name = request.match_info["namespace"], request.match_info["name"]
    cm_namespace = request.app[SETTINGS_KEY].operator_namespace
    caller = request_caller(request)
    if namespace != CLUSTER_SCOPE:
        cm_namespace = namespace
        if namespace not in await request_auth(request).readable(caller, [namespace]):
            raise Forbidden("not allowed to read this report")
    elif not caller.cluster_wide:
        raise Forbidden("cluster reports need cluster-wide access to allocations")
    reader = request.app[REPORTS_KEY]
    if reader is None:
        message = "reports are served only in a cluster: no Kubernetes API is configured"
        return json_response(error_body(404, message), status=404)
    assert isinstance(reader, ConfigMapReader)
    first = await reader.get_configmap(cm_namespace, configmap_name(name))
    if first is None:
        message = f"no result for report {namespace}/{name} yet"
        return json_response(error_body(404, message), status=404)
    data = first.get("data") or {}
    count = int(str(data.get("part", "1/1")).split("/")[1])
    parts = [first]
    for index in range(1, count):
        part = await reader.get_configmap(cm_namespace, configmap_name(name, index))
        if part is None:
            raise SourceUnavailable(f"report {namespace}/{name} part {index + 1} is missing")
        parts.append(part)
    rows: list[Any] = []
    for part in parts:
        rows.extend(orjson.loads((part.get("data") or {}).get("rows.json", "[]")))
    body = {
        "report": f"{namespace}/{name}",
        "parts": count,
        "summary": orjson.loads(data.get("summary.json", "{}")),
        "rows": rows,
    }
    return json_response(success_body(body))
