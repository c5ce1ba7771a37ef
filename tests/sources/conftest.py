"""Fixtures shared by the sources' tests: a real S3-protocol server (moto) on 127.0.0.1."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.ports import free_port

MOTO = Path(sys.executable).parent / "moto_server"


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """moto's standalone S3 server, started by the test suite; its credentials in the env."""
    if not MOTO.exists():
        pytest.skip(f"moto_server not found at {MOTO}: pip install 'moto[server]' (make test does)")
    port = free_port()
    process = subprocess.Popen(
        [str(MOTO), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                pytest.fail("moto_server did not start")
            time.sleep(0.2)
    os.environ.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="us-east-1",
    )
    yield f"127.0.0.1:{port}"
    process.terminate()
    process.wait(timeout=30)


@pytest.fixture(params=["local", "s3"])
def ledger_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh ledger: a directory, or a bucket prefix on the S3 server."""
    if request.param == "local":
        return str(tmp_path / "ledger")
    endpoint = request.getfixturevalue("s3_endpoint")
    bucket = f"ledger-{uuid.uuid4().hex[:12]}"
    return (
        f"s3://{bucket}/fleet?endpoint_override={endpoint}&scheme=http&region=us-east-1"
        "&allow_bucket_creation=true"
    )
