"""The Helm chart: lints, renders valid manifests, is hardened, and Argo CD health works."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "costreport"
HELM = shutil.which("helm") or str(ROOT / ".venv" / "bin" / "helm")
needs_helm = pytest.mark.skipif(
    not Path(HELM).exists(), reason="helm not found: run scripts/install-helm.sh (make test does)"
)
K8S_VERSION = "1.35.0"


def render(*args: str) -> list[dict[str, Any]]:
    out = subprocess.run(
        [HELM, "template", "cr", str(CHART), "--namespace", "costreport", *args],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return [d for d in yaml.safe_load_all(out) if d]


@needs_helm
def test_helm_lint_default_and_full_values() -> None:
    for args in ([], ["-f", str(ROOT / "tests" / "chart" / "full-values.yaml")]):
        result = subprocess.run([HELM, "lint", str(CHART), *args], capture_output=True, text=True)
        assert result.returncode == 0, result.stdout + result.stderr


@needs_helm
@pytest.mark.parametrize("values", [None, "full-values.yaml"])
def test_every_rendered_manifest_is_valid_kubernetes(values: str | None) -> None:
    args = ["-f", str(ROOT / "tests" / "chart" / values)] if values else []
    docs = render(*args)
    kinds = sorted(d["kind"] for d in docs)
    expected = [
        "ClusterRole",
        "ClusterRole",
        "ClusterRole",
        "ClusterRoleBinding",
        "ConfigMap",
        "Deployment",
        "PersistentVolumeClaim",  # the ledger
        "Service",
        "ServiceAccount",
    ]
    if values:
        expected = sorted([*expected, "NetworkPolicy", "ServiceMonitor", "ConfigMap"])  # the UI's
    assert kinds == sorted(expected)
    for doc in docs:
        if doc["kind"] == "ServiceMonitor":
            continue  # a CRD of the Prometheus Operator: not in the Kubernetes schemas
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


def containers() -> dict[str, dict[str, Any]]:
    [deployment] = [d for d in render() if d["kind"] == "Deployment"]
    pod = deployment["spec"]["template"]["spec"]
    return {c["name"]: {**c, "pod": pod} for c in pod["containers"]}


@needs_helm
def test_hardening() -> None:
    parts = containers()
    assert set(parts) == {"operator", "api"}
    for container in parts.values():
        sc = container["securityContext"]
        assert sc["readOnlyRootFilesystem"] is True and sc["allowPrivilegeEscalation"] is False
        assert sc["capabilities"]["drop"] == ["ALL"] and sc["runAsNonRoot"] is True
        assert container["pod"]["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
        assert container["pod"]["securityContext"]["runAsUser"] == 10001
        assert container["resources"]["limits"]["memory"]
    assert "--auth=kubernetes" in parts["api"]["args"]
    assert parts["api"]["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert parts["operator"]["args"][0] == "operator"


@needs_helm
def test_rbac_is_least_privilege() -> None:
    roles = {d["metadata"]["name"]: d for d in render() if d["kind"] == "ClusterRole"}
    for role in roles.values():
        for rule in role["rules"]:
            assert "secrets" not in rule["resources"]
            assert "*" not in rule["verbs"] and "*" not in rule["resources"]
    view = roles["cr-costreport-view"]
    assert view["metadata"]["labels"]["rbac.authorization.k8s.io/aggregate-to-view"] == "true"
    assert {v for r in view["rules"] for v in r["verbs"]} <= {"get", "list", "watch"}
    assert "clustercostreports" not in {x for r in view["rules"] for x in r["resources"]}


@needs_helm
def test_auth_none_needs_an_explicit_insecure_flag() -> None:
    result = subprocess.run(
        [HELM, "template", "cr", str(CHART), "--set", "api.auth=none"],
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0
    assert "api.insecureAllowUnauthenticated=true" in result.stderr
    docs = render("--set", "api.auth=none", "--set", "api.insecureAllowUnauthenticated=true")
    [deployment] = [d for d in docs if d["kind"] == "Deployment"]
    api = next(
        c for c in deployment["spec"]["template"]["spec"]["containers"] if c["name"] == "api"
    )
    assert "--insecure-allow-unauthenticated" in api["args"]


@needs_helm
def test_pricing_config_map_is_opencost_default_json() -> None:
    import json

    [cm] = [d for d in render("--set", "pricing.CPU=0.05") if d["kind"] == "ConfigMap"]
    pricing = json.loads(cm["data"]["default.json"])
    assert pricing["CPU"] == "0.05" and pricing["RAM"] == "0.004237"


def health(obj: dict[str, Any]) -> dict[str, str]:
    lupa = pytest.importorskip("lupa")
    lua = lupa.LuaRuntime(unpack_returned_tuples=True)
    script = (CHART / "argocd" / "health.lua").read_text()
    run = lua.eval(f"function(obj) {script} end")
    result = run(lua.table_from(obj, recursive=True))
    return {"status": result["status"], "message": result["message"]}


def report(
    generation: int, observed: int | None, conditions: list[dict[str, str]]
) -> dict[str, Any]:
    obj: dict[str, Any] = {"metadata": {"generation": generation}}
    if observed is not None:
        obj["status"] = {"observedGeneration": observed, "conditions": conditions}
    return obj


def test_argocd_health() -> None:
    ready = {"type": "Ready", "status": "True", "reason": "Computed", "message": "12 rows"}
    invalid = {"type": "Ready", "status": "False", "reason": "InvalidSpec", "message": "bad"}
    down = {"type": "Ready", "status": "False", "reason": "PrometheusUnavailable", "message": "x"}
    assert health(report(1, 1, [ready])) == {"status": "Healthy", "message": "12 rows"}
    assert health(report(1, 1, [invalid]))["status"] == "Degraded"
    assert health(report(1, 1, [down]))["status"] == "Progressing"
    assert health(report(1, None, []))["status"] == "Progressing"
    assert health(report(2, 1, [ready]))["status"] == "Progressing"


@needs_helm
def test_peering_for_more_than_one_replica() -> None:
    result = subprocess.run(
        [HELM, "template", "cr", str(CHART), "--set", "operator.replicas=2"],
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0 and "operator.peering.enabled=true" in result.stderr
    docs = render("--set", "operator.replicas=2", "--set", "operator.peering.enabled=true")
    kinds = {d["kind"] for d in docs}
    # Helm maps every object of a release before creating any: a CRD in templates/ beside an
    # object of its kind fails `helm install` ("ensure CRDs are installed first"), so the
    # peering CRD is in crds/, which Helm installs first.
    assert "ClusterKopfPeering" in kinds and "CustomResourceDefinition" not in kinds
    with_crds = render(
        "--include-crds", "--set", "operator.replicas=2", "--set", "operator.peering.enabled=true"
    )
    crds = {d["metadata"]["name"]: d for d in with_crds if d["kind"] == "CustomResourceDefinition"}
    assert "clusterkopfpeerings.kopf.dev" in crds
    [deployment] = [d for d in docs if d["kind"] == "Deployment"]
    assert deployment["spec"]["replicas"] == 2
    operator = deployment["spec"]["template"]["spec"]["containers"][0]
    assert "--peering=cr-costreport" in operator["args"]
    role = next(
        d for d in docs if d["kind"] == "ClusterRole" and d["metadata"]["name"] == "cr-costreport"
    )
    assert {
        "apiGroups": ["kopf.dev"],
        "resources": ["clusterkopfpeerings", "kopfpeerings"],
        "verbs": ["get", "list", "watch", "patch"],
    } in role["rules"]
    kubernetes_validate.validate(crds["clusterkopfpeerings.kopf.dev"], K8S_VERSION, strict=True)


@needs_helm
def test_notes_print_a_usable_report_and_no_placeholder() -> None:
    out = subprocess.run(
        [HELM, "install", "cr", str(CHART), "--dry-run", "--namespace", "costreport"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    notes = out[out.index("NOTES:") :]
    assert "…" not in notes and "https://" not in notes
    start = notes.index("apiVersion:")
    manifest = yaml.safe_load(notes[start : notes.index("  YAML", start)].replace("\n  ", "\n"))
    assert manifest["kind"] == "CostReport" and manifest["spec"]["window"] == "lastweek"
    # The `--kube` line is a valid plugin invocation aimed at this release's namespace.
    from costreport.cli.plugin import build_plugin_parser

    [line] = [x.strip() for x in notes.splitlines() if "--kube" in x]
    parsed = build_plugin_parser().parse_args(line.split()[2:])
    assert (parsed.verb, parsed.kube, parsed.kube_namespace) == ("namespace", True, "costreport")
    # kubectl-cost's line: it picks a ready pod of the Service named and port-forwards to that
    # pod's port numbered --service-port, so that must be the pod's port-forward listener.
    [cost] = [
        x.strip().split() for x in notes.splitlines() if x.strip().startswith("kubectl cost ")
    ]
    flags = dict(zip(cost[3::2], cost[4::2], strict=False))
    objects = [d for d in yaml.safe_load_all(out[: out.index("NOTES:")].split("MANIFEST:")[1]) if d]
    [svc] = [o for o in objects if o["kind"] == "Service"]
    [deploy] = [o for o in objects if o["kind"] == "Deployment"]
    assert (flags["-N"], flags["--service-name"]) == ("costreport", svc["metadata"]["name"])
    labels = deploy["spec"]["template"]["metadata"]["labels"]
    assert svc["spec"]["selector"].items() <= labels.items()
    args = [a for c in deploy["spec"]["template"]["spec"]["containers"] for a in c.get("args", [])]
    assert f"--loopback-port={flags['--service-port']}" in args


def test_the_images_default_command_starts() -> None:
    import json
    import sys
    import time
    import urllib.request

    from tests.ports import free_port

    line = next(x for x in (ROOT / "Dockerfile").read_text().splitlines() if x.startswith("CMD "))
    argv = json.loads(line.removeprefix("CMD "))
    port = free_port()
    argv[argv.index("--port") + 1] = str(port)
    process = subprocess.Popen([str(Path(sys.executable).parent / "costreport"), *argv])
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, "the image's default command exited"
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as r:
                    assert r.read() == b"ok"
                    break
            except OSError:
                assert time.monotonic() < deadline
                time.sleep(0.3)
    finally:
        process.terminate()
        process.wait(timeout=30)


@needs_helm
def test_the_ledger_is_a_kept_volume_by_default_and_a_bucket_optionally() -> None:
    docs = render()
    [claim] = [d for d in docs if d["kind"] == "PersistentVolumeClaim"]
    assert claim["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    [deployment] = [d for d in docs if d["kind"] == "Deployment"]
    for container in deployment["spec"]["template"]["spec"]["containers"]:
        assert "--ledger=/var/lib/costreport/ledger" in container["args"]
        mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
        assert mounts["ledger"] == "/var/lib/costreport/ledger"
    operator = deployment["spec"]["template"]["spec"]["containers"][0]
    assert "--ledger-backfill-days=30" in operator["args"]
    assert "--no-lifecycle-records" not in operator["args"]  # the pod watch is on by default
    [role] = [
        d for d in docs if d["kind"] == "ClusterRole" and "aggregate" not in str(d["metadata"])
    ]
    pods = [r for r in role["rules"] if "pods" in r["resources"]]
    assert pods and {"list", "watch"} <= set(pods[0]["verbs"])
    off = render("--set", "ledger.lifecycleRecords=false")
    [deployment_off] = [d for d in off if d["kind"] == "Deployment"]
    assert (
        "--no-lifecycle-records"
        in deployment_off["spec"]["template"]["spec"]["containers"][0]["args"]
    )
    bucket = render(
        "--set", "ledger.url=s3://costs/fleet", "--set", "ledger.credentialsSecret=ledger-creds"
    )
    assert not [d for d in bucket if d["kind"] == "PersistentVolumeClaim"]
    [deployment] = [d for d in bucket if d["kind"] == "Deployment"]
    for container in deployment["spec"]["template"]["spec"]["containers"]:
        assert "--ledger=s3://costs/fleet" in container["args"]
        assert container["envFrom"] == [{"secretRef": {"name": "ledger-creds"}}]
    peered = render("--set", "operator.peering.enabled=true", "--set", "operator.replicas=2")
    [lease] = [d for d in peered if d["kind"] == "Role" and d["metadata"]["name"].endswith("lease")]
    assert lease["rules"] == [
        {
            "apiGroups": ["coordination.k8s.io"],
            "resources": ["leases"],
            "verbs": ["get", "create", "update"],
        }
    ]
    off = render("--set", "ledger.enabled=false")
    assert not [d for d in off if d["kind"] == "PersistentVolumeClaim"]


@needs_helm
def test_budget_alerts_and_the_dashboard_are_opt_in() -> None:
    default = render()
    assert not [d for d in default if d["kind"] == "PrometheusRule"]
    assert not [d for d in default if d["metadata"]["name"].endswith("-dashboard")]
    docs = render(
        "--set", "budgets.prometheusRule.enabled=true", "--set", "grafanaDashboard.enabled=true"
    )
    [rule] = [d for d in docs if d["kind"] == "PrometheusRule"]
    alerts = {r["alert"]: r for r in rule["spec"]["groups"][0]["rules"]}
    spent80 = alerts["CostBudgetSpent80Percent"]["expr"]
    assert spent80 == "costreport_budget_spent / costreport_budget_amount >= 0.8"
    assert alerts["CostBudgetSpent100Percent"]["labels"]["severity"] == "critical"
    assert "CostBudgetForecastOver" in alerts
    [board] = [d for d in docs if d["metadata"]["name"].endswith("-dashboard")]
    assert board["metadata"]["labels"]["grafana_dashboard"] == "1"
    dashboard = json.loads(board["data"]["costreport.json"])
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    assert any("costreport_budget_spent" in e for e in exprs)
    assert any("namespace_cost_total" in e for e in exprs)


@needs_helm
def test_the_port_forward_listener_is_on_and_the_opencost_ui_is_opt_in() -> None:
    [deployment] = [d for d in render() if d["kind"] == "Deployment"]
    containers = {c["name"]: c for c in deployment["spec"]["template"]["spec"]["containers"]}
    assert "--loopback-port=9004" in containers["api"]["args"]
    assert "opencost-ui" not in containers
    # The listener is not a Service port: only a port-forward reaches it.
    [service] = [d for d in render() if d["kind"] == "Service"]
    assert [p["port"] for p in service["spec"]["ports"]] == [9003]
    docs = render("--set", "opencostUI.enabled=true")
    [ui] = [d for d in docs if d["kind"] == "Deployment"]
    with_ui = {c["name"]: c for c in ui["spec"]["template"]["spec"]["containers"]}
    # The UI (1.120+) calls /model/ on its own origin: its nginx site, from a ConfigMap in
    # place of the image's template, proxies that to the listener and listens on loopback only.
    assert "env" not in with_ui["opencost-ui"]
    assert with_ui["opencost-ui"]["volumeMounts"] == [{
        "name": "opencost-ui-site", "mountPath": "/etc/nginx/conf.d/default.nginx.conf",
        "subPath": "default.nginx.conf", "readOnly": True}]  # fmt: skip
    [site] = [d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"].endswith("-ui")]
    volumes = {v["name"]: v for v in ui["spec"]["template"]["spec"]["volumes"]}
    assert volumes["opencost-ui-site"]["configMap"]["name"] == site["metadata"]["name"]
    conf = site["data"]["default.nginx.conf"]
    assert "server 127.0.0.1:9004;" in conf and "proxy_pass http://costreport/;" in conf
    assert [line.strip() for line in conf.splitlines() if "listen" in line] == [
        "listen 127.0.0.1:9090;"
    ]
    # the image's own user, which owns the files its entrypoint edits at start
    context = with_ui["opencost-ui"]["securityContext"]
    assert (context["runAsUser"], context["runAsGroup"]) == (1001, 1000)
    assert context["capabilities"] == {"drop": ["ALL"]}
    assert context["allowPrivilegeEscalation"] is False
    # The UI container comes after the api container's own settings, never takes them.
    assert with_ui["api"]["volumeMounts"] == containers["api"]["volumeMounts"]
    assert with_ui["api"]["securityContext"] == containers["api"]["securityContext"]
    refused = subprocess.run(
        [HELM, "template", "cr", str(CHART), "--set", "opencostUI.enabled=true",
         "--set", "api.portForward.enabled=false"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert refused.returncode != 0
    assert "opencostUI.enabled needs api.portForward.enabled" in refused.stderr


@needs_helm
def test_no_template_renders_a_crd() -> None:
    """CRDs live in crds/ only: one in templates/ beside an object of its kind fails install."""
    full = render(
        "-f", str(ROOT / "tests" / "chart" / "full-values.yaml"),
        "--set", "operator.peering.enabled=true", "--set", "operator.replicas=2",
    )  # fmt: skip
    assert full and not [d for d in full if d["kind"] == "CustomResourceDefinition"]
