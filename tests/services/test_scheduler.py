"""The reminder scheduler: fires at the scheduled time, never for a completed or deleted task, catches up once."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlmodel import col, select

from domain.events import REMINDER_DUE
from domain.schemas import TaskCreate, TaskUpdate
from domain.uow import UnitOfWork
from domain.usecases import Actor, complete_task, create_task, delete_task, set_due_date, update_task
from services.reminder_scheduler import fire_due, run_scheduler
from services.subscriptions import Subscription
from services.tables import ReminderSchedule
from tests.conftest import Clock, new_actor
from tests.services.conftest import T0, Outbox

DUE = T0 + timedelta(hours=2)


async def scheduled(
    uow: UnitOfWork, outbox: Outbox, reminder: Subscription, actor: Actor, reminders: list[int], title: str = "Call"
) -> int:
    """A task due at DUE with these reminders, its events delivered to the reminder service."""
    task = await create_task(uow, actor, TaskCreate(title=title, due_at=DUE, reminders=reminders))
    await deliver_all(outbox, reminder, actor)
    return task.id


async def deliver_all(outbox: Outbox, reminder: Subscription, actor: Actor) -> None:
    for event in await outbox.new(actor.id):
        await reminder.deliver(event)


async def fired(outbox: Outbox, actor: Actor) -> list[dict[str, Any]]:
    """The data of the user's reminder.due events since the last look."""
    return [e["data"] for e in await outbox.new(actor.id, REMINDER_DUE)]


async def rows(uow: UnitOfWork, task_id: int) -> list[ReminderSchedule]:
    async with uow.read() as tx:
        stmt = select(ReminderSchedule).where(ReminderSchedule.task_id == task_id)
        return list((await tx.session.exec(stmt.order_by(col(ReminderSchedule.offset_minutes)))).all())


@pytest.fixture
def reminder(groups: dict[str, Subscription], clock: Clock) -> Subscription:
    clock.set(T0)
    return groups["reminder"]


async def test_a_reminder_fires_at_its_time_and_not_before(
    uow: UnitOfWork, clock: Clock, outbox: Outbox, reminder: Subscription
) -> None:
    actor = await new_actor(uow)
    task_id = await scheduled(uow, outbox, reminder, actor, [60], title="Call mum")
    clock.set(DUE - timedelta(hours=1, seconds=1))
    await fire_due(uow)
    assert await fired(outbox, actor) == []
    clock.advance(seconds=1)
    await fire_due(uow)
    [due] = await fired(outbox, actor)
    assert due["task_id"] == task_id and due["title"] == "Call mum" and due["offset_minutes"] == 60
    assert datetime.fromisoformat(due["scheduled_for"]) == DUE - timedelta(hours=1)
    assert datetime.fromisoformat(due["due_at"]) == DUE and due["late"] is False
    [row] = await rows(uow, task_id)
    assert row.sent_at == clock.now() and not row.late


async def test_the_event_carries_the_current_title(
    uow: UnitOfWork, clock: Clock, outbox: Outbox, reminder: Subscription
) -> None:
    actor = await new_actor(uow)
    task_id = await scheduled(uow, outbox, reminder, actor, [0])
    await update_task(uow, actor, task_id, TaskUpdate(title="Call dad"))  # its event not delivered yet
    clock.set(DUE)
    await fire_due(uow)
    [due] = await fired(outbox, actor)
    assert due["title"] == "Call dad"


async def test_a_reminder_is_sent_once(uow: UnitOfWork, clock: Clock, outbox: Outbox, reminder: Subscription) -> None:
    actor = await new_actor(uow)
    await scheduled(uow, outbox, reminder, actor, [0])
    clock.set(DUE + timedelta(seconds=1))
    await fire_due(uow)
    await fire_due(uow)
    clock.advance(hours=1)
    await fire_due(uow)
    assert len(await fired(outbox, actor)) == 1


async def test_no_reminder_for_a_task_completed_before_its_event_arrived(
    uow: UnitOfWork, clock: Clock, outbox: Outbox, reminder: Subscription
) -> None:
    actor = await new_actor(uow)
    task_id = await scheduled(uow, outbox, reminder, actor, [0, 30])
    await complete_task(uow, actor, task_id)  # the reminder service has not seen this yet
    clock.set(DUE)
    await fire_due(uow)
    assert await fired(outbox, actor) == []
    assert await rows(uow, task_id) == []


async def test_no_reminder_for_a_deleted_task(
    uow: UnitOfWork, clock: Clock, outbox: Outbox, reminder: Subscription
) -> None:
    actor = await new_actor(uow)
    task_id = await scheduled(uow, outbox, reminder, actor, [0])
    await delete_task(uow, actor, task_id)
    clock.set(DUE)
    await fire_due(uow)
    assert await fired(outbox, actor) == []


async def test_a_row_whose_task_moved_meanwhile_waits_for_the_event_that_moved_it(
    uow: UnitOfWork, clock: Clock, outbox: Outbox, reminder: Subscription
) -> None:
    actor = await new_actor(uow)
    task_id = await scheduled(uow, outbox, reminder, actor, [0])
    later = DUE + timedelta(days=1)
    await set_due_date(uow, actor, task_id, later)
    [moved] = await outbox.new(actor.id)  # not delivered yet
    clock.set(DUE)
    await fire_due(uow)
    assert await fired(outbox, actor) == []
    await reminder.deliver(moved)
    clock.set(later)
    await fire_due(uow)
    assert len(await fired(outbox, actor)) == 1


async def test_after_downtime_each_missed_reminder_is_sent_once_marked_late(
    uow: UnitOfWork, clock: Clock, outbox: Outbox, reminder: Subscription
) -> None:
    actor = await new_actor(uow)
    task_id = await scheduled(uow, outbox, reminder, actor, [0, 30, 90])
    clock.set(DUE + timedelta(hours=5))  # the scheduler was down for hours
    await fire_due(uow)
    await fire_due(uow)
    sent = await fired(outbox, actor)
    assert sorted(d["offset_minutes"] for d in sent) == [0, 30, 90]
    assert all(d["late"] is True for d in sent)
    assert all(r.late and r.sent_at is not None for r in await rows(uow, task_id))


async def test_a_reminder_within_the_grace_period_is_not_late(
    uow: UnitOfWork, clock: Clock, outbox: Outbox, reminder: Subscription
) -> None:
    actor = await new_actor(uow)
    await scheduled(uow, outbox, reminder, actor, [0])
    clock.set(DUE + timedelta(seconds=59))
    await fire_due(uow, grace=timedelta(seconds=60))
    [due] = await fired(outbox, actor)
    assert due["late"] is False


async def test_a_large_backlog_is_fired_in_batches(
    uow: UnitOfWork, clock: Clock, outbox: Outbox, reminder: Subscription
) -> None:
    actor = await new_actor(uow)
    for i in range(5):
        await scheduled(uow, outbox, reminder, actor, [0, 10], title=f"T{i}")
    clock.set(DUE + timedelta(minutes=1))
    while await fire_due(uow, batch=3):
        pass
    assert len(await fired(outbox, actor)) == 10


async def test_the_scheduler_loop_fires_without_being_asked(
    uow: UnitOfWork, clock: Clock, outbox: Outbox, reminder: Subscription
) -> None:
    actor = await new_actor(uow)
    await scheduled(uow, outbox, reminder, actor, [0])
    clock.set(DUE)
    loop = asyncio.create_task(run_scheduler(uow, every=0.01))
    try:
        async with asyncio.timeout(5):
            while not (sent := await fired(outbox, actor)):
                await asyncio.sleep(0.01)
    finally:
        loop.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await loop
    assert len(sent) == 1
