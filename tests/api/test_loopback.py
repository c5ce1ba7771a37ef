"""The port-forward listener: cluster-wide, no token, loopback peers only."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from unittest.mock import MagicMock

from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from costreport.api.app import loopback_middleware
from tests.ports import free_port


async def test_a_peer_that_is_not_loopback_is_refused() -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(text="data")

    for peer, status in (
        (("10.0.0.5", 4000), 403),
        (("127.0.0.1", 4000), 200),
        (("::1", 4000, 0, 0), 200),
    ):
        transport = MagicMock()
        transport.get_extra_info.side_effect = lambda name, default=None, peer=peer: (
            peer if name == "peername" else default
        )
        request = make_mocked_request("GET", "/allocation", transport=transport)
        response = await loopback_middleware(request, handler)
        assert response.status == status, peer


def test_serve_answers_on_both_listeners(tmp_path: Path) -> None:
    port, loopback = free_port(), free_port()
    process = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "costreport"),
            "serve",
            "--port",
            str(port),
            "--loopback-port",
            str(loopback),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        cwd=tmp_path,
    )
    try:
        deadline = time.monotonic() + 60
        for p in (port, loopback):
            while True:
                try:
                    with urllib.request.urlopen(
                        f"http://127.0.0.1:{p}/allocation?window=1d", timeout=30
                    ) as r:
                        assert r.status == 200 and b'"code":200' in r.read()
                    break
                except OSError:
                    assert time.monotonic() < deadline and process.poll() is None
                    time.sleep(0.3)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
    finally:
        if process.poll() is None:
            process.kill()
