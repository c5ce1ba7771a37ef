"""Pricing config in OpenCost's default.json format (reference §3.4, §6.3, §6.4)."""

from __future__ import annotations

import json
from dataclasses import astuple
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from costreport.model import pricing as pricing_module
from costreport.model.errors import InvalidParameter
from costreport.model.pricing import (
    HOURS_PER_MONTH,
    InstancePrice,
    NodeUnitPrices,
    PricingConfig,
    load_pricing,
)

SHIPPED = Path(pricing_module.__file__).with_name("default_pricing.json")
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "pricing" / "default.json"

# CPU 0.04 / RAM 0.005 → ratio 8; GPU 0.5 / RAM 0.005 → gpuRatio 100.
ROUND = PricingConfig(CPU=0.04, RAM=0.005, GPU=0.5)


def write(tmp_path: Path, content: dict[str, Any] | str) -> Path:
    path = tmp_path / "default.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return path


def test_defaults_are_the_table_in_6_3() -> None:
    c = load_pricing(None)
    assert (c.cpu, c.spot_cpu, c.ram, c.spot_ram, c.gpu, c.spot_gpu) == (
        0.031611,
        0.006655,
        0.004237,
        0.000892,
        0.95,
        0.308,
    )
    assert c.storage == 0.00005479452
    assert (c.zone_network_egress, c.region_network_egress, c.internet_network_egress) == (
        0.01,
        0.01,
        0.12,
    )
    assert (c.default_lb_price, c.cluster_management_price) == (0.025, 0.10)
    assert c.custom_prices_enabled is False
    assert (c.discount, c.negotiated_discount, c.combined_discount) == (0.0, 0.0, 0.0)
    assert (c.spot_label, c.spot_label_value, c.cluster_name, c.currency_code) == (
        "",
        "",
        "",
        "USD",
    )
    assert c.instance_types == {}
    assert HOURS_PER_MONTH == 730.0
    # storage is $0.04 a month per GiB.
    assert c.storage * HOURS_PER_MONTH == pytest.approx(0.04)


def test_string_floats_numbers_and_whitespace_parse(tmp_path: Path) -> None:
    c = load_pricing(
        write(
            tmp_path,
            {"CPU": "0.05", "RAM": " 0.01 ", "GPU": 2, "spotGPU": 1.5, "storage": "1e-4"},
        )
    )
    assert (c.cpu, c.ram, c.gpu, c.spot_gpu, c.storage) == (0.05, 0.01, 2.0, 1.5, 0.0001)


def test_fields_are_set_by_alias_or_by_name() -> None:
    assert PricingConfig(spotCPU=0.01).spot_cpu == 0.01
    assert PricingConfig(spot_cpu=0.01).spot_cpu == 0.01
    assert InstancePrice(cpu=0.1, ram=0.01, spotRAM=0.002).spot_ram == 0.002
    assert InstancePrice(cpu=0.1, ram=0.01, spot_ram=0.002).spot_ram == 0.002


def test_percent_discounts_combine(tmp_path: Path) -> None:
    c = load_pricing(write(tmp_path, {"discount": "30%", "negotiatedDiscount": "10%"}))
    assert c.discount == pytest.approx(0.30) and c.negotiated_discount == pytest.approx(0.10)
    assert c.combined_discount == pytest.approx(0.37)  # 1 − 0.7·0.9


@pytest.mark.parametrize(
    ("raw", "fraction"),
    [("30%", 0.30), ("30", 0.30), (" 12.5 % ", 0.125), (30, 0.30), ("0.3", 0.003), ("", 0.0)],
)
def test_a_discount_is_a_percentage_like_opencost(raw: object, fraction: float) -> None:
    assert PricingConfig.model_validate({"discount": raw}).discount == pytest.approx(fraction)


def test_discounts_apply_to_cpu_and_ram_only() -> None:
    c = PricingConfig.model_validate({"discount": "30%", "negotiatedDiscount": "10%"})
    # × (1 − 0.37) = × 0.63 on CPU and RAM; GPU unchanged.
    assert astuple(c.discounted(NodeUnitPrices(0.1, 0.01, 1.0))) == pytest.approx(
        (0.063, 0.0063, 1.0)
    )
    assert PricingConfig().discounted(NodeUnitPrices(0.1, 0.01, 1.0)) == NodeUnitPrices(
        0.1, 0.01, 1.0
    )


def test_custom_prices_enabled_is_a_string_flag() -> None:
    assert PricingConfig.model_validate({"customPricesEnabled": "true"}).custom_prices_enabled
    assert PricingConfig.model_validate({"customPricesEnabled": "TRUE"}).custom_prices_enabled
    assert not PricingConfig.model_validate({"customPricesEnabled": "false"}).custom_prices_enabled
    assert PricingConfig.model_validate({"customPricesEnabled": True}).custom_prices_enabled


def test_unknown_keys_are_ignored_and_empty_strings_are_unset(tmp_path: Path) -> None:
    # As in a config OpenCost saved itself: many more keys, unset ones as "".
    c = load_pricing(
        write(
            tmp_path,
            {
                "provider": "custom",
                "description": "ignored",
                "shareTenancyCosts": "true",
                "sharedOverhead": "",
                "CPU": "0.05",
                "spotGPU": "",
                "discount": "",
                "currencyCode": "",
                "instanceTypes": {"m5.xlarge": {"cpu": "0.04", "ram": "0.005", "spotCPU": ""}},
            },
        )
    )
    assert c.cpu == 0.05
    assert c.spot_gpu == 0.308 and c.discount == 0.0 and c.currency_code == "USD"
    assert c.instance_types["m5.xlarge"].spot_cpu is None


def test_a_bad_value_names_the_file_and_key(tmp_path: Path) -> None:
    path = write(tmp_path, {"CPU": "cheap"})
    with pytest.raises(InvalidParameter) as caught:
        load_pricing(path)
    assert caught.value.parameter == "pricing"
    assert str(caught.value) == (
        f"invalid 'pricing' parameter: \"{path}: CPU='cheap'\"; "
        'accepted: a number as a string, e.g. "0.031611"'
    )


@pytest.mark.parametrize(
    ("content", "value", "accepted"),
    [
        ({"RAM": "-0.1"}, "RAM='-0.1'", "a finite number ≥ 0"),
        ({"GPU": "nan"}, "GPU='nan'", "a finite number ≥ 0"),
        ({"GPU": True}, "GPU=True", "a number as a string"),
        ({"discount": "lots"}, "discount='lots'", "a percentage from 0 to 100"),
        ({"negotiatedDiscount": "150%"}, "negotiatedDiscount='150%'", "a percentage from 0"),
        ({"customPricesEnabled": "yes"}, "customPricesEnabled='yes'", '"true" or "false"'),
        ({"clusterName": 3}, "clusterName=3", "a string"),
        ({"instanceTypes": [1]}, "instanceTypes=[1]", "an object mapping instance types"),
        (
            {"instanceTypes": {"m5.xlarge": {"cpu": "0.04", "ram": "x"}}},
            "instanceTypes[\"m5.xlarge\"].ram='x'",
            "a number as a string",
        ),
        (
            {"instanceTypes": {"m5.xlarge": {"cpu": "0.04"}}},
            "instanceTypes[\"m5.xlarge\"]={'cpu': '0.04'}",
            'either "cpu" and "ram"',
        ),
        (
            {"instanceTypes": {"m5.xlarge": {"total": "0.2", "cpu": "0.04"}}},
            "instanceTypes[\"m5.xlarge\"]={'total': '0.2', 'cpu': '0.04'}",
            'or "total" ($/hour)',
        ),
    ],
)
def test_bad_values_say_what_is_accepted(
    tmp_path: Path, content: dict[str, Any], value: str, accepted: str
) -> None:
    path = write(tmp_path, content)
    with pytest.raises(InvalidParameter) as caught:
        load_pricing(path)
    assert caught.value.value == f"{path}: {value}"
    assert accepted in caught.value.accepted


def test_bad_files(tmp_path: Path) -> None:
    with pytest.raises(InvalidParameter) as caught:
        load_pricing(tmp_path / "missing.json")
    assert caught.value.value == str(tmp_path / "missing.json")
    assert caught.value.accepted == "a readable file (No such file or directory)"

    path = write(tmp_path, '{"CPU": ')
    with pytest.raises(InvalidParameter) as caught:
        load_pricing(path)
    assert caught.value.value == f"{path}: Expecting value at line 1 column 9"
    assert caught.value.accepted == "a JSON object in OpenCost's default.json format"

    path = write(tmp_path, "[1, 2]")
    with pytest.raises(InvalidParameter) as caught:
        load_pricing(path)
    assert caught.value.value == f"{path}: a JSON array"


def test_in_code_construction_raises_pydantics_error() -> None:
    with pytest.raises(ValidationError):
        PricingConfig.model_validate({"CPU": "cheap"})
    with pytest.raises(ValidationError):
        InstancePrice(gpu=1.0)


def test_instance_type_prices_normal_spot_and_fallback() -> None:
    c = PricingConfig.model_validate(
        {"instanceTypes": {"m5.xlarge": {"cpu": "0.04", "ram": "0.005", "spotCPU": "0.012"}}}
    )
    shape: dict[str, float] = {"cpus": 4, "ram_gib": 16, "gpus": 0}
    assert c.node_prices("m5.xlarge", spot=False, **shape) == NodeUnitPrices(0.04, 0.005, 0.0)
    # Spot: the type's spot price where configured, else the config's spot price per resource.
    assert c.node_prices("m5.xlarge", spot=True, **shape) == NodeUnitPrices(0.012, 0.000892, 0.308)
    # Unknown or missing type: the config's prices, spot-aware.
    assert c.node_prices("m5.large", spot=False, **shape) == NodeUnitPrices(
        0.031611, 0.004237, 0.95
    )
    assert c.node_prices("m5.large", spot=True, **shape) == NodeUnitPrices(
        0.006655, 0.000892, 0.308
    )
    assert c.node_prices(None, spot=False, **shape) == NodeUnitPrices(0.031611, 0.004237, 0.95)
    assert c.node_prices("", spot=True, **shape) == NodeUnitPrices(0.006655, 0.000892, 0.308)


def test_total_price_is_split_with_opencosts_ratio() -> None:
    # ROUND: ratio 8, gpuRatio 100.
    # 4 vCPU, 16 GiB, total $0.48/h: ram = 0.48 / (4·8 + 16) = 0.48 / 48 = 0.01;
    # cpu = 0.01·8 = 0.08; gpu = 0.01·100 = 1.0. Check: 4·0.08 + 16·0.01 = 0.48.
    prices = InstancePrice(total=0.48).resolve(4, 16, 0, ROUND)
    assert astuple(prices) == pytest.approx((0.08, 0.01, 1.0))
    # With 1 GPU, total $1.48/h: ram = 1.48 / (32 + 16 + 1·100) = 1.48 / 148 = 0.01.
    prices = InstancePrice(total=1.48).resolve(4, 16, 1, ROUND)
    assert astuple(prices) == pytest.approx((0.08, 0.01, 1.0))


def test_total_split_with_the_default_config() -> None:
    # ratio = 0.031611 / 0.004237 = 7.460703; 4 vCPU, 16 GiB, total $0.50/h:
    # ram = 0.5 / (4·7.460703 + 16) = 0.5 / 45.842813 = 0.0109068; cpu = 0.0109068·7.460703
    # = 0.0813724. Check: 4·0.0813724 + 16·0.0109068 = 0.3254896 + 0.1745088 = 0.4999984 ≈ 0.5.
    prices = PricingConfig.model_validate({"instanceTypes": {"x": {"total": "0.5"}}}).node_prices(
        "x", spot=False, cpus=4, ram_gib=16, gpus=0
    )
    assert prices.ram == pytest.approx(0.0109068, rel=1e-5)
    assert prices.cpu == pytest.approx(0.0813724, rel=1e-5)


def test_total_split_ratio_defaults_when_ram_price_is_zero() -> None:
    # RAM 0 ⇒ ratio 10, gpuRatio 100: ram = 0.56 / (4·10 + 16) = 0.01; cpu 0.1; gpu 1.0.
    config = PricingConfig(CPU=0.04, RAM=0.0, GPU=0.5)
    prices = InstancePrice(total=0.56).resolve(4, 16, 0, config)
    assert astuple(prices) == pytest.approx((0.1, 0.01, 1.0))
    # A node without capacity has nothing to price.
    assert InstancePrice(total=0.56).resolve(0, 0, 0, config) == NodeUnitPrices(0.0, 0.0, 0.0)


def test_a_total_priced_type_on_spot_uses_spot_prices() -> None:
    # `total` is on-demand: spot nodes take the type's spot prices, else the config's.
    price = InstancePrice(total=0.48, spotCPU=0.02)
    assert price.resolve(4, 16, 0, ROUND, spot=True) == NodeUnitPrices(0.02, 0.000892, 0.308)


@given(
    total=st.floats(0.001, 100.0),
    cpus=st.integers(1, 192),
    ram_gib=st.floats(0.5, 2048.0),
    gpus=st.integers(0, 8),
    cpu=st.floats(0.001, 1.0),
    ram=st.floats(0.0001, 0.1),
    gpu=st.floats(0.0, 10.0),
)
def test_a_split_total_adds_back_up_and_keeps_the_configs_ratio(
    total: float, cpus: int, ram_gib: float, gpus: int, cpu: float, ram: float, gpu: float
) -> None:
    config = PricingConfig(CPU=cpu, RAM=ram, GPU=gpu)
    p = InstancePrice(total=total).resolve(cpus, ram_gib, gpus, config)
    assert cpus * p.cpu + ram_gib * p.ram + gpus * p.gpu == pytest.approx(total)
    assert p.cpu == pytest.approx(p.ram * cpu / ram)
    assert p.gpu == pytest.approx(p.ram * gpu / ram)


def test_the_shipped_default_pricing_json_is_the_defaults_plus_examples() -> None:
    c = load_pricing(SHIPPED)
    defaults = PricingConfig()
    assert c.model_dump(exclude={"instance_types"}) == defaults.model_dump(
        exclude={"instance_types"}
    )
    # Every OpenCost key of the model appears in the file, as a string.
    raw = json.loads(SHIPPED.read_text())
    aliases = {f.alias for f in PricingConfig.model_fields.values()} - {"instanceTypes"}
    assert aliases <= raw.keys()
    assert all(isinstance(raw[a], str) for a in aliases)
    # m5.2xlarge: 8 vCPU, 32 GiB at $0.384/h on demand, $0.1152/h spot.
    m5 = {"cpus": 8.0, "ram_gib": 32.0, "gpus": 0.0}
    on_demand = c.node_prices("m5.2xlarge", spot=False, **m5)
    assert 8 * on_demand.cpu + 32 * on_demand.ram == pytest.approx(0.384)
    spot = c.node_prices("m5.2xlarge", spot=True, **m5)
    assert 8 * spot.cpu + 32 * spot.ram == pytest.approx(0.1152)
    # Total-priced examples add back up: t3.medium 2 vCPU 4 GiB; g4dn.xlarge 4 vCPU 16 GiB 1 GPU.
    t3 = c.node_prices("t3.medium", spot=False, cpus=2, ram_gib=4, gpus=0)
    assert 2 * t3.cpu + 4 * t3.ram == pytest.approx(0.0416)
    g4 = c.node_prices("g4dn.xlarge", spot=False, cpus=4, ram_gib=16, gpus=1)
    assert 4 * g4.cpu + 16 * g4.ram + g4.gpu == pytest.approx(0.526)


def test_the_example_config_in_the_repository_loads() -> None:
    c = load_pricing(EXAMPLE)
    assert c.cpu == 0.031611
    assert c.instance_types["m5.2xlarge"].cpu == 0.032
