"""Shared pieces of the task use cases: the acting user, loading owned tasks, snapshots and change events."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.orm import aliased
from sqlmodel import col, func, select

from domain.errors import TaskNotFound, VersionConflict
from domain.events import TaskChangedV2
from domain.models import Tag, Task, TaskTag
from domain.schemas import RecurrenceView, TaskSnapshot, TaskView
from domain.timeutil import Due, render_local, zone
from domain.uow import Tx
from domain.values import Priority, Status, valid_id, words

# Fields whose change is not itself news: they move with every change.
_BOOKKEEPING = {"updated_at", "version", "due_local"}
# TaskView fields about other tasks (the subtasks): not part of the task's own snapshot or its changes.
VIEW_ONLY = frozenset({"subtask_count", "open_subtask_count", "subtasks"})


@dataclass(frozen=True)
class Counts:
    """A task's direct subtasks not in the trash, and how many of them are open."""

    subtasks: int = 0
    open: int = 0


@dataclass(frozen=True)
class Actor:
    """The user a use case acts for; every use case touches only this user's data."""

    id: int
    timezone: str = "UTC"
    is_admin: bool = False

    @property
    def tz(self) -> ZoneInfo:
        return zone(self.timezone)

    @property
    def name(self) -> str:
        return f"user:{self.id}"


def due_of(task: Task) -> Due | None:
    if task.all_day and task.due_date is not None:
        return Due(day=task.due_date)
    if task.due_at is not None:
        return Due(at=task.due_at)
    return None


def set_due(task: Task, due: Due | None, tz: ZoneInfo) -> None:
    """Store a due date (or none) and its sort key."""
    task.due_at = due.at if due else None
    task.due_date = due.day if due else None
    task.all_day = bool(due and due.all_day)
    task.due_key = due.key(tz) if due else None


def set_text(task: Task, title: str, description: str) -> None:
    """Set title and description with their derived sort and search keys."""
    task.title = title
    task.description = description
    task.title_key = title.casefold()
    task.search_text = " ".join(words(f"{title} {description}"))


def to_view(task: Task, tags: list[str], tz: ZoneInfo, counts: Counts | None = None) -> TaskView:
    """The public shape of a task, with its due rendered in the user's timezone and its subtask counts."""
    assert task.id is not None
    counts = counts or Counts()
    due = due_of(task)
    recurrence = None
    if task.recurrence_rule:
        recurrence = RecurrenceView(
            rule=task.recurrence_rule,
            mode="completion" if task.recurrence_mode == "completion" else "due",
            until=task.recurrence_until,
            count=task.recurrence_count,
        )
    due_date: date | None = None
    if due is not None:
        due_date = due.day if due.day is not None else due.local(tz).date()
    return TaskView(
        id=task.id,
        title=task.title,
        description=task.description,
        status=Status(task.status),
        priority=Priority.from_rank(task.priority),
        tags=sorted(tags),
        due_at=due.at.astimezone(tz) if due and due.at else None,
        due_date=due_date,
        all_day=task.all_day,
        due_local=render_local(due, tz) if due else None,
        reminders=list(task.reminders),
        recurrence=recurrence,
        series_id=task.series_id,
        predecessor_id=task.predecessor_id,
        created_at=task.created_at,
        updated_at=task.updated_at,
        completed_at=task.completed_at,
        deleted_at=task.deleted_at,
        version=task.version,
        project_id=task.project_id,
        parent_id=task.parent_id,
        subtask_count=counts.subtasks,
        open_subtask_count=counts.open,
    )


@functools.cache
def subtask_counts() -> tuple[sa.ScalarSelect[Any], sa.ScalarSelect[Any]]:
    """Columns correlated to Task: its direct subtasks not in the trash, and the open ones among them (each an
    index lookup on ix_task_parent). Built once: SQL expressions are immutable, and building the alias of Task
    proxies every column (half the cost of a get_task when it was done per call)."""
    child = aliased(Task)
    live = sa.and_(col(child.parent_id) == col(Task.id), col(child.deleted_at).is_(None))
    total = select(func.count()).select_from(child).where(live).correlate(Task).scalar_subquery()
    open_ = (select(func.count()).select_from(child).where(live, col(child.status) == Status.OPEN.value)
             .correlate(Task).scalar_subquery())
    return total, open_


async def tags_of(tx: Tx, task_ids: Iterable[int]) -> dict[int, list[str]]:
    """Tag names of each task, in one query."""
    ids = list(task_ids)
    out: dict[int, list[str]] = {i: [] for i in ids}
    if not ids:
        return out
    rows = await tx.session.exec(
        select(TaskTag.task_id, Tag.name).join(Tag, col(Tag.id) == TaskTag.tag_id).where(col(TaskTag.task_id).in_(ids))
    )
    for task_id, name in rows.all():
        out[task_id].append(name)
    return out


# Joins a task's tag names in one column. Never part of a tag: normalize_tag splits on whitespace, and str.split()
# takes U+001F (the unit separator) for whitespace.
_TAG_SEPARATOR = "\x1f"


def _tag_names(tx: Tx) -> sa.ScalarSelect[Any]:
    """The task's tag names joined by _TAG_SEPARATOR, as a column correlated to Task, in tag-id order like tags_of
    (on SQLite by the scan of task_tag's primary key (task_id, tag_id), which group_concat of 3.40 cannot order)."""
    name, separator = col(Tag.name), sa.literal(_TAG_SEPARATOR)
    aggregate = (func.string_agg(name, aggregate_order_by(separator, col(TaskTag.tag_id)))  # (name, sep ORDER BY)
                 if tx.dialect == "postgresql" else func.group_concat(name, separator))
    return (select(aggregate).select_from(TaskTag).join(Tag, col(Tag.id) == col(TaskTag.tag_id))
            .where(col(TaskTag.task_id) == col(Task.id)).correlate(Task).scalar_subquery())


async def load_task_and_tags(
    tx: Tx, actor: Actor, task_id: int, *, include_deleted: bool = False, for_update: bool = False
) -> tuple[Task, list[str], Counts]:
    """The actor's task, its tag names and its subtask counts, in one statement; not found as load_task says."""
    if not valid_id(task_id):
        raise TaskNotFound(task_id)
    total, open_ = subtask_counts()
    stmt = select(Task, _tag_names(tx), total, open_).where(Task.id == task_id, Task.owner_id == actor.id)
    if not include_deleted:
        stmt = stmt.where(col(Task.deleted_at).is_(None))
    if for_update and tx.dialect == "postgresql":
        stmt = stmt.with_for_update(of=Task)
    row = (await tx.session.exec(stmt)).first()
    if row is None:
        raise TaskNotFound(task_id)
    task, names, subtasks, open_subtasks = row
    return task, names.split(_TAG_SEPARATOR) if names else [], Counts(int(subtasks or 0), int(open_subtasks or 0))


async def fresh_view(tx: Tx, actor: Actor, task_id: int) -> TaskView:
    """The task as it is now in the transaction (its counts after changes to its subtasks)."""
    task, tags, counts = await load_task_and_tags(tx, actor, task_id, include_deleted=True)
    return to_view(task, tags, actor.tz, counts)


async def views(
    tx: Tx, tasks: list[Task], tz: ZoneInfo, counts: dict[int, Counts] | None = None
) -> list[TaskView]:
    tags = await tags_of(tx, [t.id for t in tasks if t.id is not None])
    counts = counts or {}
    return [to_view(t, tags[t.id or 0], tz, counts.get(t.id or 0)) for t in tasks]


async def load_task(
    tx: Tx, actor: Actor, task_id: int, *, include_deleted: bool = False, for_update: bool = False
) -> Task:
    """The actor's task; another user's task, a missing one and (unless asked) a deleted one are all not found."""
    if not valid_id(task_id):
        raise TaskNotFound(task_id)
    stmt = select(Task).where(Task.id == task_id, Task.owner_id == actor.id)
    if not include_deleted:
        stmt = stmt.where(col(Task.deleted_at).is_(None))
    if for_update:
        stmt = tx.for_update(stmt)
    task = (await tx.session.exec(stmt)).first()
    if task is None:
        raise TaskNotFound(task_id)
    return task


def check_version(task: Task, expected: int | None) -> None:
    if expected is not None and expected != task.version:
        assert task.id is not None
        raise VersionConflict(task.id, expected, task.version)


async def replace_tags(tx: Tx, task: Task, names: list[str], *, new: bool = False) -> None:
    """Make the task's tags exactly `names` (already normalized), creating Tag rows as needed; a `new` task has
    none to remove."""
    assert task.id is not None
    tag_ids = await ensure_tags(tx, task.owner_id, names)
    if not new:
        await tx.session.exec(sa.delete(TaskTag).where(col(TaskTag.task_id) == task.id))
    if tag_ids:
        await tx.session.exec(
            sa.insert(TaskTag), params=[{"task_id": task.id, "tag_id": tag_id} for tag_id in tag_ids]
        )


async def ensure_tags(tx: Tx, owner_id: int, names: list[str]) -> list[int]:
    """Ids of the owner's tags with these names, created when missing (safe under concurrent creators): one
    SELECT when they all exist, the usual case; else an INSERT of the missing ones, and a SELECT again for any a
    concurrent creator inserted first (ON CONFLICT DO NOTHING returns no row for those)."""
    if not names:
        return []
    by_name = await _tag_ids(tx, owner_id, names)
    missing = [n for n in names if n not in by_name]
    if missing:
        inserted = await tx.session.exec(
            tx.insert(Tag).values([{"owner_id": owner_id, "name": n} for n in missing]).on_conflict_do_nothing()
            .returning(col(Tag.id), col(Tag.name))
        )
        by_name.update({name: tag_id for tag_id, name in inserted.all()})
        if lost := [n for n in missing if n not in by_name]:
            by_name.update(await _tag_ids(tx, owner_id, lost))
    return [by_name[n] for n in names]


async def _tag_ids(tx: Tx, owner_id: int, names: list[str]) -> dict[str, int]:
    rows = await tx.session.exec(select(Tag.id, Tag.name).where(Tag.owner_id == owner_id, col(Tag.name).in_(names)))
    return {name: tag_id for tag_id, name in rows.all() if tag_id is not None}


def diff(before: TaskView | None, after: TaskView) -> dict[str, tuple[Any, Any]]:
    """{field: (old, new)} over the JSON form of two snapshots (the task's own fields, not its subtasks')."""
    new = after.model_dump(mode="json", exclude=set(VIEW_ONLY))
    old = before.model_dump(mode="json", exclude=set(VIEW_ONLY)) if before else {}
    return {
        k: (old.get(k), v) for k, v in new.items() if k not in _BOOKKEEPING and old.get(k) != v
    }


def snapshot(view: TaskView) -> TaskSnapshot:
    """What a task event carries of a view: the task's own fields."""
    return TaskSnapshot.model_validate(view.model_dump(exclude=set(VIEW_ONLY)))


def emit_change(
    tx: Tx, actor_name: str, event_type: str, before: TaskView | None, after: TaskView, user_id: int,
    *, undoable: bool = True,
) -> None:
    """Write the task event for a change to the outbox; a user's change is undoable (it records the before-state)."""
    data = TaskChangedV2(
        user_id=user_id,
        actor=actor_name,
        operation_id=tx.operation_id,
        task=snapshot(after),
        changes=diff(before, after),
    )
    tx.emit(event_type, data, user_id=user_id, subject=str(after.id), undoable=undoable)


def touch(task: Task, now: datetime) -> None:
    task.updated_at = now
    task.version += 1
