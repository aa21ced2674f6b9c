"""Recurrence use cases: setting a rule on a task, previewing it, and creating a completed instance's successor
(in the same project and under the same parent, with copies of the subtasks that were open when it was completed)."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.errors import InvalidInput, InvalidRecurrence
from domain.events import TASK_CREATED
from domain.models import Project, Task
from domain.recurrence import RecurrenceMode, Rule, next_occurrence, next_occurrences, parse_rule
from domain.schemas import DueValue, RecurrencePreview, RecurrenceSpec, TaskView
from domain.timeutil import Due, local_midnight, parse_due, render_local, zone
from domain.uow import Tx, UnitOfWork
from domain.usecases.common import (
    Actor,
    Counts,
    due_of,
    emit_change,
    fresh_view,
    load_task,
    replace_tags,
    set_due,
    set_text,
    tags_of,
    to_view,
)
from domain.usecases.projects import inbox_of
from domain.values import Status


def apply_recurrence(task: Task, spec: RecurrenceSpec | None, tz: ZoneInfo, now: datetime) -> None:
    """Set (after validating) or clear a task's rule; a recurring task without a due gets its first occurrence."""
    if spec is None:
        task.recurrence_rule = task.recurrence_mode = None
        task.recurrence_until = None
        task.recurrence_count = None
        return
    due = due_of(task)
    rule, first = series_start(spec.rule, due, tz, now)
    task.recurrence_rule = rule.text
    task.recurrence_mode = RecurrenceMode(spec.mode).value
    task.recurrence_until = _until(spec.until, tz, now)
    task.recurrence_count = spec.count
    if due is None:
        set_due(task, first, tz)
    if task.id is not None and task.series_id is None:
        task.series_id = task.id


def series_start(rule: str, due: Due | None, tz: ZoneInfo, now: datetime) -> tuple[Rule, Due]:
    """The parsed rule and the series' first due: the task's own, else the rule's first occurrence from today."""
    anchor = due.local(tz) if due else local_midnight(now.astimezone(tz).date(), tz)
    return parse_rule(rule, anchor), due or _first_due(rule, anchor, now, tz)


def series_dates(rule: Rule, first: Due, tz: ZoneInfo, count: int) -> list[str]:
    """The first `count` dues of a series starting at `first`, as local ISO dates (all day) or datetimes."""
    start = first.local(tz)
    later = next_occurrences(rule, start, tz, count - 1) if count > 1 else []
    if first.all_day:
        return [d.isoformat() for d in [start.date(), *(o.date() for o in later)]]
    return [m.isoformat() for m in [start, *later]]


def _until(value: DueValue | None, tz: ZoneInfo, now: datetime) -> datetime | None:
    if value is None:
        return None
    try:
        due = parse_due(value, tz, now)
    except InvalidInput as exc:
        raise type(exc)(exc.message.replace("due date", "until"), field="until") from None
    if due.at is not None:
        return due.at
    assert due.day is not None
    return (local_midnight(due.day + timedelta(days=1), tz) - timedelta(microseconds=1)).astimezone(ZoneInfo("UTC"))


def _first_due(rule: str, midnight: datetime, now: datetime, tz: ZoneInfo) -> Due:
    """Today or the first day the rule falls on: all-day when the rule names no time, else the next moment."""
    first = next_occurrences(rule, midnight - timedelta(seconds=1), tz, 1, anchor=midnight)
    if first and first[0].timetz().replace(tzinfo=None) == time(0, 0):
        return Due(day=first[0].date())
    upcoming = next_occurrences(rule, now, tz, 1, anchor=midnight)
    if not upcoming:
        raise InvalidRecurrence(
            f"rule {rule!r} has no occurrence after now; give a rule that still repeats, e.g. 'every monday'",
            field="rule",
        )
    return Due(at=upcoming[0].astimezone(ZoneInfo("UTC")))


async def preview_recurrence(
    uow: UnitOfWork, actor: Actor, rule: str, *, count: int = 5, start: DueValue | None = None
) -> RecurrencePreview:
    """The next `count` occurrences of a rule after `start` (default now) in the user's timezone; saves nothing."""
    tz = actor.tz
    now = uow.clock.now()
    begin = _start(start, tz, now) if start is not None else now.astimezone(tz)
    occurrences = next_occurrences(rule, begin, tz, count, anchor=begin)
    return RecurrencePreview(
        rule=rule.strip(),
        timezone=actor.timezone,
        occurrences=occurrences,
        occurrences_local=[render_local(Due(at=o), tz) for o in occurrences],
    )


def _start(value: DueValue, tz: ZoneInfo, now: datetime) -> datetime:
    try:
        return parse_due(value, tz, now).local(tz)
    except InvalidInput as exc:
        raise type(exc)(exc.message.replace("due date", "start"), field="start") from None


def next_due(task: Task, tz: ZoneInfo) -> Due | None:
    """The due of a completed recurring instance's successor, or None when the series has ended."""
    if not task.recurrence_rule or task.completed_at is None:
        return None
    due = due_of(task)
    nxt = next_occurrence(
        task.recurrence_rule,
        mode=RecurrenceMode(task.recurrence_mode or "due"),
        previous_due=due.local(tz) if due else None,
        completed_at=task.completed_at.astimezone(tz),
        tz=tz,
        until=task.recurrence_until,
    )
    if nxt is None:
        return None
    if task.all_day:
        return Due(day=nxt.astimezone(tz).date())
    return Due(at=nxt.astimezone(ZoneInfo("UTC")))


async def create_successor(
    uow: UnitOfWork, actor: Actor, predecessor_id: int, *, actor_name: str = "system:recurrence"
) -> TaskView | None:
    """Create the next instance of a completed recurring task, exactly once however often it is asked."""
    tz = zone(actor.timezone)
    async with uow.write() as tx:
        existing = (await tx.session.exec(select(Task).where(Task.predecessor_id == predecessor_id))).first()
        if existing is not None and existing.owner_id == actor.id:
            return await fresh_view(tx, actor, existing.id or 0)
        prev = await load_task(tx, actor, predecessor_id)
        if prev.status != Status.COMPLETED or not await _series_continues(tx.session, prev):
            return None
        due = next_due(prev, tz)
        if due is None:
            return None
        tags = (await tags_of(tx, [predecessor_id]))[predecessor_id]
        succ = _copy(prev, due, tz, tx.now)
        succ.project_id, succ.parent_id = await _place(tx, prev)
        try:
            async with tx.session.begin_nested():
                tx.session.add(succ)
                await tx.session.flush()
        except IntegrityError:  # a concurrent request created it first
            return None
        await replace_tags(tx, succ, tags, new=True)
        copies = await _copy_subtasks(tx, prev, succ)
        view = to_view(succ, tags, tz, Counts(len(copies), len(copies)))
        emit_change(tx, actor_name, TASK_CREATED, None, view, actor.id, undoable=False)
        for copy in copies:
            emit_change(tx, actor_name, TASK_CREATED, None, to_view(copy, [], tz), actor.id, undoable=False)
        return view


async def _place(tx: Tx, prev: Task) -> tuple[int, int | None]:
    """The successor's project and parent: the predecessor's, or the Inbox (top-level) when its project is gone or
    archived; top-level when its parent is in the trash."""
    project = await tx.session.get(Project, prev.project_id)
    if project is None or project.deleted_at is not None or project.archived_at is not None:
        inbox = await inbox_of(tx, prev.owner_id)
        assert inbox.id is not None
        return inbox.id, None
    parent = await tx.session.get(Task, prev.parent_id) if prev.parent_id is not None else None
    return prev.project_id, parent.id if parent is not None and parent.deleted_at is None else None


async def _copy_subtasks(tx: Tx, prev: Task, succ: Task) -> list[Task]:
    """New open subtasks of the successor with the titles of the predecessor's direct subtasks that were open when
    it was completed (still open, or completed with it: subtasks="complete")."""
    was_open = sa.or_(col(Task.status) == Status.OPEN.value, col(Task.completed_at) == prev.completed_at)
    stmt = (select(Task).where(Task.parent_id == prev.id, col(Task.deleted_at).is_(None), was_open)
            .order_by(col(Task.id)))
    copies = []
    for sub in (await tx.session.exec(stmt)).all():
        copy = Task(owner_id=succ.owner_id, project_id=succ.project_id, parent_id=succ.id, title="", title_key="",
                    created_at=tx.now, updated_at=tx.now)
        set_text(copy, sub.title, "")
        copies.append(copy)
    tx.session.add_all(copies)
    await tx.session.flush()
    return copies


async def _series_continues(session: AsyncSession, prev: Task) -> bool:
    if prev.recurrence_count is None:
        return True
    series = prev.series_id or prev.id
    stmt = select(func.count()).select_from(Task).where(sa.or_(col(Task.series_id) == series, col(Task.id) == series))
    made = (await session.exec(stmt)).one()
    return int(made) < prev.recurrence_count


def _copy(prev: Task, due: Due, tz: ZoneInfo, now: datetime) -> Task:
    succ = Task(
        owner_id=prev.owner_id,
        project_id=prev.project_id,
        title=prev.title,
        title_key=prev.title_key,
        search_text=prev.search_text,
        description=prev.description,
        priority=prev.priority,
        reminders=list(prev.reminders),
        recurrence_rule=prev.recurrence_rule,
        recurrence_mode=prev.recurrence_mode,
        recurrence_until=prev.recurrence_until,
        recurrence_count=prev.recurrence_count,
        series_id=prev.series_id or prev.id,
        predecessor_id=prev.id,
        created_at=now,
        updated_at=now,
    )
    set_due(succ, due, tz)
    return succ
