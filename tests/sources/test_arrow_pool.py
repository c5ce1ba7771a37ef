"""The Arrow memory pool chosen at startup (in a fresh interpreter: the pool is process-wide)."""

from __future__ import annotations

import os
import subprocess
import sys

import pyarrow as pa
import pytest

PROGRAM = (
    "import pyarrow as pa\n"
    "from costreport.sources.arrow_pool import configure_arrow_pool\n"
    "print(configure_arrow_pool(), pa.default_memory_pool().backend_name)\n"
)


def run(**env: str) -> str:
    clean = {k: v for k, v in os.environ.items() if k != "ARROW_DEFAULT_MEMORY_POOL"}
    answer = subprocess.run(
        [sys.executable, "-c", PROGRAM], env={**clean, **env}, capture_output=True, text=True
    )
    assert answer.returncode == 0, answer.stderr
    return answer.stdout.strip()


def test_jemalloc_unless_the_environment_chose() -> None:
    try:
        pa.jemalloc_memory_pool()
    except NotImplementedError:
        pytest.skip("this pyarrow wheel has no jemalloc")
    assert run() == "jemalloc jemalloc"
    assert run(ARROW_DEFAULT_MEMORY_POOL="system") == "system system"
