"""A fake Kubernetes API at the HTTP level: TokenReview and SubjectAccessReview only."""

from __future__ import annotations

from typing import Any

from aiohttp import web

# token → (user, readable namespaces; "*" = cluster-wide)
USERS: dict[str, tuple[str, set[str]]] = {
    "admin-token": ("system:serviceaccount:finops:admin", {"*"}),
    "team-a-token": ("system:serviceaccount:a:viewer", {"a"}),
    "two-ns-token": ("system:serviceaccount:a:lead", {"a", "c"}),
    "nothing-token": ("system:serviceaccount:x:nobody", set()),
}


class FakeKubeApi:
    """Counts the reviews it answers so tests can see the cache working."""

    def __init__(self) -> None:
        self.token_reviews = 0
        self.access_reviews = 0
        self.app = web.Application()
        self.app.router.add_post("/apis/authentication.k8s.io/v1/tokenreviews", self.tokenreview)
        self.app.router.add_post(
            "/apis/authorization.k8s.io/v1/subjectaccessreviews", self.subjectaccessreview
        )

    async def tokenreview(self, request: web.Request) -> web.Response:
        self.token_reviews += 1
        body = await request.json()
        found = USERS.get(body["spec"]["token"])
        status: dict[str, Any] = {"authenticated": found is not None}
        if found:
            status["user"] = {"username": found[0], "groups": ["system:authenticated"]}
        return web.json_response({**body, "status": status})

    async def subjectaccessreview(self, request: web.Request) -> web.Response:
        self.access_reviews += 1
        body = await request.json()
        spec = body["spec"]
        attributes = spec["resourceAttributes"]
        assert (attributes["group"], attributes["resource"], attributes["verb"]) == (
            "costreport.io",
            "allocations",
            "get",
        )
        readable = next((ns for user, ns in USERS.values() if user == spec["user"]), set())
        namespace = attributes.get("namespace", "")
        allowed = "*" in readable or (namespace != "" and namespace in readable)
        return web.json_response({**body, "status": {"allowed": allowed}})
