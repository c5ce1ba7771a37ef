"""Asset sets read back from OpenCost-shaped `/assets` JSON (a remote costreport or OpenCost)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from costreport.model.asset import Asset, AssetSet
from costreport.model.window import Window

MAX_ASSETS = 1_000_000
KNOWN = {"type", "properties", "labels", "window", "start", "end", "minutes", "totalCost"}


def _moment(text: Any) -> datetime | None:
    if not isinstance(text, str) or not text:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _window(source: Mapping[str, Any] | None) -> Window:
    start, end = _moment((source or {}).get("start")), _moment((source or {}).get("end"))
    if start is None or end is None or end <= start:
        return Window.from_timestamps(0.0, 1.0)
    return Window(start, end)


def assets_from_json(data: Any) -> list[AssetSet]:
    """`data` of an `/assets` answer (one set, or a list of them) as asset sets."""
    raw_sets = data if isinstance(data, list) else [data]
    sets: list[AssetSet] = []
    seen = 0
    for raw in raw_sets:
        if not isinstance(raw, Mapping):
            raise ValueError("an asset set is not an object")
        seen += len(raw)
        if seen > MAX_ASSETS:
            raise ValueError(f"more than {MAX_ASSETS} assets")
        assets: dict[str, Asset] = {}
        window = Window.from_timestamps(0.0, 1.0)
        for key, item in raw.items():
            if not isinstance(item, Mapping):
                continue
            window = _window(item.get("window"))
            start, end = _moment(item.get("start")), _moment(item.get("end"))
            assets[str(key)] = Asset(
                type=str(item.get("type", "")),
                properties={k: str(v) for k, v in (item.get("properties") or {}).items()},
                window=window,
                start=start.timestamp() if start else window.start_ts,
                end=end.timestamp() if end else window.end_ts,
                total_cost=float(item.get("totalCost") or 0.0),
                fields={k: v for k, v in item.items() if k not in KNOWN},
                labels={k: str(v) for k, v in (item.get("labels") or {}).items()},
            )
        sets.append(AssetSet(window, assets))
    return sets
