"""Task use cases against SQLite and PostgreSQL: create, read, partial update, life cycle, trash, fields,
optimistic concurrency, idempotency, ownership and all-or-nothing bulk requests."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from sqlmodel import col, func, select

from domain.errors import IdempotencyConflict, InvalidInput, TaskNotFound, VersionConflict
from domain.events import (
    TASK_COMPLETED,
    TASK_CREATED,
    TASK_DELETED,
    TASK_REOPENED,
    TASK_RESTORED,
    TASK_UPDATED,
)
from domain.models import OutboxEvent, Task
from domain.schemas import RecurrenceSpec, TaskCreate, TaskQuery, TaskUpdate, TaskView
from domain.uow import UnitOfWork
from domain.usecases import (
    Actor,
    add_tags,
    bulk_add_tags,
    bulk_complete,
    bulk_delete,
    bulk_set_priority,
    clear_due_date,
    clear_recurrence,
    complete_task,
    create_successor,
    create_task,
    delete_task,
    get_task,
    list_tasks,
    remove_tags,
    reopen_task,
    restore_task,
    set_due_date,
    set_priority,
    set_recurrence,
    set_reminders,
    update_task,
)
from domain.usecases.task_fields import FIELDS, MOVE_FIELDS
from tests.conftest import Clock, new_actor, new_task

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


async def outbox_types(uow: UnitOfWork, actor: Actor) -> list[str]:
    """The event types written for a user, oldest first."""
    async with uow.read() as tx:
        stmt = select(OutboxEvent.type).where(OutboxEvent.user_id == actor.id).order_by(col(OutboxEvent.seq))
        return list((await tx.session.exec(stmt)).all())


async def task_rows(uow: UnitOfWork, actor: Actor) -> int:
    async with uow.read() as tx:
        stmt = select(func.count()).select_from(Task).where(Task.owner_id == actor.id)
        return int((await tx.session.exec(stmt)).one())


def same_except_bookkeeping(a: TaskView, b: TaskView) -> bool:
    skip = {"version", "updated_at"}
    return a.model_dump(exclude=skip) == b.model_dump(exclude=skip)


# --- create and get -------------------------------------------------------------------------------------


async def test_creating_a_task_with_every_field_stores_and_returns_them_all(uow, actor, clock: Clock):
    clock.set(T0)
    task = await new_task(
        uow, actor, "Pay rent", description="Transfer to landlord", priority="high", tags=["Home", "money"],
        due_at="2026-04-01T09:30:00+02:00", reminders=[60, 0], recurrence=RecurrenceSpec(rule="monthly"),
    )
    assert task.title == "Pay rent"
    assert task.description == "Transfer to landlord"
    assert task.priority == "high"
    assert task.tags == ["home", "money"]
    assert task.due_at == datetime(2026, 4, 1, 7, 30, tzinfo=UTC)
    assert task.all_day is False
    assert task.due_date == date(2026, 4, 1)
    assert task.reminders == [0, 60]
    assert task.recurrence is not None and task.recurrence.rule == "monthly" and task.recurrence.mode == "due"
    assert task.series_id == task.id and task.predecessor_id is None
    assert task.status == "open" and task.completed_at is None and task.deleted_at is None
    assert task.created_at == task.updated_at == T0
    assert task.version == 1
    assert await get_task(uow, actor, task.id) == task


async def test_a_new_task_has_sensible_defaults(uow, actor):
    task = await new_task(uow, actor, "Just a title")
    assert (task.description, task.priority, task.tags, task.reminders) == ("", "none", [], [])
    assert task.due_at is None and task.due_date is None and task.due_local is None and not task.all_day
    assert task.recurrence is None and task.series_id is None
    assert task.status == "open" and task.version == 1


async def test_creating_trims_the_title_and_normalizes_tags_and_reminders(uow, actor):
    task = await new_task(uow, actor, "   Call mum  \n", tags=[" Family ", "FAMILY", "#phone", "family"],
                      reminders=[30, 0, 30], priority=" Urgent ")
    assert task.title == "Call mum"
    assert task.tags == ["family", "phone"]
    assert task.reminders == [0, 30]
    assert task.priority == "urgent"


async def test_creating_writes_one_task_created_event(uow, actor):
    await new_task(uow, actor)
    assert await outbox_types(uow, actor) == [TASK_CREATED]


async def test_getting_a_task_that_does_not_exist_is_not_found(uow, actor):
    with pytest.raises(TaskNotFound) as err:
        await get_task(uow, actor, 2**31 - 7)
    assert err.value.field == "id"


# --- partial update -------------------------------------------------------------------------------------


async def _rich_task(uow: UnitOfWork, actor: Actor) -> TaskView:
    return await new_task(uow, actor, "Water plants", description="Balcony", priority="medium", tags=["home"],
                      due_at="2026-05-04T08:00", reminders=[15], recurrence=RecurrenceSpec(rule="weekly"))


async def test_updating_the_title_keeps_tags_reminders_and_recurrence(uow, actor):
    task = await _rich_task(uow, actor)
    updated = await update_task(uow, actor, task.id, TaskUpdate(title="Water all plants"))
    assert updated.title == "Water all plants"
    assert updated.version == task.version + 1
    assert same_except_bookkeeping(updated, task.model_copy(update={"title": "Water all plants"}))


@pytest.mark.parametrize(
    "change",
    [
        TaskUpdate(description="Kitchen too"),
        TaskUpdate(priority="low"),
        TaskUpdate(due_at="2026-05-05T08:00"),
        TaskUpdate(reminders=[0]),
        TaskUpdate(tags=["garden"]),
    ],
    ids=["description", "priority", "due", "reminders", "tags"],
)
async def test_updating_one_field_never_drops_recurrence_tags_or_reminders_it_did_not_mention(uow, actor, change):
    task = await _rich_task(uow, actor)
    updated = await update_task(uow, actor, task.id, change)
    given = change.model_fields_set
    assert updated.recurrence == task.recurrence
    if "tags" not in given:
        assert updated.tags == task.tags
    if "reminders" not in given:
        assert updated.reminders == task.reminders
    if "due_at" not in given:
        assert updated.due_at == task.due_at
    assert updated.title == task.title
    assert await get_task(uow, actor, task.id) == updated


async def test_an_update_with_an_explicit_null_due_clears_the_due_date(uow, actor):
    task = await new_task(uow, actor, due_at="2026-05-04", tags=["x"])
    updated = await update_task(uow, actor, task.id, TaskUpdate(due_at=None))
    assert updated.due_at is None and updated.due_date is None and not updated.all_day
    assert updated.tags == ["x"]


async def test_an_update_with_an_explicit_null_recurrence_stops_the_task_recurring_but_keeps_its_due(uow, actor):
    task = await _rich_task(uow, actor)
    updated = await update_task(uow, actor, task.id, TaskUpdate(recurrence=None))
    assert updated.recurrence is None
    assert updated.due_at == task.due_at and updated.tags == task.tags


async def test_an_update_that_changes_nothing_writes_no_version_and_no_event(uow, actor):
    task = await new_task(uow, actor, "Same", priority="low")
    again = await update_task(uow, actor, task.id, TaskUpdate(title=" Same ", priority="LOW"))
    assert again.version == task.version
    assert await outbox_types(uow, actor) == [TASK_CREATED]


async def test_an_update_writes_one_updated_event_naming_what_changed(uow, actor):
    task = await new_task(uow, actor, "Old")
    await update_task(uow, actor, task.id, TaskUpdate(title="New"))
    async with uow.read() as tx:
        rows = (await tx.session.exec(select(OutboxEvent).where(OutboxEvent.user_id == actor.id)
                                      .order_by(col(OutboxEvent.seq)))).all()
    assert [r.type for r in rows] == [TASK_CREATED, TASK_UPDATED]
    assert rows[1].payload["subject"] == str(task.id)
    assert rows[1].payload["data"]["changes"] == {"title": ["Old", "New"]}


# --- complete, reopen ------------------------------------------------------------------------------------


async def test_completing_sets_status_and_completion_time(uow, actor, clock: Clock):
    clock.set(T0)
    task = await new_task(uow, actor)
    clock.advance(hours=2)
    done = await complete_task(uow, actor, task.id)
    assert done.status == "completed" and done.completed_at == T0 + timedelta(hours=2)
    assert done.version == 2


async def test_completing_twice_writes_one_version_bump_and_one_event(uow, actor, clock: Clock):
    clock.set(T0)
    task = await new_task(uow, actor)
    first = await complete_task(uow, actor, task.id)
    clock.advance(hours=1)
    second = await complete_task(uow, actor, task.id)
    assert second == first
    assert second.version == task.version + 1
    assert await outbox_types(uow, actor) == [TASK_CREATED, TASK_COMPLETED]


async def test_reopening_a_completed_task_clears_its_completion_and_is_idempotent(uow, actor):
    task = await new_task(uow, actor)
    await complete_task(uow, actor, task.id)
    reopened = await reopen_task(uow, actor, task.id)
    again = await reopen_task(uow, actor, task.id)
    assert reopened.status == "open" and reopened.completed_at is None
    assert again.version == reopened.version == 3
    assert await outbox_types(uow, actor) == [TASK_CREATED, TASK_COMPLETED, TASK_REOPENED]


async def test_reopening_an_open_task_changes_nothing(uow, actor):
    task = await new_task(uow, actor)
    assert await reopen_task(uow, actor, task.id) == task


# --- trash ---------------------------------------------------------------------------------------------


async def test_a_deleted_task_answers_not_found_until_restored(uow, actor, clock: Clock):
    clock.set(T0)
    task = await new_task(uow, actor, tags=["a"])
    deleted = await delete_task(uow, actor, task.id)
    assert deleted.deleted_at == T0
    for call in (
        get_task(uow, actor, task.id),
        update_task(uow, actor, task.id, TaskUpdate(title="x")),
        complete_task(uow, actor, task.id),
        reopen_task(uow, actor, task.id),
        set_priority(uow, actor, task.id, "high"),
        add_tags(uow, actor, task.id, ["b"]),
        set_due_date(uow, actor, task.id, "2026-05-01"),
        delete_task(uow, actor, task.id),
        bulk_complete(uow, actor, [task.id]),
    ):
        with pytest.raises(TaskNotFound):
            await call
    restored = await restore_task(uow, actor, task.id)
    assert restored.deleted_at is None and restored.tags == ["a"] and restored.status == "open"
    assert await get_task(uow, actor, task.id) == restored
    assert await outbox_types(uow, actor) == [TASK_CREATED, TASK_DELETED, TASK_RESTORED]


async def test_a_deleted_task_is_listed_only_in_the_trash(uow, actor):
    kept = await new_task(uow, actor, "kept")
    gone = await new_task(uow, actor, "gone")
    await delete_task(uow, actor, gone.id)
    assert [t.id for t in (await list_tasks(uow, actor)).data] == [kept.id]
    trash = await list_tasks(uow, actor, TaskQuery(status=["deleted"]))
    assert [t.id for t in trash.data] == [gone.id]


async def test_restoring_a_task_that_is_not_in_the_trash_changes_nothing(uow, actor):
    task = await new_task(uow, actor)
    assert await restore_task(uow, actor, task.id) == task


async def test_a_completed_task_keeps_its_completion_through_delete_and_restore(uow, actor):
    task = await new_task(uow, actor)
    done = await complete_task(uow, actor, task.id)
    await delete_task(uow, actor, task.id)
    restored = await restore_task(uow, actor, task.id)
    assert restored.status == "completed" and restored.completed_at == done.completed_at


# --- single fields ---------------------------------------------------------------------------------------


async def test_setting_and_clearing_the_priority(uow, actor):
    task = await new_task(uow, actor)
    assert (await set_priority(uow, actor, task.id, "URGENT")).priority == "urgent"
    assert (await set_priority(uow, actor, task.id, None)).priority == "none"
    assert (await set_priority(uow, actor, task.id, "low")).priority == "low"
    cleared = await set_priority(uow, actor, task.id, "none")
    assert cleared.priority == "none" and cleared.version == 5


async def test_adding_tags_normalizes_case_whitespace_and_duplicates(uow, actor):
    task = await new_task(uow, actor, tags=["work"])
    tagged = await add_tags(uow, actor, task.id, ["  WORK ", "Deep   Focus", "deep focus", "#Later"])
    assert tagged.tags == ["deep focus", "later", "work"]
    assert tagged.version == 2


async def test_adding_tags_the_task_already_has_changes_nothing(uow, actor):
    task = await new_task(uow, actor, tags=["work"])
    assert (await add_tags(uow, actor, task.id, ["Work"])).version == 1


async def test_removing_tags_normalizes_them_and_ignores_tags_the_task_does_not_carry(uow, actor):
    task = await new_task(uow, actor, tags=["work", "home", "later"])
    trimmed = await remove_tags(uow, actor, task.id, [" HOME ", "#Later", "never-had"])
    assert trimmed.tags == ["work"]
    assert (await get_task(uow, actor, task.id)).tags == ["work"]


async def test_a_task_can_carry_exactly_twenty_tags(uow, actor):
    task = await new_task(uow, actor, tags=[f"t{i}" for i in range(19)])
    full = await add_tags(uow, actor, task.id, ["t19", "T0"])
    assert len(full.tags) == 20
    with pytest.raises(InvalidInput) as err:
        await add_tags(uow, actor, task.id, ["one-too-many"])
    assert err.value.field == "tags"
    assert len((await get_task(uow, actor, task.id)).tags) == 20


async def test_a_due_with_an_offset_is_stored_as_that_moment_and_shown_in_the_users_timezone(uow):
    actor = await new_actor(uow, "America/New_York")
    task = await new_task(uow, actor)
    due = await set_due_date(uow, actor, task.id, "2026-07-01T09:00:00+02:00")
    assert due.due_at == datetime(2026, 7, 1, 7, 0, tzinfo=UTC)
    assert due.due_at.utcoffset() == timedelta(hours=-4)
    assert due.due_local == "2026-07-01 03:00 Wed"
    assert due.due_date == date(2026, 7, 1) and not due.all_day


async def test_a_due_without_an_offset_is_in_the_users_timezone(uow):
    actor = await new_actor(uow, "Asia/Tokyo")
    task = await new_task(uow, actor)
    due = await set_due_date(uow, actor, task.id, "2026-07-01T09:00")
    assert due.due_at == datetime(2026, 7, 1, 0, 0, tzinfo=UTC)
    assert due.due_local == "2026-07-01 09:00 Wed"
    naive = await set_due_date(uow, actor, task.id, datetime(2026, 7, 2, 23, 30))
    assert naive.due_at == datetime(2026, 7, 2, 14, 30, tzinfo=UTC)


async def test_a_plain_date_is_an_all_day_due(uow):
    actor = await new_actor(uow, "Pacific/Auckland")
    task = await new_task(uow, actor, due_at="2026-07-01T09:00")
    for value in ("2026-12-24", date(2026, 12, 24)):
        day = await set_due_date(uow, actor, task.id, value)
        assert day.all_day and day.due_at is None and day.due_date == date(2026, 12, 24)
        assert day.due_local == "2026-12-24 Thu (all day)"


async def test_an_aware_datetime_is_taken_as_the_moment_it_names(uow, actor):
    task = await new_task(uow, actor, due_at=datetime(2026, 7, 1, 9, 0, tzinfo=timezone(timedelta(hours=5))))
    assert task.due_at == datetime(2026, 7, 1, 4, 0, tzinfo=UTC)


async def test_a_due_after_2038_is_stored_and_read_back(uow, actor):
    task = await new_task(uow, actor, due_at="2040-01-01T09:00")
    assert (await get_task(uow, actor, task.id)).due_at == datetime(2040, 1, 1, 9, 0, tzinfo=UTC)


async def test_clearing_the_due_date_keeps_everything_else(uow, actor):
    task = await new_task(uow, actor, due_at="2026-07-01", tags=["a"], reminders=[5])
    cleared = await clear_due_date(uow, actor, task.id)
    assert cleared.due_at is None and cleared.due_date is None and not cleared.all_day
    assert cleared.tags == ["a"] and cleared.reminders == [5] and cleared.version == 2


async def test_setting_reminders_replaces_them_sorted_and_unique(uow, actor):
    task = await new_task(uow, actor, reminders=[10])
    assert (await set_reminders(uow, actor, task.id, [1440, 0, 60, 0])).reminders == [0, 60, 1440]
    assert (await set_reminders(uow, actor, task.id, [])).reminders == []


# --- recurrence through the use cases -------------------------------------------------------------------


async def test_setting_and_clearing_recurrence_keeps_the_due_date(uow, actor):
    task = await new_task(uow, actor, due_at="2026-05-04T08:00")
    recurring = await set_recurrence(uow, actor, task.id, RecurrenceSpec(rule="every monday at 09:00"))
    assert recurring.recurrence is not None and recurring.recurrence.rule == "every monday at 09:00"
    assert recurring.series_id == task.id
    stopped = await clear_recurrence(uow, actor, task.id)
    assert stopped.recurrence is None and stopped.due_at == task.due_at


async def test_making_a_task_without_a_due_recur_gives_it_its_first_occurrence(uow, actor, clock: Clock):
    clock.set(datetime(2026, 3, 4, 12, 0, tzinfo=UTC))  # a Wednesday
    task = await new_task(uow, actor)
    recurring = await set_recurrence(uow, actor, task.id, RecurrenceSpec(rule="every monday at 09:00"))
    assert recurring.due_at == datetime(2026, 3, 9, 9, 0, tzinfo=UTC)
    assert recurring.recurrence is not None and recurring.series_id == task.id


async def test_completing_a_daily_task_across_the_spring_change_keeps_nine_oclock(uow, clock: Clock):
    actor = await new_actor(uow, "America/New_York")
    clock.set(datetime(2026, 3, 7, 15, 0, tzinfo=UTC))
    task = await new_task(uow, actor, "Stand-up", tags=["work"], reminders=[10], due_at="2026-03-07T09:00",
                      recurrence=RecurrenceSpec(rule="daily"))
    await complete_task(uow, actor, task.id)
    successor = await create_successor(uow, actor, task.id)
    assert successor is not None
    assert successor.due_at is not None and successor.due_at.isoformat() == "2026-03-08T09:00:00-04:00"
    assert (successor.title, successor.tags, successor.reminders) == ("Stand-up", ["work"], [10])
    assert successor.recurrence == task.recurrence
    assert successor.series_id == task.id and successor.predecessor_id == task.id
    assert successor.status == "open"


async def test_reopening_and_recompleting_never_creates_a_second_successor(uow, actor):
    task = await new_task(uow, actor, due_at="2026-05-04T08:00", recurrence=RecurrenceSpec(rule="daily"))
    await complete_task(uow, actor, task.id)
    first = await create_successor(uow, actor, task.id)
    await reopen_task(uow, actor, task.id)
    await complete_task(uow, actor, task.id)
    second = await create_successor(uow, actor, task.id)
    assert first is not None and second is not None and second.id == first.id
    assert await task_rows(uow, actor) == 2


async def test_an_open_or_non_recurring_task_has_no_successor(uow, actor):
    recurring = await new_task(uow, actor, due_at="2026-05-04T08:00", recurrence=RecurrenceSpec(rule="daily"))
    plain = await new_task(uow, actor, due_at="2026-05-04T08:00")
    await complete_task(uow, actor, plain.id)
    assert await create_successor(uow, actor, recurring.id) is None
    assert await create_successor(uow, actor, plain.id) is None
    assert await task_rows(uow, actor) == 2


async def test_a_series_with_a_count_stops_after_that_many_instances(uow, actor):
    task = await new_task(uow, actor, due_at="2026-05-04T08:00", recurrence=RecurrenceSpec(rule="daily", count=2))
    await complete_task(uow, actor, task.id)
    second = await create_successor(uow, actor, task.id)
    assert second is not None
    await complete_task(uow, actor, second.id)
    assert await create_successor(uow, actor, second.id) is None


async def test_completion_mode_counts_from_the_completion_time(uow, actor, clock: Clock):
    task = await new_task(uow, actor, due_at="2026-05-04T08:00",
                      recurrence=RecurrenceSpec(rule="daily", mode="completion"))
    clock.set(datetime(2026, 5, 10, 12, 0, tzinfo=UTC))
    await complete_task(uow, actor, task.id)
    successor = await create_successor(uow, actor, task.id)
    assert successor is not None and successor.due_at == datetime(2026, 5, 11, 8, 0, tzinfo=UTC)


# --- optimistic concurrency ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call",
    [
        lambda uow, a, i, v: update_task(uow, a, i, TaskUpdate(title="new"), expected_version=v),
        lambda uow, a, i, v: complete_task(uow, a, i, expected_version=v),
        lambda uow, a, i, v: delete_task(uow, a, i, expected_version=v),
        lambda uow, a, i, v: set_priority(uow, a, i, "high", expected_version=v),
        lambda uow, a, i, v: add_tags(uow, a, i, ["x"], expected_version=v),
        lambda uow, a, i, v: set_due_date(uow, a, i, "2026-01-01", expected_version=v),
        lambda uow, a, i, v: set_reminders(uow, a, i, [5], expected_version=v),
        lambda uow, a, i, v: set_recurrence(uow, a, i, RecurrenceSpec(rule="daily"), expected_version=v),
    ],
    ids=["update", "complete", "delete", "priority", "tags", "due", "reminders", "recurrence"],
)
async def test_a_stale_expected_version_is_a_conflict_and_changes_nothing(uow, actor, call):
    task = await new_task(uow, actor, "v1")
    current = await update_task(uow, actor, task.id, TaskUpdate(title="v2"))
    with pytest.raises(VersionConflict) as err:
        await call(uow, actor, task.id, 1)
    assert err.value.field == "version" and err.value.actual == 2 and err.value.expected == 1
    assert await get_task(uow, actor, task.id) == current
    assert await outbox_types(uow, actor) == [TASK_CREATED, TASK_UPDATED]
    changed = await call(uow, actor, task.id, 2)
    assert changed.version == 3


# --- idempotency ----------------------------------------------------------------------------------------


async def test_the_same_idempotency_key_and_payload_returns_the_first_task_and_writes_one_row(uow, actor):
    data = TaskCreate(title="Book flights", tags=["travel"], due_at="2026-08-01")
    first = await create_task(uow, actor, data, idempotency_key="req-1")
    again = await create_task(uow, actor, data.model_copy(), idempotency_key="req-1")
    assert again == first
    assert await task_rows(uow, actor) == 1
    assert await outbox_types(uow, actor) == [TASK_CREATED]


async def test_a_replayed_key_returns_the_task_even_after_it_changed(uow, actor):
    data = TaskCreate(title="Book flights")
    first = await create_task(uow, actor, data, idempotency_key="req-1")
    await complete_task(uow, actor, first.id)
    again = await create_task(uow, actor, data, idempotency_key="req-1")
    assert again.id == first.id
    assert await task_rows(uow, actor) == 1


async def test_the_same_idempotency_key_with_another_payload_is_refused(uow, actor):
    await create_task(uow, actor, TaskCreate(title="Book flights"), idempotency_key="req-1")
    with pytest.raises(IdempotencyConflict) as err:
        await create_task(uow, actor, TaskCreate(title="Book hotel"), idempotency_key="req-1")
    assert err.value.field == "idempotency_key"
    assert await task_rows(uow, actor) == 1


async def test_idempotency_keys_belong_to_one_user(uow, actor, other):
    mine = await create_task(uow, actor, TaskCreate(title="Mine"), idempotency_key="shared")
    theirs = await create_task(uow, other, TaskCreate(title="Theirs"), idempotency_key="shared")
    assert theirs.id != mine.id and theirs.title == "Theirs"


async def test_creating_without_a_key_twice_makes_two_tasks(uow, actor):
    data = TaskCreate(title="Twice")
    await create_task(uow, actor, data)
    await create_task(uow, actor, data)
    assert await task_rows(uow, actor) == 2


# --- another user's task ---------------------------------------------------------------------------------

Call = Callable[[UnitOfWork, Actor, int], Awaitable[object]]

_BY_ID: list[tuple[str, Call]] = [
    ("get", lambda u, a, i: get_task(u, a, i)),
    ("update", lambda u, a, i: update_task(u, a, i, TaskUpdate(title="mine now"))),
    ("complete", lambda u, a, i: complete_task(u, a, i)),
    ("reopen", lambda u, a, i: reopen_task(u, a, i)),
    ("delete", lambda u, a, i: delete_task(u, a, i)),
    ("restore", lambda u, a, i: restore_task(u, a, i)),
    ("set_priority", lambda u, a, i: set_priority(u, a, i, "urgent")),
    ("add_tags", lambda u, a, i: add_tags(u, a, i, ["stolen"])),
    ("remove_tags", lambda u, a, i: remove_tags(u, a, i, ["theirs"])),
    ("set_due_date", lambda u, a, i: set_due_date(u, a, i, "2026-01-01")),
    ("clear_due_date", lambda u, a, i: clear_due_date(u, a, i)),
    ("set_recurrence", lambda u, a, i: set_recurrence(u, a, i, RecurrenceSpec(rule="daily"))),
    ("clear_recurrence", lambda u, a, i: clear_recurrence(u, a, i)),
    ("set_reminders", lambda u, a, i: set_reminders(u, a, i, [0])),
    ("create_successor", lambda u, a, i: create_successor(u, a, i)),
    ("bulk_complete", lambda u, a, i: bulk_complete(u, a, [i])),
    ("bulk_delete", lambda u, a, i: bulk_delete(u, a, [i])),
    ("bulk_set_priority", lambda u, a, i: bulk_set_priority(u, a, [i], "high")),
    ("bulk_add_tags", lambda u, a, i: bulk_add_tags(u, a, [i], ["stolen"])),
]


@pytest.mark.parametrize("call", [c for _, c in _BY_ID], ids=[n for n, _ in _BY_ID])
async def test_another_users_task_is_not_found_and_untouched(uow, actor, other, call):
    theirs = await new_task(uow, other, "Theirs", tags=["theirs"], due_at="2026-05-04T08:00",
                        recurrence=RecurrenceSpec(rule="daily"))
    before = await complete_task(uow, other, theirs.id)  # completed: create_successor would act on it
    with pytest.raises(TaskNotFound) as err:
        await call(uow, actor, theirs.id)
    assert err.value.field == "id" and err.value.task_id == theirs.id
    assert await get_task(uow, other, theirs.id) == before
    assert await outbox_types(uow, actor) == []


async def test_restoring_another_users_trashed_task_is_not_found(uow, actor, other):
    theirs = await new_task(uow, other)
    await delete_task(uow, other, theirs.id)
    with pytest.raises(TaskNotFound):
        await restore_task(uow, actor, theirs.id)
    trash = await list_tasks(uow, other, TaskQuery(status=["deleted"]))
    assert [t.id for t in trash.data] == [theirs.id]


# --- bulk ----------------------------------------------------------------------------------------------


async def test_bulk_requests_change_every_task_in_one_go(uow, actor, clock: Clock):
    clock.set(T0)
    ids = [(await new_task(uow, actor, f"t{i}", tags=["a"])).id for i in range(3)]
    assert (await bulk_set_priority(uow, actor, ids, "high")).count == 3
    tagged = await bulk_add_tags(uow, actor, [*ids, ids[0]], ["B", "b"])
    assert tagged.count == 3 and all(t.tags == ["a", "b"] for t in tagged.data)
    done = await bulk_complete(uow, actor, ids)
    assert [t.id for t in done.data] == ids and all(t.status == "completed" for t in done.data)
    gone = await bulk_delete(uow, actor, ids)
    assert all(t.deleted_at == T0 for t in gone.data)
    assert (await list_tasks(uow, actor)).count == 0


@pytest.mark.parametrize(
    "bulk",
    [
        lambda u, a, ids: bulk_complete(u, a, ids),
        lambda u, a, ids: bulk_delete(u, a, ids),
        lambda u, a, ids: bulk_set_priority(u, a, ids, "urgent"),
        lambda u, a, ids: bulk_add_tags(u, a, ids, ["new"]),
    ],
    ids=["complete", "delete", "priority", "tags"],
)
async def test_a_bulk_request_with_one_foreign_id_leaves_every_task_unchanged(uow, actor, other, bulk):
    mine = [await new_task(uow, actor, f"mine {i}") for i in range(3)]
    theirs = await new_task(uow, other, "theirs")
    with pytest.raises(TaskNotFound) as err:
        await bulk(uow, actor, [mine[0].id, mine[1].id, theirs.id, mine[2].id])
    assert err.value.task_id == theirs.id
    assert [await get_task(uow, actor, t.id) for t in mine] == mine
    assert await get_task(uow, other, theirs.id) == theirs
    assert await outbox_types(uow, actor) == [TASK_CREATED] * 3


async def test_a_bulk_request_that_breaks_a_rule_on_one_task_leaves_every_task_unchanged(uow, actor):
    roomy = await new_task(uow, actor, "roomy")
    full = await new_task(uow, actor, "full", tags=[f"t{i}" for i in range(20)])
    with pytest.raises(InvalidInput) as err:
        await bulk_add_tags(uow, actor, [roomy.id, full.id], ["extra"])
    assert err.value.field == "tags"
    assert await get_task(uow, actor, roomy.id) == roomy
    assert await get_task(uow, actor, full.id) == full


async def test_a_bulk_request_with_a_trashed_task_fails_as_a_whole(uow, actor):
    live = await new_task(uow, actor, "live")
    trashed = await new_task(uow, actor, "trashed")
    await delete_task(uow, actor, trashed.id)
    with pytest.raises(TaskNotFound):
        await bulk_complete(uow, actor, [live.id, trashed.id])
    assert (await get_task(uow, actor, live.id)).status == "open"


async def test_bulk_completing_tasks_already_completed_writes_nothing_for_them(uow, actor):
    a = await new_task(uow, actor, "a")
    b = await new_task(uow, actor, "b")
    await complete_task(uow, actor, a.id)
    await bulk_complete(uow, actor, [a.id, b.id])
    assert (await get_task(uow, actor, a.id)).version == 2
    assert await outbox_types(uow, actor) == [TASK_CREATED, TASK_CREATED, TASK_COMPLETED, TASK_COMPLETED]


# --- the model's life cycle, the field table, joining an open transaction --------------------------------


def test_each_life_cycle_step_names_its_event_and_a_step_already_taken_names_none():
    task = Task(owner_id=1, title="t", title_key="t", created_at=T0, updated_at=T0)
    assert task.complete(T0) == TASK_COMPLETED
    assert task.complete(T0 + timedelta(hours=1)) is None and task.completed_at == T0
    assert task.reopen() == TASK_REOPENED and task.completed_at is None
    assert task.reopen() is None
    assert task.delete(T0) == TASK_DELETED and task.deleted_at == T0
    assert task.restore() == TASK_RESTORED and task.deleted_at is None
    assert task.restore() is None


def test_every_field_an_update_can_give_has_one_row_in_the_field_table():
    assert sorted(field.name for field in FIELDS) == sorted(set(TaskUpdate.model_fields) - MOVE_FIELDS)


async def test_a_use_case_joined_to_an_open_transaction_commits_and_rolls_back_with_it(uow, actor):
    with pytest.raises(RuntimeError):
        async with uow.write() as tx:
            await create_task(uow.joined(tx), actor, TaskCreate(title="Rolled back"))
            raise RuntimeError("the transaction's owner fails after the use case")
    assert await task_rows(uow, actor) == 0
    async with uow.write() as tx:
        kept = await create_task(uow.joined(tx), actor, TaskCreate(title="Kept"))
    assert await get_task(uow, actor, kept.id) == kept
    assert await outbox_types(uow, actor) == [TASK_CREATED]  # its event committed with the owner's transaction
