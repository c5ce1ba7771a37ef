"""Lifecycle records on a real API server: Pods are created and their `status` patched as a
kubelet would (no kubelet runs), the recorder's list+watch records each container's exact
interval, a restarted recorder keeps the start, and the ledger's hour file holds the intervals
the Prometheus source then costs (tests/sources/test_prometheus_records.py costs them)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from costreport.controller.lifecycle import PodRecorder
from costreport.model.lifecycle import ContainerLife
from costreport.sources.kubernetes import KubeClient
from costreport.sources.ledger import LedgerStore
from costreport.sources.ledger.lifecycle import LifecycleFiles
from costreport.sources.lifecycle import LifecycleBook
from e2e.conftest import apply, namespace_for_pods, wait_for

NAMESPACE = "costreport-e2e-lives"


def stamp(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def pod(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": NAMESPACE, "labels": {"team": "lives"}},
        "spec": {
            "containers": [
                {
                    "name": "main",
                    "image": "registry.invalid/none:1",
                    "resources": {"requests": {"cpu": "250m", "memory": "64Mi"}},
                }
            ]
        },
    }


def status(state: dict[str, Any], phase: str) -> dict[str, Any]:
    return {
        "status": {
            "phase": phase,
            "containerStatuses": [
                {
                    "name": "main",
                    "image": "registry.invalid/none:1",
                    "imageID": "",
                    "ready": "running" in state,
                    "restartCount": 0,
                    "state": state,
                }
            ],
        }
    }


async def patch_status(kube: KubeClient, name: str, body: dict[str, Any]) -> None:
    path = f"/api/v1/namespaces/{NAMESPACE}/pods/{name}/status"
    await kube.request("PATCH", path, body, "application/merge-patch+json")


def life_of(book: LifecycleBook, name: str) -> ContainerLife | None:
    found = [life for life in book.snapshot(0, 4e9) if life.pod == name]
    return found[0] if found else None


async def test_recorded_intervals_from_patched_pod_status(kube: KubeClient, tmp_path: Path) -> None:
    await namespace_for_pods(kube, NAMESPACE)
    book = LifecycleBook("e2e")
    recorder = PodRecorder(kube, book)
    task = asyncio.create_task(recorder.run_forever(backoff_seconds=1.0))
    began = float(int(time.time())) - 120
    try:
        for name in ("short-job", "long-run"):
            await apply(kube, pod(name))
        await patch_status(
            kube, "short-job", status({"running": {"startedAt": stamp(began)}}, "Running")
        )
        await patch_status(
            kube, "long-run", status({"running": {"startedAt": stamp(began + 5)}}, "Running")
        )
        await patch_status(
            kube,
            "short-job",
            status(
                {"terminated": {"startedAt": stamp(began), "finishedAt": stamp(began + 30),
                                "exitCode": 0, "reason": "Completed"}},
                "Succeeded",
            ),
        )  # fmt: skip

        async def short_done() -> ContainerLife | None:
            life = life_of(book, "short-job")
            return life if life is not None and life.end == life.end else None  # end not nan

        short = await wait_for(short_done, timeout=60, every=0.5)
        assert (short.start, short.end) == (began, began + 30)
        assert (short.cpu_request, short.ram_request) == (0.25, 64 * 2**20)
        assert short.labels == {"team": "lives"} and short.namespace == NAMESPACE

        # The recorder restarts in the middle of long-run's life: a new book relists.
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        restarted = LifecycleBook("e2e")
        recorder = PodRecorder(kube, restarted)
        task = asyncio.create_task(recorder.run_forever(backoff_seconds=1.0))

        async def relisted() -> ContainerLife | None:
            return life_of(restarted, "long-run")

        long_run = await wait_for(relisted, timeout=60, every=0.5)
        assert long_run.start == began + 5 and long_run.end != long_run.end  # still running
        await kube.request(
            "DELETE", f"/api/v1/namespaces/{NAMESPACE}/pods/long-run?gracePeriodSeconds=0"
        )

        async def deleted() -> ContainerLife | None:
            life = life_of(restarted, "long-run")
            return life if life is not None and life.end == life.end else None

        ended = await wait_for(deleted, timeout=60, every=0.5)
        assert ended.start == began + 5 and began + 5 < ended.end <= time.time() + 1

        # Into the ledger: the hour files hold exactly these intervals.
        files = LifecycleFiles(LedgerStore(str(tmp_path)), ["e2e"])
        hour = began - began % 3600
        for h in range(int(hour), int(time.time()) + 1, 3600):
            files.write_hour(
                "e2e", h, [*book.snapshot(h, h + 3600), *restarted.snapshot(h, h + 3600)]
            )
        stored = {life.pod: life for life in files.read(began - 1, time.time() + 1)}
        assert (stored["short-job"].start, stored["short-job"].end) == (began, began + 30)
        assert stored["long-run"].start == began + 5 and stored["long-run"].end == ended.end
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await kube.request("DELETE", f"/api/v1/namespaces/{NAMESPACE}", ok_missing=True)
