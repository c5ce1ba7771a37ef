"""HTTPS serving with a certificate that is reloaded when its files change."""

from __future__ import annotations

import asyncio
import shutil
import ssl
import subprocess
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from costreport.api.app import create_app
from costreport.cli.servers import tls_context
from tests.api.conftest import TinySource

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl not installed")


def make_cert(directory: Path, name: str) -> tuple[Path, Path]:
    cert, key = directory / "tls.crt", directory / "tls.key"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            f"/CN={name}",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


async def served_common_name(port: int) -> str:
    _reader, writer = await asyncio.open_connection(
        "127.0.0.1", port, ssl=ssl._create_unverified_context()
    )
    peer = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
    writer.close()
    der = ssl.DER_cert_to_PEM_cert(peer)
    text = subprocess.run(
        ["openssl", "x509", "-noout", "-subject"],
        input=der,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return text.strip().split("CN")[-1].strip(" =")


async def test_https_and_certificate_reload(tmp_path: Path) -> None:
    cert, key = make_cert(tmp_path, "first")
    context = tls_context(str(cert), str(key), check_every=0.1)
    assert context is not None
    app: web.Application = create_app(TinySource())
    server = TestServer(app, ssl=context)
    await server.start_server(ssl=context)
    try:
        assert await served_common_name(server.port) == "first"
        make_cert(tmp_path, "second")
        for _ in range(50):
            await asyncio.sleep(0.1)
            if await served_common_name(server.port) == "second":
                break
        assert await served_common_name(server.port) == "second"
    finally:
        await server.close()


def test_cert_without_key_is_an_error() -> None:
    from costreport.model.errors import InvalidParameter

    with pytest.raises(InvalidParameter, match="both --tls-cert and --tls-key"):
        tls_context("/tmp/x.crt", None)
