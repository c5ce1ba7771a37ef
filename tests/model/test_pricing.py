"""Pricing config in OpenCost's default.json format."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from costreport.model.errors import InvalidParameter
from costreport.model.pricing import (
    HOURS_PER_MONTH,
    InstancePrice,
    NodeUnitPrices,
    PricingConfig,
    load_pricing,
)


def test_defaults_are_opencosts_default_json() -> None:
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
    assert c.combined_discount == 0.0
    assert HOURS_PER_MONTH == 730.0


def test_string_floats_percent_discounts_and_unknown_keys(tmp_path: Path) -> None:
    path = tmp_path / "default.json"
    path.write_text(
        json.dumps(
            {
                "provider": "custom",
                "description": "ignored",
                "CPU": "0.05",
                "RAM": "0.01",
                "discount": "30%",
                "negotiatedDiscount": "10",
                "customPricesEnabled": "true",
            }
        )
    )
    c = load_pricing(path)
    assert c.cpu == 0.05 and c.ram == 0.01
    assert c.discount == pytest.approx(0.30) and c.negotiated_discount == pytest.approx(0.10)
    assert c.combined_discount == pytest.approx(0.37)  # 1 − 0.7·0.9
    assert c.custom_prices_enabled is True


def test_a_bad_value_names_the_file_and_key(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"CPU": "cheap"}))
    with pytest.raises(InvalidParameter) as caught:
        load_pricing(path)
    assert str(caught.value) == (
        f"invalid 'pricing' parameter: \"{path}: CPU='cheap'\"; "
        'accepted: a number as a string, e.g. "0.031611"'
    )
    with pytest.raises(InvalidParameter, match="a readable JSON file"):
        load_pricing(tmp_path / "missing.json")


def test_instance_type_prices_normal_spot_and_fallback() -> None:
    c = PricingConfig.model_validate(
        {
            "instanceTypes": {
                "m5.xlarge": {"cpu": "0.04", "ram": "0.005", "spotCPU": "0.012"},
            }
        }
    )
    assert c.node_prices("m5.xlarge", spot=False, cpus=4, ram_gib=16, gpus=0) == NodeUnitPrices(
        0.04, 0.005, 0.0
    )
    # Spot uses the spot price where configured, the on-demand one otherwise.
    assert c.node_prices("m5.xlarge", spot=True, cpus=4, ram_gib=16, gpus=0) == NodeUnitPrices(
        0.012, 0.005, 0.0
    )
    assert c.node_prices("unknown", spot=False, cpus=4, ram_gib=16, gpus=0) == NodeUnitPrices(
        0.031611, 0.004237, 0.95
    )
    assert c.node_prices(None, spot=True, cpus=4, ram_gib=16, gpus=0) == NodeUnitPrices(
        0.006655, 0.000892, 0.308
    )


def test_total_price_is_split_with_opencosts_ratio() -> None:
    # CPU 0.05 / RAM 0.01 → ratio 5; GPU 1.0 / RAM 0.01 → 100.
    # 4 vCPU, 16 GiB, 1 GPU, total $1.36/h: ram = 1.36 / (4·5 + 16 + 1·100) = 0.01.
    c = PricingConfig(CPU=0.05, RAM=0.01, GPU=1.0)
    prices = InstancePrice(total=1.36).resolve(4, 16, 1, c, spot=False)
    assert prices.ram == pytest.approx(0.01)
    assert prices.cpu == pytest.approx(0.05)
    assert prices.gpu == pytest.approx(1.0)


def test_the_shipped_example_config_loads() -> None:
    path = Path(__file__).resolve().parents[2] / "examples" / "pricing" / "default.json"
    c = load_pricing(path)
    assert c.cpu == 0.031611
    assert c.instance_types["m5.2xlarge"].cpu == 0.032
