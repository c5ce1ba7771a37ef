"""`--api`: the CLI against a running costreport prints what local mode prints."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer

from costreport.api.app import ApiSettings, create_app
from costreport.api.auth import KubernetesAuth
from costreport.cli.main import run_query
from costreport.cli.options import build_parser
from costreport.model.errors import InvalidParameter
from costreport.sources.kubernetes import KubeClient
from tests.api.conftest import TINY_DAY, TinySource
from tests.api.fake_kube import FakeKubeApi


def args(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(["query", "--window", TINY_DAY, *argv])


@pytest.fixture
async def server() -> Any:
    fake = FakeKubeApi()
    kube_server = TestServer(fake.app)
    await kube_server.start_server()
    kube = KubeClient(f"http://127.0.0.1:{kube_server.port}", ssl_context=False)
    app = create_app(TinySource(), ApiSettings(), None, KubernetesAuth(kube))
    api = TestServer(app)
    await api.start_server()
    yield f"http://127.0.0.1:{api.port}"
    await api.close()
    await kube.close()
    await kube_server.close()


@pytest.mark.parametrize(
    "options",
    [
        ("--aggregate", "namespace", "--include-idle"),
        ("--aggregate", "pod", "--step", "6h", "--format", "csv"),
        ("--aggregate", "controller", "--share-namespaces", "b", "--format", "table"),
    ],
)
async def test_remote_output_is_local_output(
    server: str, tmp_path: Path, options: tuple[str, ...]
) -> None:
    token = tmp_path / "token"
    token.write_text("admin-token\n")
    local = await run_query(args(*options), TinySource())
    remote = await run_query(args(*options, "--api", server, "--token-file", str(token)))
    assert remote == local
    assert "web-1" in remote or "a" in remote


async def test_no_token_or_a_bad_url_is_a_clear_error(server: str) -> None:
    with pytest.raises(InvalidParameter) as caught:
        await run_query(args("--api", server))
    assert caught.value.message.startswith(
        "invalid 'api' parameter: '/allocation/compute'; accepted: the server answered 401"
    )
    with pytest.raises(InvalidParameter) as bad:
        await run_query(args("--api", "ftp://example"))
    assert bad.value.message.startswith("invalid 'api' parameter: 'ftp://example'")


@pytest.mark.parametrize(
    "options",
    [("--aggregate", "type"), ("--aggregate", "cluster", "--format", "csv"), ("--format", "json")],
)
async def test_remote_assets_are_local_assets(
    server: str, tmp_path: Path, options: tuple[str, ...], monkeypatch: pytest.MonkeyPatch
) -> None:
    from costreport.cli.main import run_assets

    token = tmp_path / "token"
    token.write_text("admin-token")
    parser = build_parser()
    local_args = parser.parse_args(["assets", "--window", TINY_DAY, *options])
    remote_args = parser.parse_args(
        ["assets", "--window", TINY_DAY, *options, "--api", server, "--token-file", str(token)]
    )
    # Local mode over the same tiny cluster the server serves.
    monkeypatch.setattr(sys.modules["costreport.cli.main"], "build_source", lambda a: TinySource())
    local = await run_assets(local_args)
    remote = await run_assets(remote_args)
    assert remote == local
