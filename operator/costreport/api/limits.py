"""Per-client rate and concurrency limits (429 with Retry-After), bounded in memory."""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass


class TooManyRequests(Exception):
    """The client is over its rate or concurrency limit."""

    def __init__(self, reason: str, retry_after_seconds: int) -> None:
        super().__init__(reason)
        self.retry_after_seconds = retry_after_seconds


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float
    active: int = 0


class ClientLimiter:
    """A token bucket and an in-flight counter per client (user, or address when anonymous).

    A rate or concurrency of 0 disables that limit.
    """

    def __init__(
        self,
        rate_per_second: float,
        burst: int,
        concurrency: int,
        *,
        max_clients: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate, self.burst, self.concurrency = rate_per_second, burst, concurrency
        self.max_clients, self.clock = max_clients, clock
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    @asynccontextmanager
    async def slot(self, client: str) -> AsyncIterator[None]:
        """Hold one request slot for `client` or raise TooManyRequests."""
        now = self.clock()
        bucket = self._buckets.get(client)
        if bucket is None:
            bucket = self._buckets[client] = _Bucket(float(self.burst), now)
            while len(self._buckets) > self.max_clients:
                oldest = next(iter(self._buckets))
                if self._buckets[oldest].active:
                    break
                self._buckets.popitem(last=False)
        self._buckets.move_to_end(client)
        bucket.tokens = min(float(self.burst), bucket.tokens + (now - bucket.updated) * self.rate)
        bucket.updated = now
        if self.concurrency > 0 and bucket.active >= self.concurrency:
            raise TooManyRequests(f"at most {self.concurrency} concurrent requests per client", 1)
        if self.rate > 0 and bucket.tokens < 1.0:
            wait = math.ceil((1.0 - bucket.tokens) / self.rate) if self.rate else 60
            raise TooManyRequests(f"at most {self.rate:g} requests per second per client", wait)
        bucket.tokens -= 1.0
        bucket.active += 1
        try:
            yield
        finally:
            bucket.active -= 1
