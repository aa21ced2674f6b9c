"""Dapr service invocation of the audit log: the audit service's `GET /internal/audit` admits only the sidecar
(the app token, else 401) carrying an allowed `dapr-caller-app-id` (else 403) and answers the named user's page;
the web host wired with TODO_AGENT_DAPR_AUDIT_APP_ID reads /api/v1/audit through its sidecar and gets the page the
database gives, with authorization still its own; a failing sidecar becomes 503 problem+json, leaking nothing.

The apps are the real ones (build_service, create_app on the Dapr bus), on SQLite and PostgreSQL. Only the sidecar
is faked: tests/dapr_invoke_fake.py, an httpx.MockTransport answering as daprd does (facts note b6), which forwards
the call to the real audit app in-process."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from domain.db import Database
from domain.schemas import TaskCreate
from domain.usecases import Actor, create_task
from runtime.apps import build_service, create_app
from runtime.bootstrap import Runtime, build_runtime, close_runtime
from runtime.lease import PRIORITY_WEB
from runtime.settings import Settings
from services.audit_log import AuditQuery, list_audit
from services.transport.dapr_invoke import DaprAuditReader
from tests.api.conftest import SECRET, User, assert_problem
from tests.dapr_invoke_fake import FakeSidecar, direct_invoke_error
from tests.services.conftest import Outbox, signed_in

APP_TOKEN = "app-token-" + "a" * 32  # APP_API_TOKEN: what the sidecar sends the apps
API_TOKEN = "api-token-" + "b" * 32  # DAPR_API_TOKEN: what the web host sends its sidecar
AUDIT_APP = "todo-agent-audit"
SIDECAR = {"dapr-api-token": APP_TOKEN, "dapr-caller-app-id": "todo-agent-web"}


@pytest.fixture
def settings(fresh_database: Database, tmp_path: Path) -> Callable[..., Settings]:
    """Settings of a process on the Dapr bus over the module's database, the audit service reached by invocation."""

    def make(**overrides: Any) -> Settings:
        return Settings(**{"data_dir": tmp_path, "database_url": fresh_database.url, "bus": "dapr",
                           "secret_key": SECRET, "dapr_http_port": 3500, "dapr_app_token": APP_TOKEN,
                           "dapr_api_token": API_TOKEN, "dapr_audit_app_id": AUDIT_APP, **overrides})

    return make


@pytest.fixture
async def audit_app(settings: Callable[..., Settings]) -> AsyncIterator[tuple[Runtime, FastAPI]]:
    """`todo-agent service audit` on the Dapr bus (its lifespan is not run: nothing publishes)."""
    rt, app = build_service("audit", settings())
    yield rt, app
    await close_runtime(rt)


@pytest.fixture
async def web_rt(settings: Callable[..., Settings]) -> AsyncIterator[Runtime]:
    rt = build_runtime(settings(), role="web", priority=PRIORITY_WEB)
    yield rt
    await close_runtime(rt)


@pytest.fixture
def sidecar(audit_app: tuple[Runtime, FastAPI]) -> FakeSidecar:
    """The web host's sidecar, reaching the audit app under its app id."""
    return FakeSidecar({AUDIT_APP: audit_app[1]}, app_token=APP_TOKEN)


@pytest.fixture
async def web(web_rt: Runtime, sidecar: FakeSidecar) -> AsyncIterator[httpx.AsyncClient]:
    """The web host as create_app wires it, its audit reader talking to the fake sidecar."""
    app = create_app(web_rt)
    wired = app.state.api.audit
    assert isinstance(wired, DaprAuditReader)
    async with sidecar.client() as http:
        app.state.api.audit = DaprAuditReader(wired.app_id, http_port=3500, api_token=wired.api_token,
                                              http_client=http)
        async with client_of(app) as client:
            yield client


def client_of(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1:8000")


async def audited(audit: tuple[Runtime, FastAPI], timezone: str = "UTC", *, admin: bool = False) -> User:
    """A fresh user with one task whose task.created the audit service has recorded (delivered by 'the sidecar')."""
    rt, app = audit
    user = await signed_in(rt.uow, timezone, admin=admin)
    await create_task(rt.uow, Actor(id=user.id, timezone=timezone), TaskCreate(title=f"Task of {user.id}"))
    event = await Outbox(rt.uow).one(user.id)
    async with client_of(app) as client:
        delivered = await client.post("/events/audit", json=event, headers={
            "Content-Type": "application/cloudevents+json", "dapr-api-token": APP_TOKEN})
    assert delivered.json() == {"status": "SUCCESS"}
    return user


def params_of(user: User, **extra: str) -> dict[str, str]:
    return {"actor_id": str(user.id), "actor_timezone": "UTC", "everyone": "false", **extra}


async def test_the_audit_method_answers_the_named_users_page_only(audit_app: tuple[Runtime, FastAPI]) -> None:
    """With the app token and an allowed caller: 200 and the AuditPage of that user, no one else's entries."""
    ada, bob = await audited(audit_app), await audited(audit_app)
    async with client_of(audit_app[1]) as client:
        response = await client.get("/internal/audit", params=params_of(ada), headers=SIDECAR)
    assert response.status_code == 200, response.text
    page = response.json()
    assert page["count"] == 1 and [e["user_id"] for e in page["data"]] == [ada.id]
    assert page["data"][0]["type"] == "com.todoagent.task.created" and page["next_cursor"] is None
    assert bob.id not in {e["user_id"] for e in page["data"]}


@pytest.mark.parametrize(("headers", "status"), [
    ({"dapr-caller-app-id": "todo-agent-web"}, 401),
    ({"dapr-api-token": "guess", "dapr-caller-app-id": "todo-agent-web"}, 401),
    ({"dapr-api-token": APP_TOKEN + "x", "dapr-caller-app-id": "todo-agent-web"}, 401),
    ({"dapr-api-token": APP_TOKEN, "dapr-caller-app-id": "todo-agent-reminder"}, 403),
    ({"dapr-api-token": APP_TOKEN}, 403),
], ids=["no token", "wrong token", "token with a suffix", "another caller", "no caller header"])
async def test_the_audit_method_refuses_anyone_but_the_web_hosts_sidecar(
    audit_app: tuple[Runtime, FastAPI], headers: dict[str, str], status: int
) -> None:
    """Without the app token 401; with it but a caller not in TODO_AGENT_DAPR_AUDIT_CALLERS 403 naming the header.
    Either way no entry is revealed."""
    ada = await audited(audit_app)
    async with client_of(audit_app[1]) as client:
        response = await client.get("/internal/audit", params=params_of(ada), headers=headers)
    body = assert_problem(response, status)
    assert "data" not in body
    if status == 403:
        assert "dapr-caller-app-id" in str(body["detail"])


@pytest.mark.parametrize("bad", [{"limit": "0"}, {"actor_id": "0"}, {"actor_timezone": "Mars/Base"},
                                 {"unknown": "1"}, {"since": "yesterday"}], ids=lambda p: next(iter(p)))
async def test_the_audit_method_rejects_a_bad_query_with_422(audit_app: tuple[Runtime, FastAPI], bad: dict[str, str]
                                                             ) -> None:
    ada = await audited(audit_app)
    async with client_of(audit_app[1]) as client:
        response = await client.get("/internal/audit", params=params_of(ada, **bad), headers=SIDECAR)
    assert_problem(response, 422)


async def test_the_web_host_reads_the_same_page_through_the_sidecar_as_from_the_database(
    audit_app: tuple[Runtime, FastAPI], web: httpx.AsyncClient, sidecar: FakeSidecar
) -> None:
    """/api/v1/audit through invocation equals list_audit on the database, filters and the user's time zone
    included; the call went to the audit app id's method with the DAPR_API_TOKEN."""
    ada = await audited(audit_app, "Europe/Berlin")
    query = {"type": "task.created", "since": "2000-01-01T00:00:00", "limit": "5"}
    response = await web.get("/api/v1/audit", params=query, headers=ada.headers)
    assert response.status_code == 200, response.text
    local = await list_audit(audit_app[0].uow, Actor(id=ada.id, timezone="Europe/Berlin"),
                             AuditQuery(type="task.created", since=datetime(2000, 1, 1), limit=5))
    assert response.json() == local.model_dump(mode="json") and local.count == 1
    [call] = sidecar.calls
    assert call.url.path == f"/v1.0/invoke/{AUDIT_APP}/method/internal/audit"
    assert call.headers["dapr-api-token"] == API_TOKEN
    assert call.url.params["actor_id"] == str(ada.id) and call.url.params["everyone"] == "false"


async def test_a_forged_caller_header_from_the_web_host_does_not_pass_the_sidecar(
    audit_app: tuple[Runtime, FastAPI], sidecar: FakeSidecar
) -> None:
    """The sidecar stamps the caller's real app id over whatever the caller sent: a reminder service pretending to
    be the web host is refused by the audit service."""
    ada = await audited(audit_app)
    sidecar.caller = "todo-agent-reminder"
    async with sidecar.client() as http:
        response = await http.get(f"http://127.0.0.1:3500/v1.0/invoke/{AUDIT_APP}/method/internal/audit",
                                  params=params_of(ada), headers={"dapr-caller-app-id": "todo-agent-web"})
    assert_problem(response, 403)


async def test_the_admin_view_goes_through_the_sidecar_for_admins_only(
    audit_app: tuple[Runtime, FastAPI], web: httpx.AsyncClient, sidecar: FakeSidecar
) -> None:
    """An admin reads another user's entries through invocation; a non-admin gets 403 before any call is made."""
    admin, ada = await audited(audit_app, admin=True), await audited(audit_app)
    refused = await web.get("/api/v1/admin/audit", params={"user_id": ada.id}, headers=ada.headers)
    assert_problem(refused, 403)
    assert sidecar.calls == []
    allowed = await web.get("/api/v1/admin/audit", params={"user_id": ada.id}, headers=admin.headers)
    assert allowed.status_code == 200, allowed.text
    assert [e["user_id"] for e in allowed.json()["data"]] == [ada.id]
    assert sidecar.calls[0].url.params["everyone"] == "true"


@pytest.mark.parametrize("failure", [
    direct_invoke_error(500, "fail to invoke, id: todo-agent-audit, err: connection refused"),
    "denied", "unknown app id", httpx.ConnectError("All connection attempts failed"),
    httpx.Response(500, text="Internal Server Error"),  # the callee's own crash, passed through
    httpx.Response(403, json={"type": "about:blank", "title": "Forbidden", "status": 403, "detail": "caller"},
                   headers={"content-type": "application/problem+json"}),  # the callee refusing the caller
], ids=["sidecar 500", "access control 403", "no such app 500", "no sidecar", "callee 500", "callee 403"])
async def test_a_failing_sidecar_or_callee_is_a_503_problem_that_leaks_nothing(
    audit_app: tuple[Runtime, FastAPI], web: httpx.AsyncClient, sidecar: FakeSidecar, failure: object
) -> None:
    ada = await audited(audit_app)
    if failure == "denied":
        sidecar.denied = True
    elif failure == "unknown app id":
        sidecar.apps = {"todo-agent-audit-old": audit_app[1]}
    else:
        assert isinstance(failure, httpx.Response | Exception)
        sidecar.failure = failure
    response = await web.get("/api/v1/audit", headers=ada.headers)
    body = assert_problem(response, 503)
    assert body["detail"] == "the audit service is unreachable; try again" and response.headers["retry-after"]
    assert not any(word in response.text for word in ("ERR_", "invoke", "connection", "spiffe", "caller"))
    assert len(sidecar.calls) == 1


async def test_a_query_the_callee_rejects_is_a_502(
    audit_app: tuple[Runtime, FastAPI], web: httpx.AsyncClient, sidecar: FakeSidecar
) -> None:
    """The callee's own 422 (its problem+json, no Dapr errorCode) means the two disagree on the query: 502."""
    ada = await audited(audit_app)
    sidecar.failure = httpx.Response(422, json={"type": "about:blank", "title": "Invalid request", "status": 422,
                                                "detail": "limit must be at least 1"},
                                     headers={"content-type": "application/problem+json"})
    response = await web.get("/api/v1/audit", headers=ada.headers)
    assert_problem(response, 502)
    assert "limit" not in response.text


async def test_a_bad_cursor_is_the_users_422_and_no_call_is_made(
    audit_app: tuple[Runtime, FastAPI], web: httpx.AsyncClient, sidecar: FakeSidecar
) -> None:
    ada = await audited(audit_app)
    response = await web.get("/api/v1/audit", params={"cursor": "not-a-cursor"}, headers=ada.headers)
    assert_problem(response, 422, field="cursor")
    assert sidecar.calls == []


@pytest.mark.parametrize(("overrides", "expected"), [
    ({}, f"http://127.0.0.1:3500/v1.0/invoke/{AUDIT_APP}/method/internal/audit"),
    ({"dapr_http_endpoint": "http://sidecar:3600/"}, f"http://sidecar:3600/v1.0/invoke/{AUDIT_APP}/method/internal/audit"),
    ({"dapr_audit_app_id": None}, None),
    ({"bus": "kafka", "kafka_bootstrap": "127.0.0.1:1"}, None),
], ids=["dapr", "endpoint", "no app id", "kafka"])
async def test_the_web_host_reads_through_invocation_only_on_dapr_with_an_audit_app_id(
    settings: Callable[..., Settings], overrides: dict[str, Any], expected: str | None
) -> None:
    """The wiring: a DaprAuditReader at the sidecar's invoke URL with DAPR_API_TOKEN, or None (the database)."""
    rt = build_runtime(settings(**overrides), role="web", priority=PRIORITY_WEB)
    try:
        reader = create_app(rt).state.api.audit
    finally:
        await close_runtime(rt)
    if expected is None:
        assert reader is None
    else:
        assert isinstance(reader, DaprAuditReader) and reader.url == expected and reader.api_token == API_TOKEN


async def test_without_invocation_the_web_host_reads_its_database(
    settings: Callable[..., Settings], audit_app: tuple[Runtime, FastAPI]
) -> None:
    """TODO_AGENT_DAPR_AUDIT_APP_ID unset: /api/v1/audit reads the database, as before (no sidecar involved)."""
    ada = await audited(audit_app)
    rt = build_runtime(settings(dapr_audit_app_id=None), role="web", priority=PRIORITY_WEB)
    try:
        async with client_of(create_app(rt)) as client:
            response = await client.get("/api/v1/audit", headers=ada.headers)
    finally:
        await close_runtime(rt)
    assert response.status_code == 200 and [e["user_id"] for e in response.json()["data"]] == [ada.id]
    assert datetime.fromisoformat(response.json()["data"][0]["time"]) <= datetime.now(UTC)
