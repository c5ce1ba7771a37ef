"""Responses validate against the served OpenAPI document's schemas."""

from __future__ import annotations

from typing import Any

import jsonschema
from aiohttp.test_utils import TestClient

from costreport.api.openapi import build_openapi
from tests.api.conftest import TINY_DAY


def json_schema(schema: Any, components: dict[str, Any]) -> Any:
    """OpenAPI 3.0 schema → JSON Schema (resolve refs, `nullable` → a null type)."""
    if isinstance(schema, list):
        return [json_schema(s, components) for s in schema]
    if not isinstance(schema, dict):
        return schema
    if "$ref" in schema:
        return json_schema(components[schema["$ref"].rsplit("/", 1)[1]], components)
    out = {
        k: json_schema(v, components) for k, v in schema.items() if k not in ("nullable", "example")
    }
    if schema.get("nullable"):
        out = {"anyOf": [out, {"type": "null"}]} if "type" in out else out
    return out


def response_schema(path: str) -> Any:
    doc = build_openapi()
    components = doc["components"]["schemas"]
    raw = doc["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    return json_schema(raw, components)


async def test_allocation_response_matches_the_schema(tiny_client: TestClient) -> None:
    url = f"/allocation?window={TINY_DAY}&includeIdle=true&shareNamespaces=c"
    body = await (await tiny_client.get(url)).json()
    jsonschema.validate(body, response_schema("/allocation"))


async def test_other_responses_match_their_schemas(tiny_client: TestClient) -> None:
    for path, query in (
        ("/allocation/summary", f"window={TINY_DAY}"),
        ("/allocation/autocomplete", f"window={TINY_DAY}&field=pod"),
        ("/assets", f"window={TINY_DAY}"),
        ("/assets", f"window={TINY_DAY}&step=6h&accumulate=false"),
    ):
        body = await (await tiny_client.get(f"{path}?{query}")).json()
        jsonschema.validate(body, response_schema(path))
