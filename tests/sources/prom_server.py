"""A real Prometheus for tests: backfill a simulated cluster's metrics, then serve them.

`backfill` runs `promtool tsdb create-blocks-from openmetrics` on what `SimCluster` writes;
`PrometheusServer` starts Debian's `prometheus` on a free loopback port over those blocks and
stops it afterwards.
"""

from __future__ import annotations

import math
import shutil
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np

from tests.ports import free_port
from tests.sources.prom_harness import SimCluster, write_families


def tools_available() -> str | None:
    """None when prometheus and promtool are on PATH, else the reason tests must skip."""
    missing = [tool for tool in ("prometheus", "promtool") if shutil.which(tool) is None]
    if missing:
        return (
            f"{' and '.join(missing)} not installed: run `make test` as root (it installs "
            "Debian's prometheus package) or install it yourself"
        )
    return None


def backfill(
    cluster: SimCluster,
    data_dir: Path,
    chunk_seconds: float = 7200.0,
    workers: int = 1,
    group: int = 1,
) -> int:
    """Write the metrics and turn them into TSDB blocks in `data_dir`, 2 h at a time.

    Each chunk is written, backfilled and deleted before the next, so disk and promtool's
    memory stay proportional to one chunk. For a long history, `group` chunks' series are
    made at once and `workers` promtools run while the next group is made (disk then holds
    at most two groups of files). Returns the number of samples.
    """
    first = math.floor(cluster.start / chunk_seconds) * chunk_seconds
    starts = [float(t) for t in np.arange(first, cluster.end + cluster.linger, chunk_seconds)]

    def promtool(path: Path) -> None:
        try:
            result = subprocess.run(
                [
                    *("promtool", "tsdb", "create-blocks-from", "openmetrics", "--quiet"),
                    *(str(path), str(data_dir)),
                ],
                capture_output=True,
                text=True,
            )
            if result.returncode:
                raise RuntimeError(f"promtool failed: {result.stderr[-2000:]}")
        finally:
            path.unlink()

    samples = 0
    pending: list[Future[None]] = []
    with tempfile.TemporaryDirectory() as scratch, ThreadPoolExecutor(max(1, workers)) as pool:
        for g in range(0, len(starts), group):
            batch = starts[g : g + group]
            families = cluster.families(batch[0], batch[-1] + chunk_seconds)
            for t in batch:
                path = Path(scratch) / f"metrics-{t:.0f}.om"
                with path.open("w") as out:
                    written = write_families(out, families, t, t + chunk_seconds)
                samples += written
                if not written:
                    path.unlink()
                elif workers <= 1:
                    promtool(path)
                else:
                    pending.append(pool.submit(promtool, path))
            del families
            while len(pending) > group:  # bound the files waiting on disk
                pending.pop(0).result()
        for future in pending:
            future.result()
    return samples


class PrometheusServer:
    """Debian's prometheus on a free loopback port over a data directory; no scraping."""

    def __init__(self, data_dir: Path, scrape: float) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = data_dir / "prometheus.yml"
        config.write_text("global:\n  scrape_interval: 1h\nscrape_configs: []\n")
        self.process = subprocess.Popen(
            [
                "prometheus",
                f"--config.file={config}",
                f"--storage.tsdb.path={data_dir}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--storage.tsdb.retention.time=100y",
                # Backfilled data has no staleness markers: a short lookback ends dead series.
                f"--query.lookback-delta={int(scrape * 1.5)}s",
                "--query.max-samples=200000000",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self._wait_ready()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"prometheus exited with {self.process.returncode}")
            try:
                with urllib.request.urlopen(self.url + "/-/ready", timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("prometheus did not become ready")

    def stop(self) -> None:
        """Terminate and wait."""
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()


def running_prometheus(
    cluster: SimCluster, workers: int = 1, group: int = 1
) -> Iterator[PrometheusServer]:
    """Backfill `cluster` into a temp dir and serve it (a generator for fixtures)."""
    with tempfile.TemporaryDirectory() as data:
        backfill(cluster, Path(data), workers=workers, group=group)
        server = PrometheusServer(Path(data), cluster.scrape)
        try:
            yield server
        finally:
            server.stop()
