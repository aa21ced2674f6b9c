"""Task use cases: create, get, update, complete, reopen, delete, restore.

How to add a task field (say `estimate`), the places that remain:
1. `domain/models.py` `Task`: the column; and a migration in `runtime/migrations/versions/`.
2. `domain/schemas.py`: `TaskCreate`, `TaskUpdate` and `TaskView`; then re-export the event JSON Schemas
   (`TaskView` is in every task event).
3. `domain/usecases/task_fields.py` `FIELDS`: one row saying how an update checks it, how it lands on the task and
   how undo puts it back; update_task and undo_last_change need nothing else.
4. `to_view` in `domain/usecases/common.py` (task -> TaskView) and `_insert` in this module (a new task's value).
5. `mcp_server`: the `add_task` and `update_task` tool arguments and `shapes.TaskRow` if lists show it.
6. `services/recurrence.py` `as_task` only if the recurrence functions read it; `recurring._copy` if a
   successor inherits it.
The life cycle (complete, reopen, delete, restore) is `Task`'s methods, each returning its event type.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlmodel import select

from domain.errors import IdempotencyConflict, InvalidInput
from domain.events import TASK_CREATED
from domain.models import IdempotencyRecord, Task
from domain.schemas import TaskCreate, TaskUpdate, TaskView
from domain.timeutil import parse_due
from domain.uow import Tx, UnitOfWork
from domain.usecases.common import (
    Actor,
    emit_change,
    load_task,
    load_task_and_tags,
    replace_tags,
    set_due,
    set_text,
    tags_of,
    to_view,
)
from domain.usecases.mutation import Apply, Draft, complete, delete, mutate, reopen, restore
from domain.usecases.recurring import apply_recurrence
from domain.usecases.task_fields import FIELDS
from domain.values import Priority, check_description, check_title, normalize_reminders, normalize_tags


async def create_task(
    uow: UnitOfWork, actor: Actor, data: TaskCreate, *, idempotency_key: str | None = None
) -> TaskView:
    """Create a task; the same idempotency key with the same payload returns the first result."""
    async with uow.write() as tx:
        if idempotency_key is not None:
            existing = await _replay(tx, actor, idempotency_key, _request_hash(data))
            if existing is not None:
                return existing
        view = await _insert(tx, actor, data)
        if idempotency_key is not None:
            tx.session.add(
                IdempotencyRecord(
                    user_id=actor.id, key=idempotency_key, request_hash=_request_hash(data),
                    task_id=view.id, created_at=tx.now,
                )
            )
        return view


async def _insert(tx: Tx, actor: Actor, data: TaskCreate) -> TaskView:
    tz = actor.tz
    task = Task(owner_id=actor.id, title="", title_key="", created_at=tx.now, updated_at=tx.now)
    set_text(task, check_title(data.title), check_description(data.description))
    task.priority = Priority.parse(data.priority).rank
    tags = normalize_tags(data.tags)
    task.reminders = normalize_reminders(data.reminders)
    if data.due_at is not None:
        set_due(task, parse_due(data.due_at, tz, tx.now), tz)
    if data.recurrence is not None:
        apply_recurrence(task, data.recurrence, tz, tx.now)
    tx.session.add(task)
    await tx.session.flush()
    assert task.id is not None
    if task.recurrence_rule:
        task.series_id = task.id
    await replace_tags(tx, task, tags, new=True)
    view = to_view(task, tags, tz)
    emit_change(tx, actor.name, TASK_CREATED, None, view, actor.id)
    return view


def _request_hash(data: TaskCreate) -> str:
    body = json.dumps(data.model_dump(mode="json"), sort_keys=True)
    return hashlib.sha256(body.encode()).hexdigest()


async def _replay(tx: Tx, actor: Actor, key: str, request_hash: str) -> TaskView | None:
    if not key or len(key) > 255:
        raise InvalidInput("an idempotency key is 1..255 characters", field="idempotency_key")
    record = (
        await tx.session.exec(
            select(IdempotencyRecord).where(IdempotencyRecord.user_id == actor.id, IdempotencyRecord.key == key)
        )
    ).first()
    if record is None:
        return None
    if record.request_hash != request_hash:
        raise IdempotencyConflict(key)
    task = await load_task(tx, actor, record.task_id, include_deleted=True)
    return to_view(task, (await tags_of(tx, [record.task_id]))[record.task_id], actor.tz)


async def get_task(uow: UnitOfWork, actor: Actor, task_id: int) -> TaskView:
    """One of the actor's tasks (not in the trash)."""
    async with uow.read() as tx:
        task, tags = await load_task_and_tags(tx, actor, task_id)
        return to_view(task, tags, actor.tz)


def _update_applier(data: TaskUpdate, tz: ZoneInfo, now: datetime) -> Apply:
    """Check a partial update up front (before the task is loaded) and return the change that applies it."""
    given = data.model_fields_set
    checked = [(field, field.check(getattr(data, field.name), tz, now)) for field in FIELDS if field.name in given]

    def apply(draft: Draft) -> None:
        for field, value in checked:
            field.apply(draft, value)

    return apply


async def update_task(
    uow: UnitOfWork, actor: Actor, task_id: int, data: TaskUpdate, *, expected_version: int | None = None
) -> TaskView:
    """Change only the fields given; recurrence, tags and reminders not mentioned stay as they are."""
    async with uow.write() as tx:
        apply = _update_applier(data, actor.tz, tx.now)
        return await mutate(tx, actor, task_id, apply, expected_version=expected_version)


async def complete_task(
    uow: UnitOfWork, actor: Actor, task_id: int, *, expected_version: int | None = None
) -> TaskView:
    """Mark a task completed (completing a completed task changes nothing)."""
    async with uow.write() as tx:
        return await mutate(tx, actor, task_id, complete, expected_version=expected_version)


async def reopen_task(uow: UnitOfWork, actor: Actor, task_id: int, *, expected_version: int | None = None) -> TaskView:
    """Mark a completed task open again."""
    async with uow.write() as tx:
        return await mutate(tx, actor, task_id, reopen, expected_version=expected_version)


async def delete_task(uow: UnitOfWork, actor: Actor, task_id: int, *, expected_version: int | None = None) -> TaskView:
    """Move a task to the trash; it answers not found until restored."""
    async with uow.write() as tx:
        return await mutate(tx, actor, task_id, delete, expected_version=expected_version)


async def restore_task(
    uow: UnitOfWork, actor: Actor, task_id: int, *, expected_version: int | None = None
) -> TaskView:
    """Take a task out of the trash."""
    async with uow.write() as tx:
        return await mutate(tx, actor, task_id, restore, expected_version=expected_version, include_deleted=True)

