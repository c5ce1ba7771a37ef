"""Arrow columns → Python values in bulk: maps decoded once per distinct value, keys indexed.

Reading 30 days of a 10,000-pod cluster decodes ~36,000 pod lives; most share one of a few
hundred label sets, so each distinct map is decoded once and its dict shared (they are
read-only `Mapping`s in the model). Rows are compared by a joined text that is exact only
when no key or value holds the separators, so any column where one does is decoded row by
row instead.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

T = TypeVar("T")
_PAIR = "\x1f"
_ENTRY = "\x1e"


def combined(column: pa.ChunkedArray | pa.Array) -> pa.Array:
    """One array of a column's chunks."""
    if isinstance(column, pa.ChunkedArray):
        return column.combine_chunks() if column.num_chunks else pa.array([], column.type)
    return column


def _holds(values: pa.Array, *needles: str) -> bool:
    """Whether any value holds one of the one-byte needles. Plain string arrays are scanned
    byte-wise in their data buffer, which may also hold a slice's neighbours: a yes that is
    theirs only costs the row-by-row path."""
    if not len(values):
        return False
    if pa.types.is_string(values.type) or pa.types.is_large_string(values.type):
        data = values.buffers()[2]
        if data is None:
            return False
        raw = np.frombuffer(data, np.uint8)
        return any(bool((raw == ord(needle)).any()) for needle in needles)
    return any(pc.any(pc.match_substring(values, needle)).as_py() for needle in needles)


def _each_once(joined: pa.Array, decode: Callable[[str], T]) -> list[T]:
    """Each row's value from its joined text, decoded once per distinct text and shared."""
    encoded = pc.dictionary_encode(joined)
    distinct = [decode(text) for text in encoded.dictionary.to_pylist()]
    codes = np.asarray(encoded.indices.to_numpy(zero_copy_only=False), np.int64)
    return [distinct[i] for i in codes.tolist()]


def map_dicts(column: pa.ChunkedArray | pa.Array) -> list[dict[str, str]]:
    """Each row's map (null: empty) as a dict; rows with equal maps share one dict."""
    arr = combined(column)
    if len(arr) == 0:
        return []
    keys, items = arr.keys, arr.items
    exact = (
        arr.null_count == 0
        and items.null_count == 0
        and not _holds(keys, _PAIR, _ENTRY)
        and not _holds(items, _PAIR, _ENTRY)
    )
    if not exact:
        return [dict(row or []) for row in arr.to_pylist()]
    entries = pc.binary_join_element_wise(keys, items, _PAIR)
    joined = pc.binary_join(pa.ListArray.from_arrays(arr.offsets, entries), _ENTRY)

    def decode(text: str) -> dict[str, str]:
        pairs = (entry.split(_PAIR, 1) for entry in text.split(_ENTRY)) if text else ()
        return {key: value for key, value in pairs}

    return _each_once(joined, decode)


def string_tuples(column: pa.ChunkedArray | pa.Array) -> list[tuple[str, ...]]:
    """Each row's list of strings (null: empty) as a tuple; rows with equal lists share one.

    Rows are compared by their joined text, exact unless an item is null, empty or holds the
    separator (then row by row)."""
    arr = combined(column)
    if len(arr) == 0:
        return []
    items = arr.flatten()
    exact = items.null_count == 0 and not _holds(items, _ENTRY)
    if exact and len(items):
        exact = not pc.any(pc.equal(pc.utf8_length(items), 0)).as_py()
    if not exact:
        return [tuple(row or ()) for row in arr.to_pylist()]
    joined = pc.fill_null(pc.binary_join(arr, _ENTRY), "")
    return _each_once(joined, lambda text: tuple(text.split(_ENTRY)) if text else ())


def shared_strings(column: pa.ChunkedArray | pa.Array) -> list[str | None]:
    """A string column as Python values (null: None), one `str` object per distinct value:
    a low-cardinality column (namespace, node, controller) costs its distinct values, not a
    string per row."""
    arr = combined(column)
    if len(arr) == 0:
        return []
    encoded = pc.dictionary_encode(arr)
    values: list[str | None] = [*encoded.dictionary.to_pylist(), None]
    codes = pc.fill_null(encoded.indices, len(values) - 1).to_numpy(zero_copy_only=False)
    return list(map(values.__getitem__, codes.tolist()))


def strings(column: pa.ChunkedArray | pa.Array) -> list[str]:
    """A string column as Python strings (null: empty)."""
    return [value or "" for value in combined(column).to_pylist()]


def codes_in(keys: pa.Array, value_set: pa.Array) -> np.ndarray:
    """Each key's position in `value_set` (-1 where absent)."""
    found = pc.index_in(keys, value_set=value_set)
    return np.asarray(pc.fill_null(found, -1).to_numpy(zero_copy_only=False), np.int64)
