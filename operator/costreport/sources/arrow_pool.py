"""The process's Arrow memory pool: jemalloc where the wheel has it, chosen once at startup.

Measured on the 90-day month query (benchmarks/ledger.py's ledger, fresh processes, first query):
pyarrow's default mimalloc pool took 1.33–1.86 s and peaked at 965 MiB, jemalloc 1.16–1.39 s
and 804 MiB, the system allocator 1.12–1.24 s but kept 916 MiB after five queries (jemalloc
679 MiB). `ARROW_DEFAULT_MEMORY_POOL` set by the user wins.
"""

from __future__ import annotations

import os

import pyarrow as pa


def configure_arrow_pool() -> str:
    """Make jemalloc the default pool unless the environment chose one; the backend in use."""
    if os.environ.get("ARROW_DEFAULT_MEMORY_POOL"):
        return str(pa.default_memory_pool().backend_name)
    try:
        pool = pa.jemalloc_memory_pool()
    except NotImplementedError:  # a wheel built without jemalloc (e.g. Windows)
        return str(pa.default_memory_pool().backend_name)
    pa.set_memory_pool(pool)
    return str(pool.backend_name)
