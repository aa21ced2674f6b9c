"""Task use cases: create, get, update, move, complete, reopen, delete, restore.

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

Projects and subtasks (domain.usecases.subtasks): a task is in one project (the Inbox by default) and may sit under
a parent in the same project, at most three levels deep. Moving a task moves its subtree; completing a parent with
open subtasks needs `subtasks="complete"`; deleting a parent trashes its live subtree, and restoring it brings back
the subtasks deleted with it. Each of these is one operation: undo reverts all of it.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlmodel import col, select

from domain.errors import IdempotencyConflict, InvalidInput
from domain.events import TASK_CREATED
from domain.models import IdempotencyRecord, Task
from domain.schemas import SubtaskChoice, SubtaskView, TaskCreate, TaskMove, TaskUpdate, TaskView
from domain.timeutil import parse_due
from domain.uow import Tx, UnitOfWork
from domain.usecases.common import (
    Actor,
    emit_change,
    fresh_view,
    load_task,
    load_task_and_tags,
    replace_tags,
    set_due,
    set_text,
    subtask_counts,
    tags_of,
    to_view,
)
from domain.usecases.mutation import Apply, Draft, complete, delete, mutate, reopen, restore
from domain.usecases.recurring import apply_recurrence
from domain.usecases.subtasks import (
    KEEP,
    check_subtasks_done,
    descendants,
    move_root,
    move_subtree,
    placement,
    plan_move,
    restorable,
)
from domain.usecases.task_fields import FIELDS
from domain.values import Priority, Status, check_description, check_title, normalize_reminders, normalize_tags


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
    project_id, parent_id = await placement(tx, actor, data.project, data.parent_id)
    task = Task(owner_id=actor.id, project_id=project_id, parent_id=parent_id, title="", title_key="",
                created_at=tx.now, updated_at=tx.now)
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
    body = data.model_dump(mode="json")
    for later in ("project", "parent_id"):  # fields added since keys were first recorded: absent hashes as before
        if body[later] is None:
            del body[later]
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


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
    """One of the actor's tasks (not in the trash), with its direct subtasks (`subtasks`, when it has any)."""
    async with uow.read() as tx:
        task, tags, counts = await load_task_and_tags(tx, actor, task_id)
        view = to_view(task, tags, actor.tz, counts)
        if not counts.subtasks:
            return view
        total, open_ = subtask_counts()
        stmt = (select(Task, total, open_)
                .where(col(Task.parent_id) == task.id, col(Task.deleted_at).is_(None)).order_by(col(Task.id)))
        rows = (await tx.session.exec(stmt)).all()
    view.subtasks = [SubtaskView(id=sub.id or 0, title=sub.title, status=Status(sub.status), subtask_count=int(n),
                                 open_subtask_count=int(o)) for sub, n, o in rows]
    return view


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
    """Change only the fields given; recurrence, tags and reminders not mentioned stay as they are. `project` and
    `parent_id` move the task as move_task does."""
    async with uow.write() as tx:
        apply = _update_applier(data, actor.tz, tx.now)
        given = data.model_fields_set
        if not given & {"project", "parent_id"}:
            return await mutate(tx, actor, task_id, apply, expected_version=expected_version)
        where = TaskMove(**{name: getattr(data, name) for name in given & {"project", "parent_id"}})
        return await _move(tx, actor, task_id, where, apply, expected_version)


async def move_task(
    uow: UnitOfWork, actor: Actor, task_id: int, data: TaskMove, *, expected_version: int | None = None
) -> TaskView:
    """Move a task with its subtasks: to a project (top-level there) and/or under a parent (into the parent's
    project); an explicit null parent_id makes it top-level, an explicit null project is the Inbox."""
    async with uow.write() as tx:
        return await _move(tx, actor, task_id, data, lambda _draft: None, expected_version)


async def _move(tx: Tx, actor: Actor, task_id: int, data: TaskMove, apply: Apply,
                expected_version: int | None) -> TaskView:
    given = data.model_fields_set
    task = await load_task(tx, actor, task_id, for_update=True)
    move = await plan_move(tx, actor, task, project=data.project if "project" in given else KEEP,
                           parent_id=data.parent_id if "parent_id" in given else KEEP)
    if move is None:
        return await mutate(tx, actor, task_id, apply, expected_version=expected_version)
    placed = move_root(move)

    def both(draft: Draft) -> str | None:
        placed(draft)
        return apply(draft)

    view = await mutate(tx, actor, task_id, both, expected_version=expected_version)
    await move_subtree(tx, actor, move)
    return view


async def complete_task(
    uow: UnitOfWork, actor: Actor, task_id: int, *, expected_version: int | None = None,
    subtasks: SubtaskChoice = "refuse",
) -> TaskView:
    """Mark a task completed (completing a completed task changes nothing). With open subtasks it is refused
    unless subtasks="complete", which completes them (every level) in the same operation."""
    async with uow.write() as tx:
        return await complete_with_subtasks(tx, actor, task_id, subtasks, expected_version=expected_version)


async def complete_with_subtasks(tx: Tx, actor: Actor, task_id: int, choice: SubtaskChoice, *,
                                 expected_version: int | None = None, also: frozenset[int] = frozenset()) -> TaskView:
    """Complete a task and, if `choice` allows, its open subtasks (those in `also` are completed by the caller)."""
    await load_task(tx, actor, task_id)  # not found before anything about its subtasks
    below = await check_subtasks_done(tx, task_id, choice, also_completing=also)
    view = await mutate(tx, actor, task_id, complete, expected_version=expected_version)
    for subtask_id in below:
        await mutate(tx, actor, subtask_id, complete)
    return await fresh_view(tx, actor, task_id) if below else view


async def reopen_task(uow: UnitOfWork, actor: Actor, task_id: int, *, expected_version: int | None = None) -> TaskView:
    """Mark a completed task open again."""
    async with uow.write() as tx:
        return await mutate(tx, actor, task_id, reopen, expected_version=expected_version)


async def delete_task(uow: UnitOfWork, actor: Actor, task_id: int, *, expected_version: int | None = None) -> TaskView:
    """Move a task to the trash with its subtasks (every level); it answers not found until restored."""
    async with uow.write() as tx:
        view, _ = await delete_with_subtasks(tx, actor, task_id, expected_version=expected_version)
        return view


async def delete_with_subtasks(tx: Tx, actor: Actor, task_id: int, *,
                               expected_version: int | None = None) -> tuple[TaskView, list[int]]:
    """Trash a task and its live subtree at one moment (restore finds them by it); returns the subtasks' ids."""
    view = await mutate(tx, actor, task_id, delete, expected_version=expected_version)
    below = [i for i, _ in await descendants(tx, task_id, deleted_at=None)]
    for subtask_id in below:
        await mutate(tx, actor, subtask_id, delete)
    return (await fresh_view(tx, actor, task_id) if below else view), below


async def restore_task(
    uow: UnitOfWork, actor: Actor, task_id: int, *, expected_version: int | None = None
) -> TaskView:
    """Take a task out of the trash with the subtasks deleted with it (not those trashed earlier on their own);
    a task whose project was deleted meanwhile returns to the Inbox."""
    async with uow.write() as tx:
        task = await load_task(tx, actor, task_id, include_deleted=True, for_update=True)
        if task.deleted_at is None:
            return await mutate(tx, actor, task_id, restore, expected_version=expected_version)
        together, inbox_id = await restorable(tx, actor, task)

        def back(draft: Draft) -> str | None:
            if inbox_id is not None:
                draft.task.project_id = inbox_id
                if draft.task.id == task_id:
                    draft.task.parent_id = None
            return draft.task.restore()

        view = await mutate(tx, actor, task_id, back, expected_version=expected_version, include_deleted=True)
        for subtask_id in together:
            await mutate(tx, actor, subtask_id, back, include_deleted=True)
        return await fresh_view(tx, actor, task_id) if together else view

