"""Dapr cron input bindings drive the reminder sweep (reminder service) and retention (web host): the sidecar's
start-up probe and each tick are answered 200; every replica's sidecar fires, and only the replica holding the
job's lease does the work (the others answer ran=false), tick after tick until it shuts down and hands over;
a tick without the app token is refused (401) and does nothing; a failed tick is a 500 problem; and while the
bindings drive, the in-process timers do not run (with TODO_AGENT_DAPR_CRON_BINDINGS=false, or on Kafka, they do).

The apps are the real ones (build_service, create_app on the Dapr bus), two replicas on one database, SQLite and
PostgreSQL. No sidecar exists here: the test client sends exactly what daprd sends on a tick (facts note b6: an
empty body, Content-Type application/json, timeZone, readTimeUTC, traceparent, dapr-api-token)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlmodel import col, select

from domain.db import Database
from domain.events import REMINDER_DUE
from domain.models import OutboxEvent
from domain.schemas import TaskCreate
from domain.usecases import Actor, create_task
from runtime.apps import build_service, create_app
from runtime.bootstrap import Runtime, build_runtime, close_runtime, leader_duties
from runtime.lease import PRIORITY_WEB
from runtime.settings import Settings
from runtime.wiring.cron import CronJob
from services.tables import ReminderSchedule
from tests.conftest import new_actor
from tests.services.conftest import Outbox

TOKEN = "app-token-" + "c" * 32
SWEEP, RETENTION = "/bindings/reminder-sweep", "/bindings/retention"
FORGED = {"no token": {}, "wrong token": {"dapr-api-token": "guess"},
          "token with a suffix": {"dapr-api-token": TOKEN + "x"}}


def tick_headers(**extra: str) -> dict[str, str]:
    """What daprd sends with a cron tick (the binding's metadata become headers), app token included."""
    return {"Content-Type": "application/json", "timeZone": "UTC",
            "readTimeUTC": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "dapr-api-token": TOKEN,
            **extra}


@pytest.fixture
def settings(fresh_database: Database, tmp_path: Path) -> Callable[..., Settings]:
    """Settings of a process on the Dapr bus (no sidecar listens on port 1) over the module's database."""

    def make(**overrides: Any) -> Settings:
        return Settings(**{"data_dir": tmp_path, "database_url": fresh_database.url, "bus": "dapr",
                           "dapr_http_port": 1, "dapr_app_token": TOKEN, **overrides})

    return make


Replica = tuple[Runtime, httpx.AsyncClient]


async def stop(rt: Runtime) -> None:
    """What the process's shutdown does for its cron jobs (stop them: their leases are released), then close."""
    try:
        for job in jobs_of(rt):
            await job.stop()
    finally:
        await close_runtime(rt)


def jobs_of(rt: Runtime) -> list[CronJob]:
    return [w for w in rt.workers if isinstance(w, CronJob)]


def client_of(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1:8001")


@pytest.fixture
async def reminder_replicas(settings: Callable[..., Settings]) -> AsyncIterator[list[Replica]]:
    """Two replicas of `todo-agent service reminder` on one database, each with a client where its sidecar is."""
    replicas = []
    try:
        for _ in range(2):
            rt, app = build_service("reminder", settings())
            replicas.append((rt, client_of(app)))
        yield replicas
    finally:
        for rt, client in replicas:
            await client.aclose()
            await stop(rt)


@pytest.fixture
async def web_replicas(settings: Callable[..., Settings]) -> AsyncIterator[list[Replica]]:
    """Two replicas of the web host on one database."""
    replicas = []
    try:
        for _ in range(2):
            rt = build_runtime(settings(), role="web", priority=PRIORITY_WEB)
            replicas.append((rt, client_of(create_app(rt))))
        yield replicas
    finally:
        for rt, client in replicas:
            await client.aclose()
            await stop(rt)


async def due_reminder(rt: Runtime) -> Actor:
    """A fresh user's task due in 10 minutes with a reminder 15 minutes before: due now, as the reminder service
    scheduled it."""
    actor = await new_actor(rt.uow)
    due = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=10)
    task = await create_task(rt.uow, actor, TaskCreate(title="Water the plants", due_at=due, reminders=[15]))
    async with rt.uow.write() as tx:
        tx.session.add(ReminderSchedule(task_id=task.id, user_id=actor.id, offset_minutes=15,
                                        fire_at=due - timedelta(minutes=15), due_at=due, created_at=tx.now))
    return actor


async def reminders_sent(rt: Runtime, actor: Actor) -> list[dict[str, Any]]:
    """Every reminder.due event the user has in the outbox."""
    return await Outbox(rt.uow).new(actor.id, REMINDER_DUE)


@pytest.mark.parametrize("route", [SWEEP, RETENTION])
async def test_the_probe_and_a_tick_are_answered_200(
    reminder_replicas: list[Replica], web_replicas: list[Replica], route: str
) -> None:
    """OPTIONS (the sidecar's start-up probe, without `direction: input`) and a tick both answer 200."""
    _, client = (reminder_replicas if route == SWEEP else web_replicas)[0]
    probe = await client.options(route)
    tick = await client.post(route, content=b"", headers=tick_headers())
    assert probe.status_code == 200
    assert tick.status_code == 200, tick.text
    assert tick.json()["ran"] is True


async def test_a_due_reminder_fires_once_when_both_replicas_get_the_tick(reminder_replicas: list[Replica]) -> None:
    """Both sidecars fire at the same moment: one replica takes the sweep lease and fires the reminder, the other
    answers ran=false naming the holder; on the next tick the holder keeps the lease."""
    (rt_a, a), (rt_b, b) = reminder_replicas
    actor = await due_reminder(rt_a)
    first = await asyncio.gather(*(c.post(SWEEP, content=b"", headers=tick_headers()) for c in (a, b)))
    assert [r.status_code for r in first] == [200, 200]
    ran = [r.json()["ran"] for r in first]
    assert sorted(ran) == [False, True], [r.json() for r in first]
    holder, other = (rt_a, rt_b) if ran[0] else (rt_b, rt_a)
    refused = first[ran.index(False)].json()
    assert refused["reason"] == f"{holder.lease.holder} holds the reminder-sweep lease"
    assert first[ran.index(True)].json()["reminders"] >= 1
    [sent] = await reminders_sent(rt_a, actor)
    assert sent["data"]["title"] == "Water the plants" and sent["data"]["offset_minutes"] == 15

    again = await asyncio.gather(*(c.post(SWEEP, content=b"", headers=tick_headers()) for c in (a, b)))
    assert [r.json()["ran"] for r in again] == ran  # the same replica, tick after tick
    assert len(await reminders_sent(rt_a, actor)) == 1  # and nothing fires twice
    assert jobs_of(holder)[0].lease.held and not jobs_of(other)[0].lease.held


async def test_a_replica_shutting_down_hands_the_lease_over_at_once(
    settings: Callable[..., Settings], reminder_replicas: list[Replica]
) -> None:
    """The holder's shutdown (its app's lifespan ending) releases the sweep lease: the next tick runs elsewhere,
    without waiting for the lease to expire."""
    leaving, app = build_service("reminder", settings())
    async with app.router.lifespan_context(app), client_of(app) as client:
        assert (await client.post(SWEEP, content=b"", headers=tick_headers())).json()["ran"] is True
    _, staying = reminder_replicas[0]
    actor = await due_reminder(leaving)
    taken = await staying.post(SWEEP, content=b"", headers=tick_headers())
    assert taken.json()["ran"] is True, taken.json()
    assert len(await reminders_sent(reminder_replicas[0][0], actor)) == 1


@pytest.mark.parametrize("forged", list(FORGED), ids=list(FORGED))
@pytest.mark.parametrize("route", [SWEEP, RETENTION])
async def test_a_tick_without_the_app_token_is_refused_and_does_nothing(
    reminder_replicas: list[Replica], web_replicas: list[Replica], route: str, forged: str
) -> None:
    """Only the sidecar may tick: 401, no reminder fired, no lease taken."""
    rt, client = (reminder_replicas if route == SWEEP else web_replicas)[0]
    actor = await due_reminder(rt)
    headers = {k: v for k, v in tick_headers().items() if k != "dapr-api-token"} | FORGED[forged]
    response = await client.post(route, content=b"", headers=headers)
    assert response.status_code == 401, response.text
    assert await reminders_sent(rt, actor) == []
    assert not jobs_of(rt)[0].lease.held


async def test_retention_prunes_an_old_outbox_row_once(web_replicas: list[Replica]) -> None:
    """Both web replicas get the retention tick: one prunes the outbox row sent longer ago than the retention
    period (a recent one stays), the other answers ran=false."""
    (rt, a), (_, b) = web_replicas
    now = datetime.now(UTC)
    async with rt.uow.write() as tx:
        for name, sent in (("old", now - timedelta(days=rt.settings.retention_days + 1)), ("new", now)):
            tx.session.add(OutboxEvent(event_id=f"{name}-{id(tx)}", topic="tasks", key="0", type="t", payload={},
                                       created_at=sent, sent_at=sent))
    responses = await asyncio.gather(*(c.post(RETENTION, content=b"", headers=tick_headers()) for c in (a, b)))
    bodies = sorted((r.json() for r in responses), key=lambda body: body["ran"])
    assert [body["ran"] for body in bodies] == [False, True]
    assert bodies[1]["pruned"]["outbox"] >= 1 and "retention lease" in bodies[0]["reason"]
    async with rt.uow.read() as tx:
        left = (await tx.session.exec(select(OutboxEvent.event_id).where(col(OutboxEvent.type) == "t"))).all()
    assert [e.split("-")[0] for e in left] == ["new"]


async def test_a_tick_that_fails_is_a_500_problem(settings: Callable[..., Settings]) -> None:
    """The database is down: the tick answers 500 problem+json (the chart's Resiliency policy retries it)."""
    rt, app = build_service("reminder", settings(database_url="postgresql+psycopg://nobody@127.0.0.1:1/none"))
    try:
        async with client_of(app) as client:
            response = await client.post(SWEEP, content=b"", headers=tick_headers())
    finally:
        await close_runtime(rt)
    assert response.status_code == 500
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["status"] == 500 and "reminder-sweep" in response.json()["detail"]
    assert "127.0.0.1" not in response.text


async def duty_tasks(rt: Runtime) -> set[str]:
    """The names of the tasks leader_duties starts (run for a moment, then cancelled)."""
    duties = asyncio.create_task(leader_duties(rt))
    await asyncio.sleep(0.2)
    names = {t.get_name() for t in asyncio.all_tasks()}
    duties.cancel()
    await asyncio.wait([duties])
    return names


async def test_while_the_bindings_drive_no_timer_runs(settings: Callable[..., Settings]) -> None:
    """The reminder service runs no scheduler loop, and the web host's leader duties no retention timer."""
    rt, _ = build_service("reminder", settings())
    web = build_runtime(settings(), role="web", priority=PRIORITY_WEB)
    try:
        create_app(web)
        assert [getattr(w, "name", None) for w in rt.workers] == ["reminder-sweep"]
        assert [getattr(w, "name", None) for w in web.workers] == ["retention"]
        names = await duty_tasks(web)
        assert "relay" in names and "retention" not in names
    finally:
        await stop(rt)
        await stop(web)


@pytest.mark.parametrize("overrides", [{"dapr_cron_bindings": False},
                                       {"bus": "kafka", "kafka_bootstrap": "127.0.0.1:1"}], ids=["off", "kafka"])
async def test_without_the_bindings_the_timers_run_and_no_binding_route_exists(
    settings: Callable[..., Settings], overrides: dict[str, Any]
) -> None:
    """TODO_AGENT_DAPR_CRON_BINDINGS=false (or Kafka): the scheduler loop and the retention timer run as before,
    and a tick finds no route."""
    rt, app = build_service("reminder", settings(**overrides))
    web = build_runtime(settings(**overrides), role="web", priority=PRIORITY_WEB)
    try:
        web_app = create_app(web)
        assert "reminder-scheduler" in [getattr(w, "name", None) for w in rt.workers] and not jobs_of(rt)
        assert not jobs_of(web)
        assert "retention" in await duty_tasks(web)
        async with client_of(app) as client:
            assert (await client.post(SWEEP, content=b"", headers=tick_headers())).status_code == 404
        async with client_of(web_app) as client:
            assert (await client.post(RETENTION, content=b"", headers=tick_headers())).status_code != 200
    finally:
        await stop(rt)
        await stop(web)
