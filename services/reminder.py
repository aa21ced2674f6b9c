"""The reminder service's handler: keeps each task's pending reminders in step with its newest snapshot."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, time

import sqlalchemy as sa
from sqlmodel import col, select

from domain.events import TaskChanged
from domain.models import User
from domain.schemas import TaskSnapshotV1
from domain.timeutil import Due, zone
from domain.uow import Tx
from domain.values import Status
from services.consumer import Event, decode_task_change
from services.reminder_times import fire_times
from services.tables import ReminderSchedule, ReminderTaskState

logger = logging.getLogger(__name__)

DEFAULT_ALL_DAY_AT = time(9, 0)


async def on_task_event(tx: Tx, event: Event, *, all_day_at: time = DEFAULT_ALL_DAY_AT) -> None:
    """Replace a task's pending reminders by those its snapshot asks for (none once completed or deleted)."""
    change = decode_task_change(event)
    task = change.task
    if not await _advance(tx, task.id, change.user_id, task.version):
        logger.debug("reminder: task %s v%s is not newer than applied; ignored", task.id, task.version)
        return
    await tx.session.exec(sa.delete(ReminderSchedule).where(
        col(ReminderSchedule.task_id) == task.id, col(ReminderSchedule.sent_at).is_(None)
    ))
    due = due_of(task)
    if due is None or not task.reminders or task.status != Status.OPEN or task.deleted_at is not None:
        return
    user = await tx.session.get(User, change.user_id)
    if user is None:
        return
    times = fire_times(due, task.reminders, zone(user.timezone), all_day_at)
    _schedule(tx, change.user_id, task, due, times, (await _sent(tx, [task.id])).get(task.id, set()))


async def on_task_events(tx: Tx, events: list[Event], *, all_day_at: time = DEFAULT_ALL_DAY_AT) -> None:
    """`on_task_event` for a batch: only each task's newest snapshot matters (it replaces what the older ones would
    have scheduled), and each step is one statement for all the tasks."""
    newest: dict[int, TaskChanged] = {}
    for event in events:
        change = decode_task_change(event)  # Poison: the batch is rolled back and delivered one by one
        seen = newest.get(change.task.id)
        if seen is None or change.task.version > seen.task.version:
            newest[change.task.id] = change
    if not newest:
        return
    stmt = tx.for_update(select(ReminderTaskState).where(col(ReminderTaskState.task_id).in_(list(newest))))
    states = {state.task_id: state for state in (await tx.session.exec(stmt)).all()}
    advanced = [c for c in newest.values() if (s := states.get(c.task.id)) is None or s.version < c.task.version]
    if not advanced:
        return
    for change in advanced:
        state = states.get(change.task.id) or ReminderTaskState(
            task_id=change.task.id, user_id=change.user_id, version=change.task.version, updated_at=tx.now)
        state.version, state.updated_at = change.task.version, tx.now
        tx.session.add(state)
    await tx.session.flush()  # a concurrent first delivery for one of the tasks fails here: one by one then
    await tx.session.exec(sa.delete(ReminderSchedule).where(
        col(ReminderSchedule.task_id).in_([c.task.id for c in advanced]), col(ReminderSchedule.sent_at).is_(None)
    ))
    wanted = [(c, due) for c in advanced if (due := due_of(c.task)) is not None and _wants_reminders(c.task)]
    if not wanted:
        return
    user_ids = {c.user_id for c, _ in wanted}
    users = {u.id: u for u in (await tx.session.exec(select(User).where(col(User.id).in_(user_ids)))).all()}
    sent = await _sent(tx, [c.task.id for c, _ in wanted])
    for change, due in wanted:
        if (user := users.get(change.user_id)) is None:
            continue
        times = fire_times(due, change.task.reminders, zone(user.timezone), all_day_at)
        _schedule(tx, change.user_id, change.task, due, times, sent.get(change.task.id, set()))


def _wants_reminders(task: TaskSnapshotV1) -> bool:
    return bool(task.reminders) and task.status == Status.OPEN and task.deleted_at is None


def due_of(task: TaskSnapshotV1) -> Due | None:
    """The due of a task snapshot (a UTC moment or an all-day date)."""
    if task.all_day and task.due_date is not None:
        return Due(day=task.due_date)
    if task.due_at is not None:
        return Due(at=task.due_at.astimezone(UTC))
    return None


async def _advance(tx: Tx, task_id: int, user_id: int, version: int) -> bool:
    """Record `version` as the newest applied for the task; False if it is not newer than the one applied."""
    stmt = tx.for_update(select(ReminderTaskState).where(ReminderTaskState.task_id == task_id))
    state = (await tx.session.exec(stmt)).first()
    if state is not None and state.version >= version:
        return False
    if state is None:
        state = ReminderTaskState(task_id=task_id, user_id=user_id, version=version, updated_at=tx.now)
    state.version, state.updated_at = version, tx.now
    tx.session.add(state)
    await tx.session.flush()  # a concurrent first delivery for the same task fails here and is retried
    return True


async def _sent(tx: Tx, task_ids: list[int]) -> dict[int, set[tuple[int, datetime]]]:
    """The (offset, fire time) of each task's reminders already sent, by task."""
    rows = await tx.session.exec(
        select(ReminderSchedule.task_id, ReminderSchedule.offset_minutes, ReminderSchedule.fire_at).where(
            col(ReminderSchedule.task_id).in_(task_ids), col(ReminderSchedule.sent_at).is_not(None)
        )
    )
    sent: dict[int, set[tuple[int, datetime]]] = {}
    for task_id, offset, fire_at in rows.all():
        sent.setdefault(task_id, set()).add((offset, fire_at))
    return sent


def _schedule(
    tx: Tx, user_id: int, task: TaskSnapshotV1, due: Due, times: dict[int, datetime], done: set[tuple[int, datetime]]
) -> None:
    """Add a pending row per offset, except those already sent (`done`) and those already past at the change."""
    for offset, fire_at in times.items():
        # A reminder whose moment had passed when the task was set so was never missed: it is not sent.
        if (offset, fire_at) in done or fire_at <= task.updated_at:
            continue
        tx.session.add(ReminderSchedule(
            task_id=task.id, user_id=user_id, offset_minutes=offset, fire_at=fire_at,
            due_at=due.at, due_date=due.day, created_at=tx.now,
        ))
