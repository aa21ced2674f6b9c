"""The recurrence service's handler: a completed recurring task asks the task service for its next occurrence."""

from __future__ import annotations

import logging
from datetime import UTC

from domain.events import NEXT_OCCURRENCE_REQUESTED, NextOccurrenceRequestedV1
from domain.models import Task, User
from domain.schemas import TaskSnapshotV1
from domain.timeutil import zone
from domain.uow import Tx
from domain.usecases import next_due
from services.consumer import Event, decode_task_change

logger = logging.getLogger(__name__)


async def on_task_completed(tx: Tx, event: Event) -> None:
    """On `task.completed` of a recurring task, send `recurrence.next-requested` with the next due."""
    change = decode_task_change(event)
    task = change.task
    if task.recurrence is None or task.completed_at is None:
        return
    user = await tx.session.get(User, change.user_id)
    if user is None:
        return
    due = next_due(as_task(change.user_id, task), zone(user.timezone))
    if due is None:
        logger.info("recurrence: the series of task %s has ended", task.id)
        return
    command = NextOccurrenceRequestedV1(user_id=change.user_id, predecessor_id=task.id, due_at=due.at, due_date=due.day)
    tx.emit(NEXT_OCCURRENCE_REQUESTED, command, user_id=change.user_id, subject=str(task.id))


def as_task(user_id: int, view: TaskSnapshotV1) -> Task:
    """A detached Task carrying what the domain's recurrence functions read from a snapshot."""
    assert view.recurrence is not None
    return Task(
        # project_id: the recurrence functions read no project
        id=view.id, owner_id=user_id, project_id=0, title=view.title, title_key="", status=view.status.value,
        due_at=view.due_at.astimezone(UTC) if view.due_at is not None and not view.all_day else None,
        due_date=view.due_date if view.all_day else None, all_day=view.all_day,
        recurrence_rule=view.recurrence.rule, recurrence_mode=view.recurrence.mode,
        recurrence_until=view.recurrence.until, recurrence_count=view.recurrence.count,
        completed_at=view.completed_at, created_at=view.created_at, updated_at=view.updated_at,
    )
