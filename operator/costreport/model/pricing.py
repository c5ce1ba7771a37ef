"""Pricing configuration in OpenCost's `default.json` format (reference §3.4, §6.3, §6.4).

OpenCost writes every value as a string holding a float (`"CPU": "0.031611"`); numbers are
accepted too, and are stored as floats. Unknown keys (`provider`, `description`,
`shareTenancyCosts`, …) are ignored, and a key holding an empty string counts as absent, as in
the configs OpenCost saves itself, so an OpenCost config file can be used unchanged.

Units: `CPU`/`spotCPU` $/vCPU-hour, `RAM`/`spotRAM` $/GiB-hour, `GPU`/`spotGPU` $/GPU-hour,
`storage` $/GiB-hour for persistent volumes (OpenCost's table calls it $/GB-hour, but it is
used as `pv_hourly_cost`, a per-GiB price: $0.04 a month ÷ 730 hours), network egress $/GiB,
`defaultLBPrice` and `clusterManagementPrice` $/hour. `discount` and `negotiatedDiscount` are
percentages (`"30%"` or `"30"`).

costreport adds `instanceTypes`: prices per instance type, either per resource
(`cpu`, `ram`, `gpu` and optional `spotCPU`, `spotRAM`, `spotGPU`) or as one on-demand
`total` $/hour for the node, split into unit prices with OpenCost's ratio rule (§6.4).
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)
from pydantic_core import ErrorDetails, PydanticCustomError

from costreport.model.errors import InvalidParameter

HOURS_PER_MONTH = 730.0
"""Hours in OpenCost's month (365 × 24 / 12)."""

DEFAULT_CPU_TO_RAM_RATIO = 10.0
"""OpenCost's CPU:RAM price ratio when the config's RAM price is 0 (the ratio is undefined)."""

DEFAULT_GPU_TO_RAM_RATIO = 100.0
"""OpenCost's GPU:RAM price ratio when the config's RAM price is 0 (the ratio is undefined)."""

_ACCEPTED_NUMBER = 'a number as a string, e.g. "0.031611"'
_ACCEPTED_NON_NEGATIVE = 'a finite number ≥ 0 as a string, e.g. "0.031611"'
_ACCEPTED_PERCENT = 'a percentage from 0 to 100, e.g. "30%" or "30"'
_ACCEPTED_FLAG = '"true" or "false"'
_ACCEPTED_INSTANCE = (
    'per instance type an object with either "cpu" and "ram" (and optionally "gpu") '
    'or "total" ($/hour), plus optional "spotCPU", "spotRAM", "spotGPU"'
)
_ACCEPTED_INSTANCE_TYPES = "an object mapping instance types to prices"
_ACCEPTED_STRING = "a string"
_ACCEPTED_FILE = "a JSON object in OpenCost's default.json format"
_JSON_TYPES = {
    "list": "array",
    "str": "string",
    "int": "number",
    "float": "number",
    "bool": "boolean",
}


def _rejected(accepted: str) -> PydanticCustomError:
    """A validation error whose context carries the text `load_pricing` reports as accepted."""
    return PydanticCustomError("pricing", "expected {accepted}", {"accepted": accepted})


def _parse_price(value: object) -> float:
    """A finite, non-negative number given as a string or a JSON number."""
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            raise _rejected(_ACCEPTED_NUMBER) from None
    elif isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
    else:
        raise _rejected(_ACCEPTED_NUMBER)
    if not math.isfinite(number) or number < 0:
        raise _rejected(_ACCEPTED_NON_NEGATIVE)
    return number


def _parse_optional_price(value: object) -> float | None:
    """`_parse_price`, letting None (not configured) through."""
    return None if value is None else _parse_price(value)


def _parse_percent(value: object) -> float:
    """OpenCost's percentage strings: `"30%"` and `"30"` are both 0.30; empty is 0."""
    if isinstance(value, str):
        text = value.strip()
        text = text.removesuffix("%").strip()
        if not text:
            return 0.0
        try:
            number = float(text)
        except ValueError:
            raise _rejected(_ACCEPTED_PERCENT) from None
    elif isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
    else:
        raise _rejected(_ACCEPTED_PERCENT)
    if not 0.0 <= number <= 100.0:
        raise _rejected(_ACCEPTED_PERCENT)
    return number / 100.0


def _parse_flag(value: object) -> bool:
    """OpenCost's boolean strings, `"true"` or `"false"` (any case); JSON booleans too."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise _rejected(_ACCEPTED_FLAG)


def _drop_empty(data: Any) -> Any:
    """Treat keys holding empty strings as absent, as OpenCost does for unset config keys."""
    if isinstance(data, dict):
        return {k: v for k, v in data.items() if not (isinstance(v, str) and not v.strip())}
    return data


_Price = Annotated[float, BeforeValidator(_parse_price)]
_OptionalPrice = Annotated[float | None, BeforeValidator(_parse_optional_price)]
_Percent = Annotated[float, BeforeValidator(_parse_percent)]
_Flag = Annotated[bool, BeforeValidator(_parse_flag)]


@dataclass(frozen=True, slots=True)
class NodeUnitPrices:
    """A node's undiscounted unit prices: $/core-hour, $/GiB-hour and $/GPU-hour."""

    cpu: float
    ram: float
    gpu: float


class InstancePrice(BaseModel):
    """Prices of one instance type: per resource, or an on-demand `total` $/hour to split.

    Give either `cpu` and `ram` (`gpu` defaults to 0), or `total` alone; `spotCPU`, `spotRAM`
    and `spotGPU` (also accepted as `spot_cpu`, …) are the prices of spot nodes of the type.
    """

    model_config = ConfigDict(populate_by_name=True, extra="ignore", frozen=True)

    cpu: _OptionalPrice = None
    ram: _OptionalPrice = None
    gpu: _Price = 0.0
    spot_cpu: _OptionalPrice = Field(None, alias="spotCPU")
    spot_ram: _OptionalPrice = Field(None, alias="spotRAM")
    spot_gpu: _OptionalPrice = Field(None, alias="spotGPU")
    total: _OptionalPrice = None

    @model_validator(mode="before")
    @classmethod
    def _empty_is_absent(cls, data: Any) -> Any:
        return _drop_empty(data)

    @model_validator(mode="after")
    def _per_resource_or_total(self) -> InstancePrice:
        if self.total is None:
            if self.cpu is None or self.ram is None:
                raise _rejected(_ACCEPTED_INSTANCE)
        elif self.cpu is not None or self.ram is not None or "gpu" in self.model_fields_set:
            raise _rejected(_ACCEPTED_INSTANCE)
        return self

    def resolve(
        self,
        cpus: float,
        ram_gib: float,
        gpus: float,
        config: PricingConfig,
        *,
        spot: bool = False,
    ) -> NodeUnitPrices:
        """Undiscounted unit prices of a node of this type with the given capacity.

        On-demand nodes get `cpu`/`ram`/`gpu`, or `total` split by OpenCost's ratio rule
        (`GetNodeCost`, reference §6.4): ratio = config CPU/RAM (10 when the config's RAM price
        is 0), gpuRatio = config GPU/RAM (100 likewise); ramPrice = total / (cpus·ratio + GiB +
        gpus·gpuRatio); cpuPrice = ramPrice·ratio; gpuPrice = ramPrice·gpuRatio. A node with no
        capacity at all gets zero prices.

        Spot nodes get this type's `spotCPU`/`spotRAM`/`spotGPU` where configured and the
        config's `spotCPU`/`spotRAM`/`spotGPU` otherwise, resource by resource: `total` is an
        on-demand price, and OpenCost prices spot nodes it has no spot price for with the
        config's spot defaults.
        """
        if spot:
            return NodeUnitPrices(
                cpu=config.spot_cpu if self.spot_cpu is None else self.spot_cpu,
                ram=config.spot_ram if self.spot_ram is None else self.spot_ram,
                gpu=config.spot_gpu if self.spot_gpu is None else self.spot_gpu,
            )
        if self.total is None:
            return NodeUnitPrices(cpu=self.cpu or 0.0, ram=self.ram or 0.0, gpu=self.gpu)
        ratio = config.cpu / config.ram if config.ram > 0 else DEFAULT_CPU_TO_RAM_RATIO
        gpu_ratio = config.gpu / config.ram if config.ram > 0 else DEFAULT_GPU_TO_RAM_RATIO
        ram_multiple = cpus * ratio + ram_gib + gpus * gpu_ratio
        if ram_multiple <= 0:
            return NodeUnitPrices(cpu=0.0, ram=0.0, gpu=0.0)
        ram_price = self.total / ram_multiple
        return NodeUnitPrices(cpu=ram_price * ratio, ram=ram_price, gpu=ram_price * gpu_ratio)


class PricingConfig(BaseModel):
    """OpenCost's custom pricing keys (read by their `default.json` names) and costreport's.

    Defaults are those of OpenCost's `configs/default.json`, with `spotGPU` from its in-code
    `DefaultPricing()`; `defaultLBPrice` $0.025/hour and `clusterManagementPrice` $0.10/hour
    (OpenCost takes the latter from the cloud provider: $0.10/hour on EKS and GKE, 0 for the
    custom provider). Fields can also be set by their Python names.
    """

    model_config = ConfigDict(populate_by_name=True, extra="ignore", frozen=True)

    cpu: _Price = Field(0.031611, alias="CPU")
    spot_cpu: _Price = Field(0.006655, alias="spotCPU")
    ram: _Price = Field(0.004237, alias="RAM")
    spot_ram: _Price = Field(0.000892, alias="spotRAM")
    gpu: _Price = Field(0.95, alias="GPU")
    spot_gpu: _Price = Field(0.308, alias="spotGPU")
    storage: _Price = Field(0.00005479452, alias="storage")
    zone_network_egress: _Price = Field(0.01, alias="zoneNetworkEgress")
    region_network_egress: _Price = Field(0.01, alias="regionNetworkEgress")
    internet_network_egress: _Price = Field(0.12, alias="internetNetworkEgress")
    default_lb_price: _Price = Field(0.025, alias="defaultLBPrice")
    cluster_management_price: _Price = Field(0.10, alias="clusterManagementPrice")
    custom_prices_enabled: _Flag = Field(False, alias="customPricesEnabled")
    discount: _Percent = Field(0.0, alias="discount")
    negotiated_discount: _Percent = Field(0.0, alias="negotiatedDiscount")
    spot_label: str = Field("", alias="spotLabel")
    spot_label_value: str = Field("", alias="spotLabelValue")
    cluster_name: str = Field("", alias="clusterName")
    currency_code: str = Field("USD", alias="currencyCode")
    instance_types: dict[str, InstancePrice] = Field(default_factory=dict, alias="instanceTypes")

    @model_validator(mode="before")
    @classmethod
    def _empty_is_absent(cls, data: Any) -> Any:
        return _drop_empty(data)

    @property
    def combined_discount(self) -> float:
        """1 − (1 − discount)(1 − negotiatedDiscount); it applies to CPU and RAM, never GPU."""
        return 1.0 - (1.0 - self.discount) * (1.0 - self.negotiated_discount)

    def discounted(self, prices: NodeUnitPrices) -> NodeUnitPrices:
        """`prices` with the combined discount applied to CPU and RAM (GPU is not discounted)."""
        keep = 1.0 - self.combined_discount
        return NodeUnitPrices(cpu=prices.cpu * keep, ram=prices.ram * keep, gpu=prices.gpu)

    def node_prices(
        self,
        instance_type: str | None,
        *,
        spot: bool,
        cpus: float,
        ram_gib: float,
        gpus: float,
    ) -> NodeUnitPrices:
        """A node's undiscounted unit prices from this config.

        A configured instance type (exact name) resolves with `InstancePrice.resolve` (spot
        nodes fall back to the config's spot prices per resource); any other type, or none,
        gets the config's `CPU`/`RAM`/`GPU`, or `spotCPU`/`spotRAM`/`spotGPU` for spot nodes.
        """
        configured = self.instance_types.get(instance_type) if instance_type else None
        if configured is not None:
            return configured.resolve(cpus, ram_gib, gpus, self, spot=spot)
        if spot:
            return NodeUnitPrices(cpu=self.spot_cpu, ram=self.spot_ram, gpu=self.spot_gpu)
        return NodeUnitPrices(cpu=self.cpu, ram=self.ram, gpu=self.gpu)


def _key(loc: tuple[int | str, ...]) -> str:
    """`("instanceTypes", "m5.xlarge", "cpu")` → `instanceTypes["m5.xlarge"].cpu`."""
    if len(loc) >= 2 and loc[0] == "instanceTypes":
        rest = "".join(f".{part}" for part in loc[2:])
        return f'instanceTypes["{loc[1]}"]{rest}'
    return ".".join(str(part) for part in loc)


def _accepted(error: ErrorDetails) -> str:
    """What the failing key accepts: from our validators' context, else by pydantic's type."""
    context = error.get("ctx") or {}
    if "accepted" in context:
        return str(context["accepted"])
    loc = error["loc"]
    if loc == ("instanceTypes",):
        return _ACCEPTED_INSTANCE_TYPES
    if len(loc) == 2 and loc[0] == "instanceTypes":
        return _ACCEPTED_INSTANCE
    if error["type"] == "string_type":
        return _ACCEPTED_STRING
    return _ACCEPTED_NUMBER


def load_pricing(path: str | os.PathLike[str] | None) -> PricingConfig:
    """Read a pricing file in OpenCost's `default.json` format; None gives the defaults.

    Raises `InvalidParameter("pricing", …)` for an unreadable file, bad JSON, or a bad value;
    the value names the file and, for a bad value, the key and what it held.
    """
    if path is None:
        return PricingConfig()
    try:
        raw = json.loads(Path(path).read_bytes())
    except OSError as error:
        raise InvalidParameter(
            "pricing", str(path), f"a readable file ({error.strerror or error})"
        ) from None
    except json.JSONDecodeError as error:
        raise InvalidParameter(
            "pricing",
            f"{path}: {error.msg} at line {error.lineno} column {error.colno}",
            _ACCEPTED_FILE,
        ) from None
    except ValueError:
        raise InvalidParameter("pricing", f"{path}: not UTF-8 text", _ACCEPTED_FILE) from None
    if not isinstance(raw, dict):
        raise InvalidParameter(
            "pricing",
            f"{path}: a JSON {_JSON_TYPES.get(type(raw).__name__, 'null')}",
            _ACCEPTED_FILE,
        )
    try:
        return PricingConfig.model_validate(raw)
    except ValidationError as error:
        first = error.errors()[0]
        key, value = _key(first["loc"]), first.get("input")
        raise InvalidParameter("pricing", f"{path}: {key}={value!r}", _accepted(first)) from None
