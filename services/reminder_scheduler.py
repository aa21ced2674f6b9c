"""The reminder scheduler: fires due reminders as `reminder.due` events, each in the transaction marking it sent."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from sqlmodel import col, select

from domain.events import REMINDER_DUE, ReminderDueV1
from domain.models import Task
from domain.uow import Tx, UnitOfWork
from domain.values import Status
from services.tables import ReminderSchedule

logger = logging.getLogger(__name__)

DEFAULT_GRACE = timedelta(seconds=60)


async def run_scheduler(
    uow: UnitOfWork, *, every: float = 0.5, grace: timedelta = DEFAULT_GRACE, batch: int = 100
) -> None:
    """Fire due reminders every `every` seconds until cancelled (the clock is the unit of work's)."""
    while True:
        try:
            while await fire_due(uow, grace=grace, batch=batch) == batch:
                pass
        except Exception:
            logger.exception("reminder scheduler pass failed; will retry")
        await asyncio.sleep(every)


async def fire_due(uow: UnitOfWork, *, grace: timedelta = DEFAULT_GRACE, batch: int = 100) -> int:
    """Send up to `batch` reminders due by now (late if more than `grace` overdue); returns how many rows it took."""
    async with uow.write() as tx:
        stmt = (
            select(ReminderSchedule)
            .where(col(ReminderSchedule.sent_at).is_(None), col(ReminderSchedule.fire_at) <= tx.now)
            .order_by(col(ReminderSchedule.fire_at), col(ReminderSchedule.id))
            .limit(batch)
        )
        rows = list((await tx.session.exec(tx.for_update(stmt, skip_locked=True))).all())
        if not rows:
            return 0
        # Lock the tasks against a concurrent completion until this commits: never remind of a completed task.
        task_stmt = select(Task).where(col(Task.id).in_({r.task_id for r in rows}))
        tasks = {t.id: t for t in (await tx.session.exec(tx.for_update(task_stmt, read=True))).all()}
        for row in rows:
            task = tasks.get(row.task_id)
            if task is None or not _still_wanted(row, task):
                await tx.session.delete(row)  # stale: the event that changed the task reschedules it
                continue
            _send(tx, row, task, late=tx.now - row.fire_at > grace)
        return len(rows)


def _still_wanted(row: ReminderSchedule, task: Task) -> bool:
    """The task is open, not deleted, still due when the row was computed for, and still has this offset."""
    return (
        task.owner_id == row.user_id
        and task.deleted_at is None
        and task.status == Status.OPEN
        and task.due_at == row.due_at
        and (task.due_date == row.due_date if task.all_day else row.due_date is None)
        and row.offset_minutes in task.reminders
    )


def _send(tx: Tx, row: ReminderSchedule, task: Task, *, late: bool) -> None:
    row.sent_at, row.late = tx.now, late
    tx.session.add(row)
    data = ReminderDueV1(
        user_id=row.user_id, task_id=row.task_id, title=task.title, due_at=row.due_at, due_date=row.due_date,
        offset_minutes=row.offset_minutes, scheduled_for=row.fire_at, late=late,
    )
    tx.emit(REMINDER_DUE, data, user_id=row.user_id, subject=str(row.task_id))
    if late:
        logger.info("reminder for task %s (%s min) sent late; it was due at %s", row.task_id, row.offset_minutes,
                    row.fire_at.isoformat())
