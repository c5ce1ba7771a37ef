"""The response cache: final windows never expire, live ones do, and the size bound holds."""

from __future__ import annotations

from costreport.api.cache import ResponseCache


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_live_entries_expire_and_final_ones_do_not() -> None:
    clock = Clock()
    cache = ResponseCache(max_bytes=1000, ttl_seconds=60, clock=clock)
    cache.put("live", b"a", final=False)
    cache.put("final", b"b", final=True)
    clock.now = 59.9
    assert cache.get("live") == b"a"
    clock.now = 60.0
    assert cache.get("live") is None
    clock.now = 10**9
    assert cache.get("final") == b"b"
    assert (cache.hits, cache.misses) == (2, 1)


def test_least_recently_used_is_evicted_to_stay_within_bytes() -> None:
    cache = ResponseCache(max_bytes=10, ttl_seconds=60, clock=Clock())
    cache.put("a", b"aaaa", final=True)
    cache.put("b", b"bbbb", final=True)
    assert cache.get("a") == b"aaaa"  # a is now more recent than b
    cache.put("c", b"cccc", final=True)
    assert cache.get("b") is None
    assert cache.get("a") == b"aaaa" and cache.get("c") == b"cccc"
    assert cache.size_bytes == 8 and len(cache) == 2
    cache.put("huge", b"x" * 11, final=True)  # larger than the bound: not stored
    assert cache.get("huge") is None and cache.size_bytes == 8
