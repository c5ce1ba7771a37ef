"""OpenCost's pre-v2 `filterX=` parameters, translated exactly into the v2 filter language.

(Allocation parameters below; the asset ones, `LEGACY_ASSET_FILTERS`, follow the same rules.)

kubectl-cost still sends them (`filterNamespaces=` on every request, empty without `-n`), and
OpenCost's own server no longer reads them, so there `kubectl cost deployment -n team-a` shows
every namespace. Here each is honoured: the values of one parameter are OR'ed, a trailing `*`
is a prefix match, different parameters are AND'ed with each other and with `filter=` (v1's
rules, reference: OpenCost's `filterutil.AllocationFilterFromParamsV1`). An empty one is no
filter; a value that cannot be written in v2 is a 400 naming the parameter, never dropped.
"""

from __future__ import annotations

from collections.abc import Mapping

from costreport.model.errors import InvalidParameter

LEGACY_FILTERS = {
    "filterClusters": "cluster",
    "filterNodes": "node",
    "filterNamespaces": "namespace",
    "filterControllerKinds": "controllerKind",
    "filterControllers": "controllerName",
    "filterPods": "pod",
    "filterContainers": "container",
    "filterServices": "services",
    "filterLabels": "label",
    "filterAnnotations": "annotation",
    "filterDepartments": "department",
    "filterEnvironments": "environment",
    "filterOwners": "owner",
    "filterProducts": "product",
    "filterTeams": "team",
}
"""OpenCost's pre-v2 filter parameters and the v2 field each filters on."""

LEGACY_ASSET_FILTERS = {
    "filterClusters": "cluster",
    "filterAccounts": "account",
    "filterCategories": "category",
    "filterNames": "name",
    "filterProjects": "project",
    "filterProviders": "provider",
    "filterProviderIDs": "providerID",
    "filterProviderIds": "providerID",
    "filterServices": "service",
    "filterTypes": "assetType",
    "filterLabels": "label",
}
"""The pre-v2 asset filter parameters (Kubecost's; kubectl-cost's `node` sends `filterTypes`);
read through `asset_filter_params` first."""

MAX_VALUES = 100
"""Values one legacy parameter may list (the v2 filter has its own limits on top)."""


def _comparison(parameter: str, field: str, value: str, key: str | None = None) -> str:
    if '"' in value or (key is not None and any(c in key for c in '"[]')):
        raise InvalidParameter(parameter, value, "values without double quotes or brackets")
    prefix = value.endswith("*")
    op = "<~:" if prefix else ":"
    text = value[:-1] if prefix else value
    subject = f"{field}[{key}]" if key is not None else field
    return f'{subject}{op}"{text}"'


def _one(parameter: str, field: str, value: str) -> str:
    if field in ("label", "annotation"):
        key, colon, label_value = value.partition(":")
        if not colon or not key.strip():
            raise InvalidParameter(
                parameter, value, f"comma-separated key:value pairs, e.g. {parameter}=app:nginx"
            )
        return _comparison(parameter, field, label_value.strip(), key.strip())
    if parameter == "filterControllers" and ":" in value:
        kind, _, name = value.partition(":")
        return (
            f"({_comparison(parameter, 'controllerKind', kind.strip())}"
            f"+{_comparison(parameter, 'controllerName', name.strip())})"
        )
    return _comparison(parameter, field, value)


def asset_filter_params(params: Mapping[str, str]) -> Mapping[str, str]:
    """An asset request's parameters as `LEGACY_ASSET_FILTERS` reads them: `filterTypes`
    lower-cased, as v1 did (`Node` and `node` both select nodes); `filterRegions` (v1: a node
    label) has no exact equivalent here and is refused."""
    if (params.get("filterRegions") or "").strip():
        raise InvalidParameter(
            "filterRegions",
            params["filterRegions"],
            "the v2 filter on the nodes' region label instead, "
            'e.g. filter=label[region]:"us-east-1"',
        )
    if "filterTypes" in params:
        return {**params, "filterTypes": params["filterTypes"].lower()}
    return params


def legacy_filter(params: Mapping[str, str], table: Mapping[str, str] = LEGACY_FILTERS) -> str:
    """The v2 filter equivalent to the request's legacy parameters ("" when it has none)."""
    groups = []
    for parameter, field in table.items():
        values = [v.strip() for v in (params.get(parameter) or "").split(",") if v.strip()]
        if len(values) > MAX_VALUES:
            raise InvalidParameter(
                parameter, params[parameter], f"at most {MAX_VALUES} comma-separated values"
            )
        if values:
            terms = [_one(parameter, field, v) for v in values]
            groups.append(terms[0] if len(terms) == 1 else "(" + "|".join(terms) + ")")
    return "+".join(groups)


def with_legacy_filters(
    params: Mapping[str, str], table: Mapping[str, str] = LEGACY_FILTERS
) -> str:
    """`filter=` AND the legacy parameters' equivalent, as one v2 filter text."""
    explicit = (params.get("filter") or "").strip()
    legacy = legacy_filter(params, table)
    if explicit and legacy:
        return f"({explicit})+{legacy}"
    return explicit or legacy
