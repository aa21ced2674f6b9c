"""End to end in-process: a recurring task with a reminder goes through the outbox, the relay, the bus, the three
services, the task service, the notification store and the live stream; the audit trail shows it all.

The relay and the scheduler are stepped by hand (relay_once, fire_due) on a controlled clock: nothing sleeps.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlmodel import col, select

from domain.db import Database
from domain.models import OutboxEvent, Task
from domain.ports import OutboundMessage, Publisher
from domain.schemas import RecurrenceSpec, TaskCreate
from domain.uow import UnitOfWork
from domain.usecases import Actor, complete_task, create_task
from runtime.apps import create_app
from runtime.bootstrap import Runtime, build_runtime, close_runtime
from runtime.lease import PRIORITY_WEB
from runtime.relay import Relay
from runtime.settings import Settings
from services import audit
from services.reminder_scheduler import fire_due
from services.subscriptions import REMINDER, service_uow
from services.tables import AuditEntry, ReminderSchedule
from tests.api.conftest import SECRET, User
from tests.conftest import Clock
from tests.services.conftest import T0, signed_in
from tests.services.streaming import Reader, stream


@dataclass
class Embedded:
    """The embedded runtime, built by the bootstrap as `todo-agent serve` builds it, on the test's database and
    clock; the relay and the scheduler are stepped by hand instead of running in the background."""

    rt: Runtime
    app: FastAPI

    @property
    def uow(self) -> UnitOfWork:
        return self.rt.uow

    @property
    def bus(self) -> Publisher:
        return self.rt.publisher

    @property
    def relay(self) -> Relay:
        return self.rt.relay

    async def drain(self) -> int:
        """Relay until the outbox is empty (consumers' outgoing events included); how many were published."""
        total = 0
        while sent := await self.relay.relay_once():
            total += sent
        return total

    async def fire_reminders(self) -> None:
        await fire_due(service_uow(self.uow, REMINDER))


@pytest.fixture
async def embedded(fresh_database: Database, clock: Clock, tmp_path: Path) -> AsyncIterator[Embedded]:
    clock.set(T0)
    # A lease that outlives the tests' clock jumps (days): this runtime leads, so its relay publishes.
    settings = Settings(database_url=fresh_database.url, data_dir=tmp_path, secret_key=SECRET,
                        lease_ttl_seconds=10 * 365 * 86400)
    rt = build_runtime(settings, role="web", priority=PRIORITY_WEB, clock=clock)
    rt.relay.base_backoff = 0
    try:
        assert await rt.lease.try_acquire()
        yield Embedded(rt, create_app(rt))
        clock.set(T0)  # released "at T0", so the module's next test (back at T0) can lead in turn
        await rt.lease.release()
    finally:
        await close_runtime(rt)


async def api(app: FastAPI, user: User, path: str, **params: Any) -> dict[str, Any]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as client:
        response = await client.get(path, params=params, headers=user.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def successors(uow: UnitOfWork, predecessor_id: int) -> list[Task]:
    async with uow.read() as tx:
        return list((await tx.session.exec(select(Task).where(col(Task.predecessor_id) == predecessor_id))).all())


async def changed(reader: Reader) -> tuple[str, dict[str, Any]]:
    event = await reader.event()
    return event.event, json.loads(event.data)


async def test_a_recurring_task_with_a_reminder_end_to_end(embedded: Embedded, clock: Clock) -> None:
    uow = embedded.uow
    alice = await signed_in(uow, "Europe/Berlin")
    actor = Actor(id=alice.id, timezone="Europe/Berlin")
    due = T0 + timedelta(hours=1)
    spec = RecurrenceSpec(rule="daily")
    task = await create_task(uow, actor, TaskCreate(title="Stand-up", due_at=due, reminders=[15], tags=["work"],
                                                    recurrence=spec))
    async with stream(embedded.app, alice) as reader:
        await embedded.drain()
        assert await changed(reader) == ("task.changed", {"id": task.id, "type": "com.todoagent.task.created",
                                                          "version": 1})

        clock.set(due - timedelta(minutes=15))  # the reminder's second
        await embedded.fire_reminders()
        await embedded.drain()
        kind, note = await changed(reader)
        assert kind == "notification"
        assert (note["task_id"], note["title"], note["offset_minutes"], note["late"]) == (task.id, "Stand-up", 15,
                                                                                          False)

        clock.set(due + timedelta(minutes=5))
        await complete_task(uow, actor, task.id)
        await embedded.drain()
        completed, created = await changed(reader), await changed(reader)
        [succ] = await successors(uow, task.id)
        assert completed[1] == {"id": task.id, "type": "com.todoagent.task.completed", "version": 2}
        assert created[1] == {"id": succ.id, "type": "com.todoagent.task.created", "version": 1}

    assert succ.due_at == due + timedelta(days=1) and succ.reminders == [15] and succ.title == "Stand-up"
    notes = await api(embedded.app, alice, "/api/v1/notifications")
    assert notes["count"] == 1 and notes["data"][0]["id"] == note["id"]
    trail = await api(embedded.app, alice, "/api/v1/audit")
    assert [(e["type"].rsplit(".", 1)[1], e["task_id"], e["actor"]) for e in trail["data"]] == [
        ("created", succ.id, "system:recurrence"),
        ("completed", task.id, f"user:{alice.id}"),
        ("created", task.id, f"user:{alice.id}"),
    ]

    # The successor's own reminder fires the next day.
    clock.set(succ.due_at - timedelta(minutes=15) if succ.due_at else T0)
    await embedded.fire_reminders()
    await embedded.drain()
    assert (await api(embedded.app, alice, "/api/v1/notifications"))["count"] == 2


async def test_redelivering_everything_has_no_second_effect(embedded: Embedded, clock: Clock) -> None:
    uow = embedded.uow
    alice = await signed_in(uow)
    actor = Actor(id=alice.id)
    due = T0 + timedelta(hours=1)
    task = await create_task(uow, actor, TaskCreate(title="Pay rent", due_at=due, reminders=[0],
                                                    recurrence=RecurrenceSpec(rule="monthly")))
    await embedded.drain()
    clock.set(due)
    await embedded.fire_reminders()
    await complete_task(uow, actor, task.id)
    await embedded.drain()

    async with uow.read() as tx:
        rows = (await tx.session.exec(select(OutboxEvent).where(OutboxEvent.user_id == alice.id))).all()
    for row in list(rows) * 2:  # a relay that crashed before recording, twice over
        await embedded.bus.publish(OutboundMessage(topic=row.topic, key=row.key, event_id=row.event_id,
                                                   event=row.payload))
    assert await embedded.drain() == 0

    assert len(await successors(uow, task.id)) == 1
    assert (await api(embedded.app, alice, "/api/v1/notifications"))["count"] == 1
    assert (await api(embedded.app, alice, "/api/v1/audit"))["count"] == 3  # created, completed, successor created


async def test_a_failing_consumer_holds_the_message_for_a_retry_and_others_apply_it_once(
    embedded: Embedded, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    uow = embedded.uow
    alice = await signed_in(uow)
    calls = {"n": 0}

    def flaky(**fields: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 1:
            raise ConnectionError("audit store unavailable")
        return AuditEntry(**fields)

    monkeypatch.setattr(audit, "AuditEntry", flaky)
    await create_task(uow, Actor(id=alice.id), TaskCreate(title="Flaky", due_at=T0 + timedelta(hours=2),
                                                          reminders=[0]))
    assert await embedded.relay.relay_once() == 0  # the audit asked for a retry: the message stays pending
    assert await embedded.drain() == 1  # base_backoff=0: due again at once
    assert (await api(embedded.app, alice, "/api/v1/audit"))["count"] == 1
    async with uow.read() as tx:
        pending = (await tx.session.exec(select(ReminderSchedule).join(
            Task, col(Task.id) == ReminderSchedule.task_id).where(Task.owner_id == alice.id))).all()
    assert len(pending) == 1  # the reminder service saw the message twice, applied it once
