"""A development harness for e2e/ on a machine without Kubernetes (see README.md here).

The real apiextensions-apiserver serves the CRDs; the core groups the e2e suite touches are
emulated as CRDs in look-alike groups (paths and apiVersions rewritten), TokenRequest,
TokenReview and SubjectAccessReview are answered from emulated RBAC, and ownerReference
garbage collection, namespace deletion and each namespace's default ServiceAccount (the
controller-manager's work) are imitated."""

from __future__ import annotations

import asyncio
import json
import os
import re
import ssl
import sys
from typing import Any

import aiohttp.helpers
import aiohttp.http_parser
import kubelet
import yaml
from aiohttp import ClientSession, ClientTimeout, TCPConnector, web

UP = os.environ.get("HARNESS_UPSTREAM", "https://127.0.0.1:26443")
CERT = (os.environ.get("HARNESS_CERT", "admin.crt"), os.environ.get("HARNESS_KEY", "admin.key"))
PORT = int(os.environ.get("HARNESS_PORT", "27443"))
EMU = {
    "": "core.e2e.local",
    "coordination.k8s.io": "coordination.e2e.local",
    "rbac.authorization.k8s.io": "rbac.e2e.local",
    "events.k8s.io": "events.e2e.local",
}
REV = {v: k for k, v in EMU.items()}
if not aiohttp.helpers.NO_EXTENSIONS:  # only aiohttp's Python parser can be told of SPDY
    sys.exit("core_proxy.py needs AIOHTTP_NO_EXTENSIONS=1 (start.sh sets it)")
aiohttp.http_parser._is_supported_upgrade = lambda headers: (
    str(headers.get("Upgrade", "")).lower() in {"websocket", "spdy/3.1"}
)
KINDS = {  # group: [(plural, kind, namespaced, status)]
    "": [
        ("nsobjects", "Namespace", False, True),
        ("configmaps", "ConfigMap", True, False),
        ("secrets", "Secret", True, False),
        ("serviceaccounts", "ServiceAccount", True, False),
        ("events", "Event", True, False),
        ("pods", "Pod", True, True),
        ("services", "Service", True, True),
        ("nodes", "Node", False, True),
        ("persistentvolumeclaims", "PersistentVolumeClaim", True, True),
    ],
    "coordination.k8s.io": [("leases", "Lease", True, False)],
    "rbac.authorization.k8s.io": [
        ("roles", "Role", True, False),
        ("rolebindings", "RoleBinding", True, False),
        ("clusterroles", "ClusterRole", False, False),
        ("clusterrolebindings", "ClusterRoleBinding", False, False),
    ],
    "events.k8s.io": [("events", "Event", True, False)],
}


def real_version(v: str) -> str:
    if "/" not in v:
        return v
    g, ver = v.split("/", 1)
    if g in REV:
        return ver if REV[g] == "" else f"{REV[g]}/{ver}"
    return v


def emu_version(v: str) -> str:
    if "/" not in v:
        return f"{EMU['']}/{v}" if v == "v1" else v
    g, ver = v.split("/", 1)
    return f"{EMU[g]}/{ver}" if g in EMU else v


def rewrite(obj: Any, fn: Any) -> Any:
    if isinstance(obj, dict):
        out = {}
        for k, v in obj.items():
            if k == "apiVersion" and isinstance(v, str):
                out[k] = fn(v)
            else:
                out[k] = rewrite(v, fn)
        return out
    if isinstance(obj, list):
        return [rewrite(v, fn) for v in obj]
    return obj


def status_response(code: int, reason: str, message: str) -> web.Response:
    """A failure as kube-apiserver writes it (a `Status` object)."""
    body = {"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": reason,
            "code": code, "message": message}  # fmt: skip
    return web.json_response(body, status=code)


def upstream_path(path: str) -> str | None:
    m = re.match(r"^/api/v1/namespaces(/[^/]+)?(/status|/finalize)?$", path)
    if m:
        return "/apis/" + EMU[""] + "/v1/nsobjects" + (m.group(1) or "") + (m.group(2) or "")
    if path.startswith("/api/v1/") or path == "/api/v1":
        return "/apis/" + EMU[""] + "/v1" + path[len("/api/v1") :]
    m = re.match(r"^/apis/([^/]+)(/.*)?$", path)
    if m and m.group(1) in EMU:
        return "/apis/" + EMU[m.group(1)] + (m.group(2) or "")
    return None


def crds() -> list[dict[str, Any]]:
    out = []
    for group, kinds in KINDS.items():
        for plural, kind, namespaced, status in kinds:
            version: dict[str, Any] = {
                "name": "v1",
                "served": True,
                "storage": True,
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "x-kubernetes-preserve-unknown-fields": True,
                    }
                },
            }
            if status:
                version["subresources"] = {"status": {}}
            out.append(
                {
                    "apiVersion": "apiextensions.k8s.io/v1",
                    "kind": "CustomResourceDefinition",
                    "metadata": {"name": f"{plural}.{EMU[group]}"},
                    "spec": {
                        "group": EMU[group],
                        "scope": "Namespaced" if namespaced else "Cluster",
                        "names": {
                            "plural": plural,
                            "kind": kind,
                            "singular": kind.lower(),
                            "listKind": kind + "List",
                        },
                        "versions": [version],
                    },
                }
            )
    return out


class Proxy:
    def __init__(self) -> None:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        ctx.load_cert_chain(*CERT)
        self.ctx = ctx
        self.session: ClientSession | None = None
        self.spdy_dictionary = kubelet.spdy_dictionary()

    async def up(
        self, method: str, path: str, body: Any = None, ctype: str = "application/json"
    ) -> Any:
        assert self.session
        data = None if body is None else json.dumps(body)
        async with self.session.request(
            method,
            UP + path,
            data=data,
            headers={"Content-Type": ctype, "Accept": "application/json"},
        ) as r:
            text = await r.text()
            return r.status, (json.loads(text) if text.startswith("{") else text)

    async def start(self) -> None:
        self.session = ClientSession(
            connector=TCPConnector(ssl=self.ctx), timeout=ClientTimeout(total=None)
        )
        for crd in crds():
            await self.up(
                "PATCH",
                f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{crd['metadata']['name']}?fieldManager=e2e&force=true",
                crd,
                "application/apply-patch+yaml",
            )
        view = {
            "apiVersion": f"{EMU['rbac.authorization.k8s.io']}/v1",
            "kind": "ClusterRole",
            "metadata": {"name": "view"},
            "aggregationRule": {
                "clusterRoleSelectors": [
                    {"matchLabels": {"rbac.authorization.k8s.io/aggregate-to-view": "true"}}
                ]
            },
            "rules": [],
        }
        for _ in range(100):
            st, _ = await self.up(
                "PATCH",
                f"/apis/{EMU['rbac.authorization.k8s.io']}/v1/clusterroles/view?fieldManager=bootstrap&force=true",
                view,
                "application/apply-patch+yaml",
            )
            if st < 300:
                break
            await asyncio.sleep(0.2)
        for _ in range(100):
            s, got = await self.up("GET", "/apis/" + EMU[""] + "/v1")
            if s == 200 and len(got.get("resources", [])) >= len(KINDS[""]):
                break
            await asyncio.sleep(0.2)

    # ---------------- RBAC emulation ----------------
    async def items(self, group: str, plural: str, ns: str | None = None) -> list[dict[str, Any]]:
        base = "/apis/" + EMU[group] + "/v1"
        path = f"{base}/namespaces/{ns}/{plural}" if ns else f"{base}/{plural}"
        s, got = await self.up("GET", path)
        return got.get("items", []) if s == 200 else []

    async def rules_of(self, kind: str, name: str, ns: str) -> list[dict[str, Any]]:
        if kind == "ClusterRole":
            roles = await self.items("rbac.authorization.k8s.io", "clusterroles")
            byname = {r["metadata"]["name"]: r for r in roles}
            role = byname.get(name)
            if not role:
                return []
            rules = list(role.get("rules") or [])
            for sel in (role.get("aggregationRule") or {}).get("clusterRoleSelectors") or []:
                want = sel.get("matchLabels") or {}
                for other in roles:
                    labels = other["metadata"].get("labels") or {}
                    if all(labels.get(k) == v for k, v in want.items()):
                        rules += other.get("rules") or []
            return rules
        s, role = await self.up(
            "GET", f"/apis/{EMU['rbac.authorization.k8s.io']}/v1/namespaces/{ns}/roles/{name}"
        )
        return list(role.get("rules") or []) if s == 200 else []

    async def allowed(self, user: str, groups: list[str], attrs: dict[str, Any]) -> bool:
        if "system:masters" in groups:
            return True
        ns = attrs.get("namespace", "")
        bindings = [
            (b, "") for b in await self.items("rbac.authorization.k8s.io", "clusterrolebindings")
        ]
        if ns:
            bindings += [
                (b, ns) for b in await self.items("rbac.authorization.k8s.io", "rolebindings", ns)
            ]
        for b, bns in bindings:
            if not any(self.subject_matches(s, user, groups) for s in b.get("subjects") or []):
                continue
            ref = b["roleRef"]
            for rule in await self.rules_of(ref["kind"], ref["name"], bns):
                if self.rule_matches(rule, attrs):
                    return True
        return False

    @staticmethod
    def subject_matches(s: dict[str, Any], user: str, groups: list[str]) -> bool:
        if s["kind"] == "ServiceAccount":
            return user == f"system:serviceaccount:{s.get('namespace')}:{s['name']}"
        if s["kind"] == "User":
            return user == s["name"]
        return s["name"] in groups

    @staticmethod
    def rule_matches(rule: dict[str, Any], a: dict[str, Any]) -> bool:
        def has(field: str, value: str) -> bool:
            got = rule.get(field) or []
            return "*" in got or value in got

        if "nonResourceURLs" in rule:
            return False
        resource = a.get("resource", "")
        if a.get("subresource"):
            resource += "/" + a["subresource"]
        return (
            has("verbs", a.get("verb", ""))
            and has("apiGroups", a.get("group", ""))
            and has("resources", resource)
        )

    # ---------------- handlers ----------------
    async def handle(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        if path == "/version/":  # kube-apiserver answers it (kr8s asks so); this one does not
            path = "/version"
        query = request.query_string
        body_bytes = await request.read()
        auth = request.headers.get("Authorization", "")
        if auth.startswith("Bearer "):
            who = self.token_user(auth[7:])
            if who is None:
                return status_response(401, "Unauthorized", "Unauthorized")
            user, groups = who
            if not await self.check(user, groups, request.method, path, request.query):
                message = f'forbidden: User "{user}" cannot {request.method} {path}'
                return status_response(403, "Forbidden", message)
        forward = re.match(r"^/api/v1/namespaces/([^/]+)/pods/([^/]+)/portforward$", path)
        if forward:  # the kubelet's part: this host's ports are every pod's ports
            status, found = await self.up(
                "GET", f"/apis/{EMU['']}/v1/namespaces/{forward[1]}/pods/{forward[2]}"
            )
            if status != 200:
                return status_response(404, "NotFound", f'pods "{forward[2]}" not found')
            if os.environ.get("HARNESS_NO_KUBELET"):  # as a cluster whose pod has no node
                node = ((found or {}).get("spec") or {}).get("nodeName", "")
                return status_response(404, "NotFound", f'nodes "{node}" not found')
            if kubelet.is_spdy_upgrade(request.headers):
                return await kubelet.spdy(request, self.spdy_dictionary)
            return await kubelet.websocket(request)
        proxied = re.match(
            r"^/api/v1/namespaces/[^/]+/services/(?:https?:)?[^/:]+:(\d+)/proxy(/.*)?$", path
        )
        if proxied:  # the service proxy, to a Service whose endpoint is this host's port
            return await self.service_proxy(request, int(proxied.group(1)), proxied.group(2))
        if path == "/api":
            return web.json_response(
                {
                    "kind": "APIVersions",
                    "versions": ["v1"],
                    "serverAddressByClientCIDRs": [
                        {"clientCIDR": "0.0.0.0/0", "serverAddress": f"127.0.0.1:{PORT}"}
                    ],
                }
            )
        if path == "/apis/authentication.k8s.io/v1/tokenreviews":
            body = json.loads(body_bytes)
            who = self.token_user(body["spec"]["token"])
            status: dict[str, Any] = {"authenticated": who is not None}
            if who:
                status["user"] = {"username": who[0], "groups": who[1]}
            return web.json_response({**body, "status": status}, status=201)
        if path in (
            "/apis/authorization.k8s.io/v1/subjectaccessreviews",
            "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
        ):
            body = json.loads(body_bytes)
            spec = body["spec"]
            attrs = spec.get("resourceAttributes") or {}
            ok = await self.allowed(
                spec.get("user", "admin"),
                spec.get("groups") or (["system:masters"] if "self" in path else []),
                attrs,
            )
            return web.json_response({**body, "status": {"allowed": ok}}, status=201)
        m = re.match(r"^/api/v1/namespaces/([^/]+)/serviceaccounts/([^/]+)/token$", path)
        if m and request.method == "POST":
            body = json.loads(body_bytes)
            return web.json_response(
                {
                    **body,
                    "status": {
                        "token": f"sa.{m.group(1)}.{m.group(2)}",
                        "expirationTimestamp": "2099-01-01T00:00:00Z",
                    },
                },
                status=201,
            )
        if path in ("/apis", "/apis/"):
            _, got = await self.up("GET", "/apis")
            groups = [g for g in got["groups"] if g["name"] not in REV]
            _, listing = await self.up(
                "GET", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
            )
            seen = {g["name"] for g in groups}
            for crd in listing.get("items", []):
                g = crd["spec"]["group"]
                if g in REV or g in seen:
                    continue
                seen.add(g)
                vs = [
                    {"groupVersion": f"{g}/{v['name']}", "version": v["name"]}
                    for v in crd["spec"]["versions"]
                    if v.get("served")
                ]
                groups.append({"name": g, "versions": vs, "preferredVersion": vs[0]})
            # the emulated groups and the review APIs answered here, each at v1
            for g in [
                *(real for real in EMU if real),
                "authentication.k8s.io",
                "authorization.k8s.io",
            ]:
                v1 = {"groupVersion": f"{g}/v1", "version": "v1"}
                groups.append({"name": g, "versions": [v1], "preferredVersion": v1})
            return web.json_response({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
        if path in ("/apis/authentication.k8s.io/v1", "/apis/authorization.k8s.io/v1"):
            g = path.split("/")[2]
            res = (
                [
                    {
                        "name": "tokenreviews",
                        "singularName": "",
                        "namespaced": False,
                        "kind": "TokenReview",
                        "verbs": ["create"],
                    }
                ]
                if g.startswith("authe")
                else [
                    {
                        "name": "subjectaccessreviews",
                        "singularName": "",
                        "namespaced": False,
                        "kind": "SubjectAccessReview",
                        "verbs": ["create"],
                    },
                    {
                        "name": "selfsubjectaccessreviews",
                        "singularName": "",
                        "namespaced": False,
                        "kind": "SelfSubjectAccessReview",
                        "verbs": ["create"],
                    },
                ]
            )
            return web.json_response(
                {
                    "kind": "APIResourceList",
                    "apiVersion": "v1",
                    "groupVersion": f"{g}/v1",
                    "resources": res,
                }
            )
        target = upstream_path(path)
        ctype = request.headers.get("Content-Type", "application/json")
        data: bytes | None = body_bytes or None
        if target is not None and body_bytes:
            doc = yaml.safe_load(body_bytes) if "yaml" in ctype else json.loads(body_bytes)
            data = json.dumps(rewrite(doc, emu_version)).encode()
            if "strategic" in ctype:
                ctype = "application/merge-patch+json"
        if target is None:
            target = path
        if (
            target.endswith("/v1")
            and target.startswith("/apis/" + EMU[""])
            and request.method == "GET"
        ):
            _s, got = await self.up("GET", target)
            got["groupVersion"] = "v1"
            for r in got.get("resources", []):
                r.pop("group", None)
                if r["name"].startswith("nsobjects"):
                    r["name"] = r["name"].replace("nsobjects", "namespaces")
            return web.json_response(got)
        # namespace creation: also a default ServiceAccount (the controller-manager's job)
        assert self.session
        headers = {"Content-Type": ctype}
        for h in ("Accept",):
            if h in request.headers:
                headers[h] = request.headers[h]
        if "apidiscovery" in headers.get("Accept", ""):
            headers["Accept"] = "application/json"
        url = UP + target + (f"?{query}" if query else "")
        watch = "watch=1" in query or "watch=true" in query
        async with self.session.request(request.method, url, data=data, headers=headers) as r:
            if watch and r.status == 200:
                resp = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
                await resp.prepare(request)
                async for line in r.content:
                    if line.strip():
                        ev = json.loads(line)
                        await resp.write((json.dumps(rewrite(ev, real_version)) + "\n").encode())
                return resp
            raw = await r.read()
            out_ctype = r.headers.get("Content-Type", "application/json")
            if raw.startswith(b"{") and "json" in out_ctype:
                got = json.loads(raw)
                got = rewrite(got, real_version)
                if (
                    r.status < 300
                    and request.method in ("POST", "PATCH", "PUT")
                    and got.get("kind") == "Namespace"
                ):
                    name = got["metadata"]["name"]
                    await self.up(
                        "PATCH",
                        f"/apis/{EMU['']}/v1/namespaces/{name}/serviceaccounts/default?fieldManager=e2e",
                        {
                            "apiVersion": f"{EMU['']}/v1",
                            "kind": "ServiceAccount",
                            "metadata": {"name": "default", "namespace": name},
                        },
                        "application/apply-patch+yaml",
                    )
                if r.status < 300 and request.method == "DELETE" and got.get("kind") == "Namespace":
                    asyncio.get_running_loop().create_task(self.purge(got["metadata"]["name"]))
                return web.Response(
                    body=json.dumps(got).encode(), status=r.status, content_type="application/json"
                )
            return web.Response(body=raw, status=r.status, headers={"Content-Type": out_ctype})

    async def service_proxy(
        self, request: web.Request, port: int, rest: str | None
    ) -> web.StreamResponse:
        assert self.session
        url = f"http://127.0.0.1:{port}{rest or '/'}"
        if request.query_string:
            url += "?" + request.query_string
        async with self.session.request(request.method, url, data=await request.read()) as r:
            body = await r.read()
            ctype = r.headers.get("Content-Type", "application/octet-stream")
            return web.Response(body=body, status=r.status, headers={"Content-Type": ctype})

    def token_user(self, token: str) -> tuple[str, list[str]] | None:
        m = re.match(r"^sa\.([^.]+)\.([^.]+)$", token)
        if m:
            return f"system:serviceaccount:{m.group(1)}:{m.group(2)}", [
                "system:serviceaccounts",
                "system:authenticated",
            ]
        return None

    async def check(self, user: str, groups: list[str], method: str, path: str, q: Any) -> bool:
        parts = path.strip("/").split("/")
        if parts[0] == "api":
            group, rest = "", parts[2:]
        elif parts[0] == "apis" and len(parts) >= 3:
            group, rest = parts[1], parts[3:]
        else:
            return True
        ns = ""
        if rest[:1] == ["namespaces"] and len(rest) >= 3:
            ns, rest = rest[1], rest[2:]
        if not rest:
            return True
        resource = rest[0]
        name = rest[1] if len(rest) > 1 else ""
        sub = rest[2] if len(rest) > 2 else ""
        if sub in {"portforward", "exec", "attach"}:  # as 1.31+ asks of WebSocket GETs too
            method = "POST"
        verb = {
            "GET": "get" if name else ("watch" if q.get("watch") else "list"),
            "POST": "create",
            "PUT": "update",
            "PATCH": "patch",
            "DELETE": "delete",
        }[method]
        return await self.allowed(
            user,
            groups,
            {
                "namespace": ns,
                "group": group,
                "resource": resource,
                "subresource": sub,
                "verb": verb,
                "name": name,
            },
        )

    async def purge(self, ns: str) -> None:
        for group, kinds in KINDS.items():
            for plural, _, namespaced, _ in kinds:
                if namespaced:
                    await self.up("DELETE", f"/apis/{EMU[group]}/v1/namespaces/{ns}/{plural}")
        await self.up("DELETE", f"/apis/{EMU['']}/v1/nsobjects/{ns}")
        for plural in ("costreports", "costbudgets"):
            await self.up("DELETE", f"/apis/costreport.io/v1alpha1/namespaces/{ns}/{plural}")

    async def gc(self) -> None:
        plurals = {
            "CostReport": "costreports",
            "ClusterCostReport": "clustercostreports",
            "CostBudget": "costbudgets",
            "ClusterCostBudget": "clustercostbudgets",
        }
        while True:
            await asyncio.sleep(2)
            try:
                for cm in await self.items("", "configmaps"):
                    for ref in cm["metadata"].get("ownerReferences") or []:
                        plural = plurals.get(ref["kind"])
                        if not plural:
                            continue
                        ns = cm["metadata"]["namespace"]
                        base = f"/apis/{ref['apiVersion']}"
                        p = (
                            f"{base}/{plural}/{ref['name']}"
                            if ref["kind"].startswith("Cluster")
                            else f"{base}/namespaces/{ns}/{plural}/{ref['name']}"
                        )
                        s, got = await self.up("GET", p)
                        if s == 404 or (s == 200 and got["metadata"]["uid"] != ref["uid"]):
                            await self.up(
                                "DELETE",
                                f"/apis/{EMU['']}/v1/namespaces/{ns}/configmaps/{cm['metadata']['name']}",
                            )
            except Exception as error:
                print("gc:", error, file=sys.stderr)


async def main() -> None:
    proxy = Proxy()
    await proxy.start()
    app = web.Application(client_max_size=64 * 2**20)
    app.router.add_route("*", "/{tail:.*}", proxy.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", PORT).start()
    print("proxy up", flush=True)
    await proxy.gc()


asyncio.run(main())
