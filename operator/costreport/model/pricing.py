"""Pricing configuration in OpenCost's `default.json` format (reference §3.4, §6.3, §6.4).

Values are strings holding floats, as OpenCost writes them; unknown keys are ignored, so an
OpenCost config file can be used unchanged. costreport adds `instanceTypes`: per-instance-type
prices (or a total hourly price split with OpenCost's CPU:RAM:GPU ratio rule).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from costreport.model.errors import InvalidParameter

HOURS_PER_MONTH = 730.0


@dataclass(frozen=True, slots=True)
class NodeUnitPrices:
    """$/core-hour, $/GiB-hour and $/GPU-hour for one node."""

    cpu: float
    ram: float
    gpu: float


def _number(value: object) -> float:
    if isinstance(value, bool):
        raise ValueError("not a number")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        text = value.strip()
        return float(text) if text else 0.0
    raise ValueError("not a number")


def _percent(value: object) -> float:
    """`"30%"` or `"30"` → 0.30 (OpenCost writes discounts as percentages)."""
    if isinstance(value, str):
        text = value.strip().rstrip("%").strip()
        return float(text) / 100.0 if text else 0.0
    return _number(value) / 100.0


class _Prices(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="ignore", frozen=True)


class InstancePrice(_Prices):
    """Prices of one instance type; `total` alone is split by OpenCost's ratio rule."""

    cpu: float = 0.0
    ram: float = 0.0
    gpu: float = 0.0
    spot_cpu: float | None = Field(None, alias="spotCPU")
    spot_ram: float | None = Field(None, alias="spotRAM")
    spot_gpu: float | None = Field(None, alias="spotGPU")
    total: float | None = None

    _coerce = field_validator("cpu", "ram", "gpu", mode="before")(lambda v: _number(v))

    @field_validator("spot_cpu", "spot_ram", "spot_gpu", "total", mode="before")
    @classmethod
    def _optional(cls, value: object) -> float | None:
        return None if value is None else _number(value)

    def resolve(
        self, cpus: float, ram_gib: float, gpus: float, config: PricingConfig, *, spot: bool
    ) -> NodeUnitPrices:
        """Unit prices for a node of this type (spot variants when configured)."""
        if self.total is not None and not (self.cpu or self.ram):
            ratio = config.cpu / config.ram if config.ram else 10.0
            gpu_ratio = config.gpu / config.ram if config.ram else 100.0
            denominator = cpus * ratio + ram_gib + gpus * gpu_ratio
            ram = self.total / denominator if denominator else 0.0
            return NodeUnitPrices(ram * ratio, ram, ram * gpu_ratio if gpus else 0.0)
        if spot:
            return NodeUnitPrices(
                self.spot_cpu if self.spot_cpu is not None else self.cpu,
                self.spot_ram if self.spot_ram is not None else self.ram,
                self.spot_gpu if self.spot_gpu is not None else self.gpu,
            )
        return NodeUnitPrices(self.cpu, self.ram, self.gpu)


class PricingConfig(_Prices):
    """OpenCost's custom pricing keys with `default.json`'s defaults."""

    cpu: float = Field(0.031611, alias="CPU")
    spot_cpu: float = Field(0.006655, alias="spotCPU")
    ram: float = Field(0.004237, alias="RAM")
    spot_ram: float = Field(0.000892, alias="spotRAM")
    gpu: float = Field(0.95, alias="GPU")
    spot_gpu: float = Field(0.308, alias="spotGPU")
    storage: float = Field(0.00005479452, alias="storage")
    zone_network_egress: float = Field(0.01, alias="zoneNetworkEgress")
    region_network_egress: float = Field(0.01, alias="regionNetworkEgress")
    internet_network_egress: float = Field(0.12, alias="internetNetworkEgress")
    default_lb_price: float = Field(0.025, alias="defaultLBPrice")
    cluster_management_price: float = Field(0.10, alias="clusterManagementPrice")
    custom_prices_enabled: bool = Field(False, alias="customPricesEnabled")
    discount: float = 0.0
    negotiated_discount: float = Field(0.0, alias="negotiatedDiscount")
    currency_code: str = Field("USD", alias="currencyCode")
    cluster_name: str = Field("", alias="clusterName")
    instance_types: dict[str, InstancePrice] = Field(default_factory=dict, alias="instanceTypes")

    _coerce = field_validator(
        "cpu",
        "spot_cpu",
        "ram",
        "spot_ram",
        "gpu",
        "spot_gpu",
        "storage",
        "zone_network_egress",
        "region_network_egress",
        "internet_network_egress",
        "default_lb_price",
        "cluster_management_price",
        mode="before",
    )(lambda v: _number(v))
    _percentages = field_validator("discount", "negotiated_discount", mode="before")(
        lambda v: _percent(v)
    )

    @field_validator("custom_prices_enabled", mode="before")
    @classmethod
    def _flag(cls, value: object) -> bool:
        if isinstance(value, str):
            return value.strip().lower() == "true"
        return bool(value)

    @property
    def combined_discount(self) -> float:
        """1 − (1 − discount)(1 − negotiatedDiscount), applied to CPU and RAM only."""
        return 1.0 - (1.0 - self.discount) * (1.0 - self.negotiated_discount)

    def node_prices(
        self, instance_type: str | None, *, spot: bool, cpus: float, ram_gib: float, gpus: float
    ) -> NodeUnitPrices:
        """Undiscounted unit prices: the instance type's when configured, else the defaults."""
        configured = self.instance_types.get(instance_type or "")
        if configured is not None:
            return configured.resolve(cpus, ram_gib, gpus, self, spot=spot)
        if spot:
            return NodeUnitPrices(self.spot_cpu, self.spot_ram, self.spot_gpu)
        return NodeUnitPrices(self.cpu, self.ram, self.gpu)


def load_pricing(path: str | os.PathLike[str] | None) -> PricingConfig:
    """Read a pricing file in OpenCost's `default.json` format; None gives the defaults."""
    if path is None:
        return PricingConfig()
    try:
        raw = json.loads(Path(path).read_text())
    except (OSError, ValueError) as error:
        raise InvalidParameter("pricing", str(path), f"a readable JSON file ({error})") from None
    if not isinstance(raw, dict):
        raise InvalidParameter("pricing", str(path), "a JSON object of OpenCost pricing keys")
    try:
        return PricingConfig.model_validate(raw)
    except ValidationError as error:
        first = error.errors()[0]
        key = ".".join(str(p) for p in first["loc"])
        value = first.get("input")
        raise InvalidParameter(
            "pricing", f"{path}: {key}={value!r}", 'a number as a string, e.g. "0.031611"'
        ) from None
