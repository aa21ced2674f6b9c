"""The reminder service's handler: the schedule follows each task's due, reminders, status and trash, in order."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError
from sqlmodel import col, select

from domain.schemas import TaskCreate, TaskUpdate
from domain.timeutil import Due
from domain.uow import UnitOfWork
from domain.usecases import (
    Actor,
    clear_due_date,
    complete_task,
    create_task,
    delete_task,
    reopen_task,
    restore_task,
    set_due_date,
    set_reminders,
    update_task,
)
from runtime.cli.support import setting_problem
from runtime.settings import ServiceConfig
from services.consumer import Outcome
from services.reminder_times import fire_time
from services.subscriptions import Subscription, by_group, subscriptions
from services.tables import ReminderSchedule
from tests.conftest import Clock, new_actor
from tests.services.conftest import T0, Outbox

BERLIN = ZoneInfo("Europe/Berlin")


async def feed(outbox: Outbox, reminder: Subscription, actor: Actor) -> list[Outcome]:
    """Deliver the user's new task events to the reminder service, in order."""
    return [await reminder.deliver(e) for e in await outbox.new(actor.id)]


async def pending(uow: UnitOfWork, task_id: int) -> list[tuple[int, datetime]]:
    """(offset, fire time in UTC) of the task's unsent reminders."""
    async with uow.read() as tx:
        stmt = select(ReminderSchedule).where(
            ReminderSchedule.task_id == task_id, col(ReminderSchedule.sent_at).is_(None)
        )
        rows = (await tx.session.exec(stmt)).all()
    return sorted((r.offset_minutes, r.fire_at.astimezone(UTC)) for r in rows)


@pytest.fixture
def reminder(groups: dict[str, Subscription]) -> Subscription:
    return groups["reminder"]


@pytest.fixture
def at_t0(clock: Clock) -> Clock:
    clock.set(T0)
    return clock


async def test_a_task_with_a_due_and_reminders_is_scheduled_due_minus_each_offset(
    uow: UnitOfWork, at_t0: Clock, outbox: Outbox, reminder: Subscription
) -> None:
    actor = await new_actor(uow)
    due = T0 + timedelta(days=2)
    task = await create_task(uow, actor, TaskCreate(title="Call", due_at=due, reminders=[0, 60]))
    assert await feed(outbox, reminder, actor) == [Outcome.SUCCESS]
    assert await pending(uow, task.id) == [(0, due), (60, due - timedelta(hours=1))]


async def test_moving_the_due_reschedules_and_clearing_it_cancels(
    uow: UnitOfWork, at_t0: Clock, outbox: Outbox, reminder: Subscription
) -> None:
    actor = await new_actor(uow)
    task = await create_task(uow, actor, TaskCreate(title="Call", due_at=T0 + timedelta(days=2), reminders=[30]))
    moved = T0 + timedelta(days=5)
    await set_due_date(uow, actor, task.id, moved)
    await feed(outbox, reminder, actor)
    assert await pending(uow, task.id) == [(30, moved - timedelta(minutes=30))]

    await set_reminders(uow, actor, task.id, [10, 1440])
    await feed(outbox, reminder, actor)
    assert await pending(uow, task.id) == [(10, moved - timedelta(minutes=10)), (1440, moved - timedelta(days=1))]

    await clear_due_date(uow, actor, task.id)
    await feed(outbox, reminder, actor)
    assert await pending(uow, task.id) == []


async def test_completing_cancels_and_reopening_schedules_again(
    uow: UnitOfWork, at_t0: Clock, outbox: Outbox, reminder: Subscription
) -> None:
    actor = await new_actor(uow)
    due = T0 + timedelta(days=2)
    task = await create_task(uow, actor, TaskCreate(title="Call", due_at=due, reminders=[0]))
    await complete_task(uow, actor, task.id)
    await feed(outbox, reminder, actor)
    assert await pending(uow, task.id) == []
    await reopen_task(uow, actor, task.id)
    await feed(outbox, reminder, actor)
    assert await pending(uow, task.id) == [(0, due)]


async def test_deleting_cancels_and_restoring_schedules_again(
    uow: UnitOfWork, at_t0: Clock, outbox: Outbox, reminder: Subscription
) -> None:
    actor = await new_actor(uow)
    due = T0 + timedelta(days=2)
    task = await create_task(uow, actor, TaskCreate(title="Call", due_at=due, reminders=[5]))
    await feed(outbox, reminder, actor)
    await delete_task(uow, actor, task.id)
    await feed(outbox, reminder, actor)
    assert await pending(uow, task.id) == []
    await restore_task(uow, actor, task.id)
    await feed(outbox, reminder, actor)
    assert await pending(uow, task.id) == [(5, due - timedelta(minutes=5))]


async def test_a_reminder_already_past_when_the_task_is_set_is_not_scheduled(
    uow: UnitOfWork, at_t0: Clock, outbox: Outbox, reminder: Subscription
) -> None:
    actor = await new_actor(uow)
    due = T0 + timedelta(minutes=30)
    task = await create_task(uow, actor, TaskCreate(title="Soon", due_at=due, reminders=[0, 60]))
    await feed(outbox, reminder, actor)
    assert await pending(uow, task.id) == [(0, due)]


async def test_all_day_tasks_remind_at_nine_local_on_the_due_day_minus_offsets(
    uow: UnitOfWork, at_t0: Clock, outbox: Outbox, reminder: Subscription
) -> None:
    actor = await new_actor(uow, "Europe/Berlin")
    task = await create_task(uow, actor, TaskCreate(title="Bins", due_at="2026-06-10", reminders=[0, 60, 2880]))
    await feed(outbox, reminder, actor)
    nine = datetime(2026, 6, 10, 9, 0, tzinfo=BERLIN)
    assert await pending(uow, task.id) == [
        (0, nine.astimezone(UTC)),
        (60, (nine - timedelta(hours=1)).astimezone(UTC)),
        (2880, datetime(2026, 6, 8, 9, 0, tzinfo=BERLIN).astimezone(UTC)),
    ]


async def test_the_all_day_reminder_time_is_configurable(
    uow: UnitOfWork, at_t0: Clock, outbox: Outbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TODO_AGENT_ALL_DAY_REMINDER_TIME", "07:30")
    settings = ServiceConfig().as_settings()
    reminder = by_group(subscriptions(uow, settings))["reminder"]
    actor = await new_actor(uow, "Europe/Berlin")
    task = await create_task(uow, actor, TaskCreate(title="Bins", due_at="2026-06-10", reminders=[0]))
    await feed(outbox, reminder, actor)
    assert await pending(uow, task.id) == [(0, datetime(2026, 6, 10, 7, 30, tzinfo=BERLIN).astimezone(UTC))]


def test_a_bad_all_day_reminder_time_is_refused_naming_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TODO_AGENT_ALL_DAY_REMINDER_TIME", "nine")
    with pytest.raises(ValidationError) as refused:
        ServiceConfig()
    assert [setting_problem(e) for e in refused.value.errors()] == [
        "TODO_AGENT_ALL_DAY_REMINDER_TIME must be a time of day, e.g. 09:00 (got 'nine')"]


async def test_offsets_of_a_day_or_more_keep_the_local_time_across_dst(
    uow: UnitOfWork, clock: Clock, outbox: Outbox, reminder: Subscription
) -> None:
    clock.set(datetime(2026, 3, 20, tzinfo=UTC))
    actor = await new_actor(uow, "Europe/Berlin")
    due = datetime(2026, 3, 29, 9, 0, tzinfo=BERLIN)  # the first day of summer time
    task = await create_task(uow, actor, TaskCreate(title="Dentist", due_at=due, reminders=[60, 1440, 1500]))
    await feed(outbox, reminder, actor)
    day_before_nine = datetime(2026, 3, 28, 9, 0, tzinfo=BERLIN).astimezone(UTC)  # 08:00 UTC, not 07:00
    assert await pending(uow, task.id) == [
        (60, (due - timedelta(hours=1)).astimezone(UTC)),
        (1440, day_before_nine),
        (1500, day_before_nine - timedelta(hours=1)),
    ]


@pytest.mark.parametrize(("due", "offset", "expected_local"), [
    (datetime(2026, 10, 26, 9, 0), 1440, datetime(2026, 10, 25, 9, 0)),  # across the end of summer time
    (datetime(2026, 10, 26, 9, 0), 7 * 1440, datetime(2026, 10, 19, 9, 0)),
    (datetime(2026, 3, 29, 3, 30), 1440, datetime(2026, 3, 28, 3, 30)),
    (datetime(2026, 3, 30, 2, 30), 1440, datetime(2026, 3, 29, 3, 30)),  # 02:30 does not exist that day
])
def test_fire_time_takes_whole_days_off_the_wall_clock(due: datetime, offset: int, expected_local: datetime) -> None:
    due_at = due.replace(tzinfo=BERLIN).astimezone(UTC)
    fired = fire_time(Due(at=due_at), offset, BERLIN, time(9))
    assert fired.astimezone(BERLIN).replace(tzinfo=None) == expected_local


def test_an_all_day_fire_time_counts_back_from_the_reminder_time() -> None:
    fired = fire_time(Due(day=date(2026, 3, 29)), 1440 + 30, BERLIN, time(9))
    assert fired == datetime(2026, 3, 28, 8, 30, tzinfo=BERLIN).astimezone(UTC)


async def test_a_duplicate_delivery_has_no_second_effect(
    uow: UnitOfWork, at_t0: Clock, outbox: Outbox, reminder: Subscription
) -> None:
    actor = await new_actor(uow)
    due = T0 + timedelta(days=1)
    task = await create_task(uow, actor, TaskCreate(title="Call", due_at=due, reminders=[0]))
    [event] = await outbox.new(actor.id)
    assert [await reminder.deliver(event) for _ in range(3)] == [Outcome.SUCCESS] * 3
    assert await pending(uow, task.id) == [(0, due)]


async def _history(uow: UnitOfWork, outbox: Outbox, actor: Actor, due: datetime) -> tuple[int, list[dict[str, Any]]]:
    """A task created, moved, completed, reopened, moved again, deleted and restored: one event each."""
    task = await create_task(uow, actor, TaskCreate(title="Call", due_at=due, reminders=[0]))
    await set_due_date(uow, actor, task.id, due + timedelta(days=1))
    await complete_task(uow, actor, task.id)
    await reopen_task(uow, actor, task.id)
    await update_task(uow, actor, task.id, TaskUpdate(due_at=due + timedelta(days=2), title="Call back"))
    await delete_task(uow, actor, task.id)
    await restore_task(uow, actor, task.id)
    return task.id, await outbox.new(actor.id)


@pytest.mark.parametrize("order", ["reversed", "shuffled", "each-twice"])
async def test_out_of_order_and_repeated_events_leave_the_newest_snapshots_schedule(
    uow: UnitOfWork, at_t0: Clock, outbox: Outbox, reminder: Subscription, order: str
) -> None:
    actor = await new_actor(uow)
    task_id, events = await _history(uow, outbox, actor, T0 + timedelta(days=1))
    assert len(events) == 7
    sequence = {
        "reversed": events[::-1],
        "shuffled": [events[i] for i in (3, 6, 0, 5, 1, 4, 2)],
        "each-twice": [e for pair in zip(events, events[::-1], strict=True) for e in pair],
    }[order]
    for event in sequence:
        assert await reminder.deliver(event) is Outcome.SUCCESS
    assert await pending(uow, task_id) == [(0, T0 + timedelta(days=3))]


async def test_an_older_event_after_completion_does_not_bring_reminders_back(
    uow: UnitOfWork, at_t0: Clock, outbox: Outbox, reminder: Subscription
) -> None:
    actor = await new_actor(uow)
    task = await create_task(uow, actor, TaskCreate(title="Call", due_at=T0 + timedelta(days=1), reminders=[0]))
    await complete_task(uow, actor, task.id)
    created, completed = await outbox.new(actor.id)
    await reminder.deliver(completed)
    await reminder.deliver(created)
    assert await pending(uow, task.id) == []


async def test_other_topics_events_are_ignored(uow: UnitOfWork, reminder: Subscription) -> None:
    event = {"id": "not-a-task-event-1", "type": "com.todoagent.reminder.due", "data": {}}
    assert await reminder.deliver(event) is Outcome.SUCCESS


async def test_a_task_event_of_an_unknown_schema_version_is_dead_lettered(
    uow: UnitOfWork, at_t0: Clock, outbox: Outbox, reminder: Subscription
) -> None:
    actor = await new_actor(uow)
    await create_task(uow, actor, TaskCreate(title="Call"))
    [event] = await outbox.new(actor.id)
    event = {**event, "id": event["id"] + "-v9", "data": {**event["data"], "schema_version": 9}}
    assert await reminder.deliver(event) is Outcome.DROP
