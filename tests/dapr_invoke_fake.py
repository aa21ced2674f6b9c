"""A fake Dapr sidecar for service invocation, as an httpx.MockTransport: it answers exactly as daprd's HTTP API
does (facts note b6, from `pkg/api/http/directmessaging.go` and `pkg/messaging/direct_messaging.go`), so the caller
side can be tested in-process without a sidecar.

`GET /v1.0/invoke/<app id>/method/<method>?<query>` is forwarded to the app registered under that id, in-process
(httpx.ASGITransport): the same method, query and body; the caller's headers minus the ones the sidecar owns
(`dapr-api-token`, any `dapr-caller-*` / `dapr-callee-*` a caller tries to forge); plus what the sidecar stamps:
`dapr-caller-app-id`, `dapr-caller-namespace`, `dapr-callee-app-id`, `traceparent`, `X-Forwarded-*` and, when the
callee has an app token (APP_API_TOKEN), `dapr-api-token`. The callee's status, content type and body come back
as they are. The sidecar's own errors are `{"errorCode": "ERR_DIRECT_INVOKE", "message": ...}`: 500 for an app id
it cannot reach, 404 for a path naming no app id, 403 when access control denies (`denied`). `failure` makes every
call fail so instead (an httpx.Response to answer, or an exception such as httpx.ConnectError to raise, which is
what a client sees when no sidecar listens).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import unquote

import httpx
from starlette.types import ASGIApp

INVOKE_PREFIX = "/v1.0/invoke/"
_SIDECAR_OWNED = ("dapr-api-token", "dapr-caller-", "dapr-callee-", "host", "content-length")
TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def direct_invoke_error(status: int, message: str) -> httpx.Response:
    """An error of the sidecar itself, in daprd's shape."""
    return httpx.Response(status, json={"errorCode": "ERR_DIRECT_INVOKE", "message": message})


def access_denied(app_id: str, method: str, caller: str, namespace: str) -> httpx.Response:
    """What daprd answers when the callee's access control policy denies the call (gRPC PermissionDenied → 403)."""
    return direct_invoke_error(403, f"fail to invoke, id: {app_id}, err: rpc error: code = PermissionDenied desc = "
                                    f"access control policy has denied access to id: spiffe://public/ns/{namespace}/"
                                    f"{caller} operation: {method} verb: GET")


@dataclass
class FakeSidecar:
    """The caller's sidecar (and the network behind it): `apps` are the app ids it reaches, in-process."""

    apps: dict[str, ASGIApp]
    caller: str = "todo-agent-web"  # the app id of the app this sidecar belongs to
    namespace: str = "todo"
    app_token: str | None = None  # the callee's APP_API_TOKEN, sent to it as dapr-api-token
    denied: bool = False  # the callee's access control policy denies this caller
    failure: httpx.Response | Exception | None = None
    calls: list[httpx.Request] = field(default_factory=list)

    def client(self) -> httpx.AsyncClient:
        """An HTTP client whose every request reaches this sidecar."""
        return httpx.AsyncClient(transport=httpx.MockTransport(self.handle))

    async def handle(self, request: httpx.Request) -> httpx.Response:
        self.calls.append(request)
        if isinstance(self.failure, Exception):
            raise self.failure
        if self.failure is not None:
            return self.failure
        app_id, method = _target(request.url.path)
        if not app_id:
            return direct_invoke_error(404, "failed getting app id either from the URL path or the header dapr-app-id")
        if app_id not in self.apps:
            return direct_invoke_error(500, f"fail to invoke, id: {app_id}, err: failed to resolve address for "
                                            f"'{app_id}-dapr.{self.namespace}.svc.cluster.local': no such host")
        if self.denied:
            return access_denied(app_id, method, self.caller, self.namespace)
        headers = {k: v for k, v in request.headers.items() if not k.lower().startswith(_SIDECAR_OWNED)}
        headers |= {"dapr-caller-app-id": self.caller, "dapr-caller-namespace": self.namespace,
                    "dapr-callee-app-id": app_id, "traceparent": TRACEPARENT, "x-forwarded-for": "10.244.0.7",
                    "x-forwarded-host": f"{app_id}-dapr"}
        if self.app_token:
            headers["dapr-api-token"] = self.app_token
        transport = httpx.ASGITransport(app=self.apps[app_id])
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8003") as callee:
            answer = await callee.request(request.method, httpx.URL(path=f"/{method}", query=request.url.query),
                                          headers=headers, content=request.content)
        kept = {k: v for k, v in answer.headers.items() if k.lower() in ("content-type", "retry-after")}
        return httpx.Response(answer.status_code, headers=kept, content=answer.content)


def _target(path: str) -> tuple[str, str]:
    """(app id, method) of `/v1.0/invoke/<app id>/method/<method>`, or ("", "") when the path names no app id."""
    if not path.startswith(INVOKE_PREFIX) or "/method/" not in path[len(INVOKE_PREFIX):]:
        return "", ""
    app_id, _, method = path[len(INVOKE_PREFIX):].partition("/method/")
    return unquote(app_id), method
