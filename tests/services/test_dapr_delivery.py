"""The Dapr delivery routes of every process are the sidecar's door only: without the app API token
(APP_API_TOKEN, sent by daprd as `dapr-api-token`) a forged CloudEvent is refused and changes nothing; with it the
event is delivered; production refuses to start without a token; other buses mount no delivery route at all.

The web host (create_app) and a service process (build_service) are the real ones, on the Dapr bus with no sidecar:
nothing here publishes, and the apps' lifespans (relay, lease) are not run."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from domain.events import TASK_CREATED
from domain.schemas import TaskCreate
from domain.usecases import Actor, create_task
from runtime.apps import build_service, create_app
from runtime.bootstrap import Runtime, build_runtime, close_runtime
from runtime.lease import PRIORITY_WEB
from runtime.settings import Settings
from services.audit_log import AuditQuery, list_audit
from services.notifications import notification_of_event
from services.transport.dapr import UnprotectedDelivery
from tests.hosts import user_of
from tests.infra import sqlite_url
from tests.services.conftest import Outbox
from tests.transport.conftest import reminder_event

TOKEN = "app-token-" + "s" * 32
CLOUDEVENTS = {"Content-Type": "application/cloudevents+json"}
FORGED = {"no token": {}, "wrong token": {"dapr-api-token": "guess"},
          "token with a suffix": {"dapr-api-token": TOKEN + "x"}}


@pytest.fixture
def dapr_settings(migrated_file: Path, tmp_path: Path) -> Callable[..., Settings]:
    """Settings of a process on the Dapr bus over a fresh copy of the migrated SQLite file."""
    path = Path(shutil.copy(migrated_file, tmp_path / "todo.db"))

    def make(**overrides: Any) -> Settings:
        return Settings(**{"data_dir": tmp_path, "database_url": sqlite_url(path), "bus": "dapr",
                           "dapr_http_port": 1, "dapr_app_token": TOKEN, **overrides})

    return make


@pytest.fixture
async def web_host(dapr_settings: Callable[..., Settings]) -> AsyncIterator[tuple[Runtime, httpx.AsyncClient]]:
    """The web host on the Dapr bus, with a client standing where the sidecar (or an attacker) would."""
    rt = build_runtime(dapr_settings(), role="web", priority=PRIORITY_WEB)
    try:
        async with client_of(create_app(rt)) as client:
            yield rt, client
    finally:
        await close_runtime(rt)


@pytest.fixture
async def audit_service(dapr_settings: Callable[..., Settings]) -> AsyncIterator[tuple[Runtime, httpx.AsyncClient]]:
    """`todo-agent service audit` on the Dapr bus."""
    rt, app = build_service("audit", dapr_settings())
    try:
        async with client_of(app) as client:
            yield rt, client
    finally:
        await close_runtime(rt)


def client_of(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1:8000")


async def task_created_event(rt: Runtime) -> tuple[Actor, dict[str, Any]]:
    """A real task.created CloudEvent of a new user, as the outbox holds it."""
    user = await user_of(rt)
    actor = Actor(id=user.id, timezone="Europe/Berlin")
    await create_task(rt.uow, actor, TaskCreate(title="Forged?"))
    return actor, await Outbox(rt.uow).one(user.id, TASK_CREATED)


@pytest.mark.parametrize("forged", list(FORGED), ids=list(FORGED))
async def test_a_forged_reminder_to_the_web_host_is_refused_and_stores_no_notification(
    web_host: tuple[Runtime, httpx.AsyncClient], forged: str
) -> None:
    """Without the sidecar's app token the notification route answers 401 and no notification appears."""
    rt, client = web_host
    victim = await user_of(rt)
    event = reminder_event(victim.id, task_id=42, title="SECURITY ALERT: log in at http://evil.example")
    response = await client.post("/events/notifications", json=event, headers={**CLOUDEVENTS, **FORGED[forged]})
    assert response.status_code == 401, response.text
    assert await notification_of_event(rt.uow, event["id"]) is None


async def test_a_reminder_with_the_app_token_is_delivered_to_the_web_host(
    web_host: tuple[Runtime, httpx.AsyncClient],
) -> None:
    """The sidecar's own delivery (with the token) still becomes a notification."""
    rt, client = web_host
    user = await user_of(rt)
    event = reminder_event(user.id, task_id=42)
    response = await client.post("/events/notifications", json=event,
                                 headers={**CLOUDEVENTS, "dapr-api-token": TOKEN})
    assert response.status_code == 200 and response.json() == {"status": "SUCCESS"}
    stored = await notification_of_event(rt.uow, event["id"])
    assert stored is not None and stored[0] == user.id


@pytest.mark.parametrize("route", ["/dapr/subscribe", "/events/task-service", "/events/live"])
async def test_every_delivery_route_of_the_web_host_demands_the_app_token(
    web_host: tuple[Runtime, httpx.AsyncClient], route: str
) -> None:
    """The subscription list and every delivery route refuse a caller without the token."""
    _, client = web_host
    method = "GET" if route == "/dapr/subscribe" else "POST"
    assert (await client.request(method, route, json={})).status_code == 401
    allowed = await client.request(method, route, json={}, headers={"dapr-api-token": TOKEN})
    assert allowed.status_code == 200, allowed.text


@pytest.mark.parametrize("live", [None, "pubsub-live"])
async def test_the_web_host_subscribes_its_live_feed_through_the_live_component_when_one_is_set(
    dapr_settings: Callable[..., Settings], live: str | None
) -> None:
    """TODO_AGENT_DAPR_LIVE_PUBSUB (the chart's per-pod consumer group) carries /events/live, so every web replica
    sees every task change; the task service and the notification store stay on the shared component."""
    rt = build_runtime(dapr_settings(dapr_live_pubsub=live), role="web", priority=PRIORITY_WEB)
    try:
        async with client_of(create_app(rt)) as client:
            declared = (await client.get("/dapr/subscribe", headers={"dapr-api-token": TOKEN})).json()
    finally:
        await close_runtime(rt)
    assert {d["route"]: (d["pubsubname"], d["topic"]) for d in declared} == {
        "/events/task-service": ("pubsub", "task-commands"), "/events/notifications": ("pubsub", "reminders"),
        "/events/live": (live or "pubsub", "tasks"),
    }


async def test_a_reminder_for_a_user_that_does_not_exist_is_dropped_to_the_dead_letters(
    web_host: tuple[Runtime, httpx.AsyncClient],
) -> None:
    """The sidecar is told DROP (dead-letter topic), not RETRY forever, for an account that does not exist."""
    rt, client = web_host
    event = reminder_event(10**30, task_id=1)
    response = await client.post("/events/notifications", json=event,
                                 headers={**CLOUDEVENTS, "dapr-api-token": TOKEN})
    assert response.json() == {"status": "DROP"}
    assert await notification_of_event(rt.uow, event["id"]) is None


@pytest.mark.parametrize("forged", list(FORGED), ids=list(FORGED))
async def test_a_forged_task_event_to_the_audit_service_is_refused_and_writes_no_entry(
    audit_service: tuple[Runtime, httpx.AsyncClient], forged: str
) -> None:
    """A service process's delivery route refuses a forged event: no audit entry is written."""
    rt, client = audit_service
    actor, event = await task_created_event(rt)
    response = await client.post("/events/audit", json=event, headers={**CLOUDEVENTS, **FORGED[forged]})
    assert response.status_code == 401
    assert (await list_audit(rt.uow, actor, AuditQuery())).count == 0


async def test_a_task_event_with_the_app_token_is_audited_by_the_service(
    audit_service: tuple[Runtime, httpx.AsyncClient],
) -> None:
    """With the token the audit service records the event."""
    rt, client = audit_service
    actor, event = await task_created_event(rt)
    response = await client.post("/events/audit", json=event, headers={**CLOUDEVENTS, "dapr-api-token": TOKEN})
    assert response.json() == {"status": "SUCCESS"}
    assert (await list_audit(rt.uow, actor, AuditQuery())).count == 1


async def test_production_on_dapr_without_an_app_token_refuses_to_start(
    dapr_settings: Callable[..., Settings],
) -> None:
    """Both the web host and a service process refuse to build their apps, saying which variable to set."""
    settings = dapr_settings(env="production", secret_key="k" * 40, dapr_app_token=None)
    rt = build_runtime(settings, role="web", priority=PRIORITY_WEB)
    try:
        with pytest.raises(UnprotectedDelivery, match="APP_API_TOKEN"):
            create_app(rt)
        with pytest.raises(UnprotectedDelivery, match="APP_API_TOKEN"):
            build_service("reminder", settings)
    finally:
        await close_runtime(rt)


async def test_with_the_in_process_bus_the_web_host_mounts_no_delivery_route(runtime: Runtime) -> None:
    """The default bus has nothing for a sidecar: /events/* and /dapr/subscribe do not exist."""
    user = await user_of(runtime)
    async with client_of(create_app(runtime)) as client:
        forged = await client.post("/events/notifications", json=reminder_event(user.id, 1), headers=CLOUDEVENTS)
        listing = await client.get("/dapr/subscribe")
    assert (forged.status_code, listing.status_code) == (404, 404)


async def test_on_kafka_a_service_process_mounts_no_delivery_route(dapr_settings: Callable[..., Settings]) -> None:
    """A service process on Kafka serves health only."""
    rt, app = build_service("audit", dapr_settings(bus="kafka", kafka_bootstrap="127.0.0.1:1"))
    try:
        async with client_of(app) as client:
            assert (await client.post("/events/audit", json={})).status_code == 404
            assert (await client.get("/dapr/subscribe")).status_code == 404
    finally:
        await close_runtime(rt)
