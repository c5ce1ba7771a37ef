"""A bounded cache of encoded responses, keyed by the normalised query.

A window that ended in the past can never change, so its entries never expire (only the size
bound evicts them, least recently used first); a window that reaches into the present expires
after a short TTL so new samples show up.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(slots=True)
class _Entry:
    body: bytes
    expires: float


class ResponseCache:
    """LRU over encoded bodies, bounded by total bytes."""

    def __init__(
        self,
        max_bytes: int = 256 * 1024 * 1024,
        ttl_seconds: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_bytes = max_bytes
        self.ttl_seconds = ttl_seconds
        self.clock = clock
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._bytes = 0
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def size_bytes(self) -> int:
        """Total size of the cached bodies."""
        return self._bytes

    def get(self, key: str) -> bytes | None:
        """The cached body, or None when absent or expired."""
        entry = self._entries.get(key)
        if entry is None or entry.expires <= self.clock():
            if entry is not None:
                self._drop(key)
            self.misses += 1
            return None
        self._entries.move_to_end(key)
        self.hits += 1
        return entry.body

    def put(self, key: str, body: bytes, *, final: bool) -> None:
        """Store a body; `final` (the window is over) means it never expires."""
        if len(body) > self.max_bytes:
            return
        if key in self._entries:
            self._drop(key)
        expires = float("inf") if final else self.clock() + self.ttl_seconds
        self._entries[key] = _Entry(body, expires)
        self._bytes += len(body)
        while self._bytes > self.max_bytes:
            oldest = next(iter(self._entries))
            self._drop(oldest)

    def _drop(self, key: str) -> None:
        entry = self._entries.pop(key)
        self._bytes -= len(entry.body)
