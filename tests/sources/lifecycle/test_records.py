"""Pod objects → container lives: times, requests, owners, labels, bounds."""

from __future__ import annotations

import math

from costreport.sources.lifecycle.records import (
    MAX_CONTAINERS,
    lives_of_pod,
    parse_quantity,
    parse_time,
)
from tests.sources.lifecycle.pods import T0, finished, pod, running, stamp


def test_quantities() -> None:
    assert parse_quantity("250m") == 0.25
    assert parse_quantity("2") == 2.0
    assert parse_quantity("512Mi") == 512 * 2**20
    assert parse_quantity("1G") == 1e9
    assert parse_quantity("1e3") == 1000.0
    assert parse_quantity(3) == 3.0
    for bad in ("", "12x", "-1", "1" * 80, None, "1.2.3"):
        assert parse_quantity(bad) == 0.0


def test_times() -> None:
    assert parse_time(stamp(T0)) == T0
    assert parse_time("2026-03-02T10:00:00.5+00:00") == T0 + 0.5
    assert math.isnan(parse_time("yesterday"))
    assert math.isnan(parse_time(None))


def test_a_finished_job_container_has_its_exact_interval_and_requests() -> None:
    obj = pod(
        "job-1",
        containers={"main": finished(T0 + 7, T0 + 37)},
        requests={"main": {"cpu": "500m", "memory": "256Mi"}},
        owner=("Job", "nightly-29011440"),
        labels={"app.kubernetes.io/name": "nightly"},
    )
    [life] = lives_of_pod(obj, cluster="c1", observed=T0 + 60)
    assert (life.cluster, life.namespace, life.pod, life.uid, life.container) == (
        "c1",
        "batch",
        "job-1",
        "uid-job-1",
        "main",
    )
    assert (life.start, life.end, life.observed) == (T0 + 7, T0 + 37, T0 + 60)
    assert (life.cpu_request, life.ram_request, life.gpu_request) == (0.5, 256 * 2**20, 0.0)
    assert (life.controller_kind, life.controller_name) == ("Job", "nightly-29011440")
    assert life.labels == {"app_kubernetes_io_name": "nightly"}
    assert life.node == "node-a"


def test_running_waiting_restarted_and_deleted_containers() -> None:
    obj = pod(
        "web-5d8f7-abcde",
        containers={
            "app": {
                "state": {"running": {"startedAt": stamp(T0 + 100)}},
                "lastState": {
                    "terminated": {"startedAt": stamp(T0 + 10), "finishedAt": stamp(T0 + 90)}
                },
            },
            "sidecar": {"state": {"waiting": {"reason": "ImagePullBackOff"}}},
        },
        labels={"pod-template-hash": "5d8f7"},
        owner=("ReplicaSet", "web-5d8f7"),
    )
    [app] = lives_of_pod(obj, cluster="c1", observed=T0 + 200)
    # A restarted container's life starts at its first start; the waiting one never started.
    assert (app.container, app.start, math.isnan(app.end)) == ("app", T0 + 10, True)
    # A ReplicaSet named <deployment>-<pod-template-hash> is the Deployment's.
    assert (app.controller_kind, app.controller_name) == ("Deployment", "web")
    [gone] = lives_of_pod(obj, cluster="c1", observed=T0 + 300, deleted=True)
    assert gone.end == T0 + 300
    # Deleted with a deletion timestamp before the event: it ended then.
    early = pod("p", containers={"main": running(T0)}, deletion=T0 + 30)
    [life] = lives_of_pod(early, cluster="c1", observed=T0 + 45, deleted=True)
    assert life.end == T0 + 30


def test_bounds_and_garbage() -> None:
    many = pod("big", containers={f"c{i}": running(T0) for i in range(MAX_CONTAINERS + 10)})
    assert len(lives_of_pod(many, cluster="c", observed=T0 + 1)) == MAX_CONTAINERS
    assert lives_of_pod({"metadata": "nope"}, cluster="c", observed=T0) == []
    assert lives_of_pod({}, cluster="c", observed=T0) == []
    broken = pod("x", containers={"main": running(T0)})
    broken["status"]["containerStatuses"][0]["state"]["running"]["startedAt"] = 12
    assert lives_of_pod(broken, cluster="c", observed=T0) == []
    long_value = pod("y", containers={"main": running(T0)}, labels={"k": "v" * 5000})
    [life] = lives_of_pod(long_value, cluster="c", observed=T0 + 1)
    assert len(life.labels["k"]) == 1024


def test_the_label_policy_cleans_before_anything_is_kept() -> None:
    obj = pod("p", containers={"main": running(T0)}, labels={"team": "a", "secret": "s"})
    [life] = lives_of_pod(
        obj,
        cluster="c",
        observed=T0 + 1,
        clean=lambda m: {k: v for k, v in m.items() if k == "team"},
    )
    assert life.labels == {"team": "a"}
