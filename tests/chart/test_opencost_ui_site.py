"""The chart's nginx site for the OpenCost UI container, served by Debian's real nginx.

The UI (opencost-ui 1.120 onwards) calls `/model/…` on its own origin; the site must serve the
UI's files and proxy `/model/` to the port-forward listener, so the listener's own answer is
what the UI gets.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import urllib.request
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import yaml
from aiohttp.test_utils import TestServer

from costreport.api.app import ApiSettings, create_app
from tests.api.conftest import TINY_DAY, TinySource
from tests.chart.test_chart import CHART, HELM, ROOT, needs_helm
from tests.ports import free_port

NGINX = ROOT / ".venv" / "nginx" / "usr" / "sbin" / "nginx"
needs_nginx = pytest.mark.skipif(
    not NGINX.exists(), reason="Debian's nginx not unpacked: run scripts/install-nginx.sh"
)


def site(listener: int, ui: int) -> str:
    out = subprocess.run(
        [HELM, "template", "cr", str(CHART), "--set", "opencostUI.enabled=true",
         "--set", f"api.portForward.port={listener}", "--set", f"opencostUI.port={ui}",
         "--show-only", "templates/configmap-opencost-ui.yaml"],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    conf: str = yaml.safe_load(out)["data"]["default.nginx.conf"]
    return conf


@pytest.fixture
async def listener() -> AsyncIterator[int]:
    """A port-forward listener (loopback only, no token) on the tiny cluster."""
    app = create_app(TinySource(), ApiSettings(), None, None, loopback_only=True)
    server = TestServer(app, host="127.0.0.1", port=free_port())
    await server.start_server()
    yield int(server.port or 0)
    await server.close()


def get(url: str) -> tuple[int, str, bytes]:
    with urllib.request.urlopen(url, timeout=30) as answer:
        return answer.status, answer.headers.get("Content-Type", ""), answer.read()


@needs_helm
@needs_nginx
async def test_the_site_serves_the_ui_and_proxies_model_to_the_listener(
    listener: int, tmp_path: Path
) -> None:
    ui = free_port()
    conf = site(listener, ui)
    www = tmp_path / "www"
    www.mkdir()
    (www / "index.html").write_text("<html>the OpenCost UI</html>")
    (tmp_path / "site.conf").write_text(conf.replace("root /var/www;", f"root {www};"))
    temp = {k: tmp_path / k for k in ("body", "proxy", "fastcgi", "uwsgi", "scgi")}
    # as root, nginx's workers would drop to `nobody`, who cannot read pytest's temporary dirs
    user = "user root;\n" if os.geteuid() == 0 else ""
    (tmp_path / "nginx.conf").write_text(
        f"{user}worker_processes 1;\ndaemon off;\npid {tmp_path}/nginx.pid;\n"
        f"error_log {tmp_path}/error.log;\nevents {{}}\nhttp {{\n  access_log off;\n"
        f"  client_body_temp_path {temp['body']};\n  proxy_temp_path {temp['proxy']};\n"
        f"  fastcgi_temp_path {temp['fastcgi']};\n  uwsgi_temp_path {temp['uwsgi']};\n"
        f"  scgi_temp_path {temp['scgi']};\n  include {tmp_path}/site.conf;\n}}\n"
    )
    nginx = subprocess.Popen(
        [str(NGINX), "-c", str(tmp_path / "nginx.conf"), "-p", str(tmp_path),
         "-e", str(tmp_path / "error.log")],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{ui}"
        for _ in range(100):
            try:
                await asyncio.to_thread(get, base + "/healthz")
                break
            except OSError:
                assert nginx.poll() is None, (tmp_path / "error.log").read_text()
                await asyncio.sleep(0.1)
        assert await asyncio.to_thread(get, base + "/healthz") == (200, "text/plain", b"OK")
        status, _, page = await asyncio.to_thread(get, base + "/")
        assert (status, page) == (200, b"<html>the OpenCost UI</html>")
        # a client-side route of the UI is its index too
        assert (await asyncio.to_thread(get, base + "/allocation"))[2] == page
        query = f"/allocation/compute?window={TINY_DAY}&aggregate=namespace&accumulate=true"
        status, ctype, through_ui = await asyncio.to_thread(get, base + "/model" + query)
        direct = await asyncio.to_thread(get, f"http://127.0.0.1:{listener}" + query)
        assert (status, ctype) == (200, direct[1]) == (200, "application/json")
        assert json.loads(through_ui) == json.loads(direct[2])
        assert sorted(json.loads(through_ui)["data"][0]) == ["__unmounted__", "a", "b", "c"]
    finally:
        nginx.terminate()
        nginx.wait(timeout=30)
