"""OpenCost's v1 `filterX=` parameters translated into v2 filters, checked string by string."""

from __future__ import annotations

import pytest

from costreport.engine.filters import parse_filter
from costreport.engine.legacy_filters import (
    LEGACY_ASSET_FILTERS,
    asset_filter_params,
    legacy_filter,
    with_legacy_filters,
)
from costreport.model.errors import InvalidParameter


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, ""),
        ({"filterNamespaces": ""}, ""),
        ({"filterNamespaces": " , "}, ""),
        ({"filterNamespaces": "team-a"}, 'namespace:"team-a"'),
        ({"filterNamespaces": "kube-system, monitoring"},
         '(namespace:"kube-system"|namespace:"monitoring")'),
        ({"filterNamespaces": "kube*"}, 'namespace<~:"kube"'),
        ({"filterControllers": "deployment:api,worker"},
         '((controllerKind:"deployment"+controllerName:"api")|controllerName:"worker")'),
        ({"filterLabels": "app:nginx,team:pay*"},
         '(label[app]:"nginx"|label[team]<~:"pay")'),
        ({"filterServices": "web"}, 'services:"web"'),
        ({"filterClusters": "c1", "filterNamespaces": "a", "filterPods": "db-*"},
         'cluster:"c1"+namespace:"a"+pod<~:"db-"'),
    ],
)  # fmt: skip
def test_translation(params: dict[str, str], expected: str) -> None:
    assert legacy_filter(params) == expected
    parse_filter(expected)  # and the v2 parser accepts every translation


def test_combined_with_an_explicit_filter() -> None:
    params = {"filter": 'pod:"x"|pod:"y"', "filterNamespaces": "a"}
    assert with_legacy_filters(params) == '(pod:"x"|pod:"y")+namespace:"a"'
    record = {"pod": "y", "namespace": "a", "labels": {}, "annotations": {}}
    assert parse_filter(with_legacy_filters(params)).matches(record)
    assert not parse_filter(with_legacy_filters(params)).matches({**record, "namespace": "b"})
    assert with_legacy_filters({"filter": 'pod:"x"', "filterNamespaces": ""}) == 'pod:"x"'


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"filterLabels": "app"}, "comma-separated key:value pairs, e.g. filterLabels=app:nginx"),
        ({"filterAnnotations": ":x"}, "e.g. filterAnnotations=app:nginx"),
        ({"filterPods": 'a"b'}, "values without double quotes or brackets"),
        ({"filterLabels": "a]b:c"}, "values without double quotes or brackets"),
        ({"filterNodes": ",".join(f"n{i}" for i in range(101))}, "at most 100"),
    ],
)
def test_what_cannot_be_translated_is_refused(params: dict[str, str], message: str) -> None:
    with pytest.raises(InvalidParameter, match=message):
        legacy_filter(params)


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"filterTypes": ""}, ""),
        ({"filterTypes": "Node"}, 'assetType:"node"'),  # v1 lower-cased types
        ({"filterTypes": "node,Disk"}, '(assetType:"node"|assetType:"disk")'),
        ({"filterProviderIds": "i-1*"}, 'providerID<~:"i-1"'),
        ({"filterClusters": "c1", "filterCategories": "Compute", "filterLabels": "pool:gpu"},
         'cluster:"c1"+category:"Compute"+label[pool]:"gpu"'),
        ({"filterNamespaces": "a"}, ""),  # not an asset parameter
    ],
)  # fmt: skip
def test_asset_translation(params: dict[str, str], expected: str) -> None:
    assert legacy_filter(asset_filter_params(params), LEGACY_ASSET_FILTERS) == expected
    parse_filter(expected, kind="asset")
    record = {"assetType": "node", "cluster": "c1", "category": "Compute", "providerID": "i-12",
              "labels": {"pool": "gpu"}}  # fmt: skip
    assert parse_filter(expected, kind="asset").matches(record) == (
        "disk" not in expected or "node" in expected
    )


def test_regions_are_refused_for_assets() -> None:
    with pytest.raises(InvalidParameter) as refused:
        asset_filter_params({"filterRegions": "us-east-1"})
    assert refused.value.message == (
        "invalid 'filterRegions' parameter: 'us-east-1'; accepted: the v2 filter on the nodes' "
        'region label instead, e.g. filter=label[region]:"us-east-1"'
    )
    assert legacy_filter(asset_filter_params({"filterRegions": ""}), LEGACY_ASSET_FILTERS) == ""
