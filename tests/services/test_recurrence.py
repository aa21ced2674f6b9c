"""The recurrence service asks for the next occurrence; the task service creates it exactly once."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from sqlmodel import col, select

from domain.events import NEXT_OCCURRENCE_REQUESTED, TASK_COMPLETED, TASK_CREATED
from domain.models import Task
from domain.schemas import RecurrenceSpec, TaskCreate
from domain.uow import UnitOfWork
from domain.usecases import Actor, complete_task, create_task, delete_task, get_task, reopen_task
from services.consumer import Outcome
from services.subscriptions import Subscription
from tests.conftest import Clock, new_actor
from tests.services.conftest import T0, Outbox, dead_letter

DUE = T0 + timedelta(hours=1)


@pytest.fixture
def recurrence(groups: dict[str, Subscription], clock: Clock) -> Subscription:
    clock.set(T0)
    return groups["recurrence"]


@pytest.fixture
def task_service(groups: dict[str, Subscription]) -> Subscription:
    return groups["task-service"]


async def successors(uow: UnitOfWork, predecessor_id: int) -> list[Task]:
    async with uow.read() as tx:
        return list((await tx.session.exec(select(Task).where(col(Task.predecessor_id) == predecessor_id))).all())


async def recurring(uow: UnitOfWork, actor: Actor, **fields: Any) -> int:
    spec = fields.pop("recurrence", RecurrenceSpec(rule="daily"))
    data = TaskCreate(title="Water plants", due_at=fields.pop("due_at", DUE), recurrence=spec, **fields)
    return (await create_task(uow, actor, data)).id


async def test_completing_a_recurring_task_requests_the_next_occurrence(
    uow: UnitOfWork, outbox: Outbox, recurrence: Subscription
) -> None:
    actor = await new_actor(uow)
    task_id = await recurring(uow, actor)
    await complete_task(uow, actor, task_id)
    for event in await outbox.new(actor.id):
        assert await recurrence.deliver(event) is Outcome.SUCCESS
    command = await outbox.one(actor.id)
    assert command["type"] == NEXT_OCCURRENCE_REQUESTED and command["source"] == "todo-agent/recurrence"
    assert command["data"]["predecessor_id"] == task_id and command["data"]["user_id"] == actor.id
    assert datetime.fromisoformat(command["data"]["due_at"]) == DUE + timedelta(days=1)


async def test_an_all_day_series_requests_a_day(uow: UnitOfWork, outbox: Outbox, recurrence: Subscription) -> None:
    actor = await new_actor(uow, "America/New_York")
    task_id = await recurring(uow, actor, due_at="2026-06-01", recurrence=RecurrenceSpec(rule="weekly"))
    await complete_task(uow, actor, task_id)
    for event in await outbox.new(actor.id):
        await recurrence.deliver(event)
    command = await outbox.one(actor.id)
    assert command["data"]["due_date"] == "2026-06-08" and command["data"]["due_at"] is None


async def test_non_recurring_tasks_and_other_events_request_nothing(
    uow: UnitOfWork, outbox: Outbox, recurrence: Subscription
) -> None:
    actor = await new_actor(uow)
    task = await create_task(uow, actor, TaskCreate(title="Once", due_at=DUE))
    await complete_task(uow, actor, task.id)
    await reopen_task(uow, actor, task.id)
    for event in await outbox.new(actor.id):
        await recurrence.deliver(event)
    assert await outbox.new(actor.id) == []


async def test_an_ended_series_requests_nothing(uow: UnitOfWork, outbox: Outbox, recurrence: Subscription) -> None:
    actor = await new_actor(uow)
    spec = RecurrenceSpec(rule="daily", until=DUE + timedelta(hours=1))
    task_id = await recurring(uow, actor, recurrence=spec)
    await complete_task(uow, actor, task_id)
    for event in await outbox.new(actor.id):
        await recurrence.deliver(event)
    assert await outbox.new(actor.id) == []


async def test_a_duplicate_completion_event_requests_once(
    uow: UnitOfWork, outbox: Outbox, recurrence: Subscription
) -> None:
    actor = await new_actor(uow)
    task_id = await recurring(uow, actor)
    await complete_task(uow, actor, task_id)
    [completed] = await outbox.new(actor.id, TASK_COMPLETED)
    for _ in range(3):
        await recurrence.deliver(completed)
    assert len(await outbox.new(actor.id, NEXT_OCCURRENCE_REQUESTED)) == 1


async def requested(uow: UnitOfWork, outbox: Outbox, recurrence: Subscription, actor: Actor, task_id: int) -> dict[
    str, Any
]:
    """Complete the task and let the recurrence service answer: the next-requested command."""
    await complete_task(uow, actor, task_id)
    for event in await outbox.new(actor.id):
        await recurrence.deliver(event)
    return await outbox.one(actor.id, NEXT_OCCURRENCE_REQUESTED)


async def test_the_task_service_creates_a_successor_copying_the_task(
    uow: UnitOfWork, outbox: Outbox, recurrence: Subscription, task_service: Subscription
) -> None:
    actor = await new_actor(uow, "Europe/Berlin")
    task_id = await recurring(uow, actor, description="both balconies", priority="high", tags=["home", "garden"],
                              reminders=[0, 30])
    command = await requested(uow, outbox, recurrence, actor, task_id)
    assert await task_service.deliver(command) is Outcome.SUCCESS
    [succ] = await successors(uow, task_id)
    view = await get_task(uow, actor, succ.id or 0)
    assert (view.title, view.description, view.priority.value) == ("Water plants", "both balconies", "high")
    assert view.tags == ["garden", "home"] and view.reminders == [0, 30]
    assert view.recurrence is not None and view.recurrence.rule == "daily"
    assert view.due_at == DUE + timedelta(days=1) and view.status.value == "open"
    assert view.series_id == task_id and view.predecessor_id == task_id
    created = await outbox.one(actor.id, TASK_CREATED)
    assert created["data"]["task"]["id"] == succ.id and created["data"]["actor"] == "system:recurrence"
    assert created["source"] == "todo-agent/web"


async def test_a_repeated_command_creates_the_successor_exactly_once(
    uow: UnitOfWork, outbox: Outbox, recurrence: Subscription, task_service: Subscription
) -> None:
    actor = await new_actor(uow)
    task_id = await recurring(uow, actor)
    command = await requested(uow, outbox, recurrence, actor, task_id)
    await task_service.deliver(command)
    await task_service.deliver(command)  # redelivered
    await task_service.deliver({**command, "id": command["id"] + "-again"})  # or sent twice
    assert len(await successors(uow, task_id)) == 1
    assert len(await outbox.new(actor.id, TASK_CREATED)) == 1


async def test_reopening_and_completing_again_never_makes_a_second_successor(
    uow: UnitOfWork, outbox: Outbox, recurrence: Subscription, task_service: Subscription
) -> None:
    actor = await new_actor(uow)
    task_id = await recurring(uow, actor)
    await task_service.deliver(await requested(uow, outbox, recurrence, actor, task_id))
    await reopen_task(uow, actor, task_id)
    await task_service.deliver(await requested(uow, outbox, recurrence, actor, task_id))
    assert len(await successors(uow, task_id)) == 1


async def test_a_command_arriving_after_a_reopen_or_delete_creates_nothing(
    uow: UnitOfWork, outbox: Outbox, recurrence: Subscription, task_service: Subscription
) -> None:
    actor = await new_actor(uow)
    reopened, deleted = await recurring(uow, actor), await recurring(uow, actor)
    first = await requested(uow, outbox, recurrence, actor, reopened)
    second = await requested(uow, outbox, recurrence, actor, deleted)
    await reopen_task(uow, actor, reopened)
    await delete_task(uow, actor, deleted)
    assert await task_service.deliver(first) is Outcome.SUCCESS
    assert await task_service.deliver(second) is Outcome.SUCCESS
    assert await successors(uow, reopened) == [] and await successors(uow, deleted) == []


COMMAND_BASE = {"specversion": "1.0", "source": "test", "type": NEXT_OCCURRENCE_REQUESTED, "time": T0.isoformat()}


def command_of(user_id: int, schema_version: int = 1) -> dict[str, Any]:
    """A next-occurrence command with a fresh event id."""
    data = {"schema_version": schema_version, "user_id": user_id, "predecessor_id": 1, "due_at": None,
            "due_date": date(2026, 1, 1).isoformat()}
    return {**COMMAND_BASE, "id": f"cmd-{uuid.uuid4().hex}", "data": data}


async def test_a_command_of_an_unknown_version_is_dead_lettered(task_service: Subscription) -> None:
    """A schema version this consumer does not read can never be handled: DROP."""
    assert await task_service.deliver(command_of(1, schema_version=2)) is Outcome.DROP


@pytest.mark.parametrize("user_id", [2**31 - 1, 10**30, 0], ids=["missing", "out-of-range", "zero"])
async def test_a_command_for_a_user_that_does_not_exist_is_dead_lettered_not_retried(
    uow: UnitOfWork, task_service: Subscription, user_id: int
) -> None:
    """An event whose user does not (or cannot) exist goes to the dead letters instead of being retried forever."""
    command = command_of(user_id)
    assert await task_service.deliver(command) is Outcome.DROP
    letter = await dead_letter(uow, "task-service", command["id"])
    assert letter is not None and "does not exist" in letter.error
