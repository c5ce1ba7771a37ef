"""`/allocation/autocomplete`: distinct values of a field (the UI's filter boxes)."""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson
from aiohttp import web

from costreport.api.common import (
    json_response,
    request_auth,
    request_caller,
    request_params,
    window_param,
)
from costreport.api.settings import SETTINGS_KEY, SOURCE_KEY
from costreport.engine.aggregate import sanitize_key
from costreport.model.cluster import pod_column
from costreport.model.errors import InvalidParameter
from costreport.model.window import (
    Window,
)

AUTOCOMPLETE_FIELDS = (
    "cluster",
    "node",
    "namespace",
    "controllerKind",
    "controllerName",
    "pod",
    "container",
    "label",
    "label[<key>]",
    "annotation",
    "annotation[<key>]",
)


def _limit(text: str | None) -> int:
    if text is None or text == "":
        return 100
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise InvalidParameter("limit", text, "a non-negative integer (0 = no limit)")
    return value


async def handle_autocomplete(request: web.Request) -> web.Response:
    """`/allocation/autocomplete`: distinct values of a field in the window (UI filter boxes)."""
    params = request_params(request)
    window = window_param(params, request)
    field = params.get("field", "")
    label_key = None
    for prefix in ("label", "annotation"):
        if field.startswith(prefix + "[") and field.endswith("]") and len(field) > len(prefix) + 2:
            label_key = (prefix, field[len(prefix) + 1 : -1])
    if label_key is None and field not in (*AUTOCOMPLETE_FIELDS[:9], "annotation"):
        raise InvalidParameter("field", field, ", ".join(AUTOCOMPLETE_FIELDS))
    search = params.get("search", "").lower()
    limit = _limit(params.get("limit"))
    settings = request.app[SETTINGS_KEY]
    if label_key is not None and not settings.policy.permits(label_key[1]):
        raise InvalidParameter("field", field, settings.policy.accepted(label_key[1]))
    data = settings.policy.apply(
        await request.app[SOURCE_KEY].cluster_data(window, resolution_seconds=300)
    )
    readable = await request_auth(request).readable(
        request_caller(request), set(pod_column(data.pods, "namespace"))
    )
    values = _autocomplete_values(data, window, field, label_key, readable)
    matches = sorted(v for v in values if v and search in v.lower())
    if limit:
        matches = matches[:limit]
    return json_response(orjson.dumps({"code": 200, "data": matches}))


def _autocomplete_values(
    data: Any,
    window: Window,
    field: str,
    label_key: tuple[str, str] | None,
    readable: frozenset[str],
) -> set[str]:
    u = data.usage
    running = np.flatnonzero((u.start < window.end_ts) & (u.end > window.start_ts))
    containers = {int(c) for c in np.unique(u.container[running]).tolist()}
    values: set[str] = set()
    for c in containers:
        container = data.containers[c]
        pod = data.pods[container.pod]
        if pod.namespace not in readable:
            continue
        if label_key is not None:
            source = pod.labels if label_key[0] == "label" else pod.annotations
            value = source.get(sanitize_key(label_key[1]))
            if value:
                values.add(value)
            continue
        match field:
            case "cluster":
                values.add(pod.cluster)
            case "node":
                values.add(pod.node)
            case "namespace":
                values.add(pod.namespace)
            case "controllerKind":
                values.add(pod.controller_kind)
            case "controllerName":
                values.add(pod.controller_name)
            case "pod":
                values.add(pod.name)
            case "container":
                values.add(container.name)
            case "label":
                values.update(pod.labels)
            case "annotation":
                values.update(pod.annotations)
    return values
