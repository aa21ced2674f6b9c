"""Quick add: a task from one line of text (grammar in domain.quick_add), created through create_task or previewed."""

from __future__ import annotations

from domain.quick_add import parse_quick
from domain.schemas import (
    ProjectRef,
    QuickAddPreview,
    QuickChip,
    QuickRecurrence,
    RecurrenceSpec,
    TaskCreate,
    TaskView,
)
from domain.timeutil import render_local
from domain.uow import UnitOfWork
from domain.usecases.common import Actor
from domain.usecases.projects import project_names
from domain.usecases.recurring import series_dates, series_start
from domain.usecases.tasks import create_task


async def quick_add(
    uow: UnitOfWork, actor: Actor, text: str, *, project: ProjectRef | None = None, idempotency_key: str | None = None
) -> TaskView:
    """Create the task a line describes ("buy stamps tomorrow 9am p1 #errands"), exactly as create_task would;
    `#name` of one of the actor's projects puts it there, else `project` (e.g. the list the user is looking at),
    else the Inbox."""
    parsed = parse_quick(text, actor.tz, uow.clock.now(), await project_names(uow, actor))
    data = TaskCreate(
        title=parsed.title,
        project=parsed.project or project,
        priority=parsed.priority,
        tags=parsed.tags or None,
        due_at=parsed.due_text,  # the words, read again in the transaction: a retry with its key matches
        recurrence=RecurrenceSpec(rule=parsed.rule) if parsed.rule else None,
    )
    return await create_task(uow, actor, data, idempotency_key=idempotency_key)


async def preview_quick_add(uow: UnitOfWork, actor: Actor, text: str) -> QuickAddPreview:
    """What quick_add would create from the text, with the chips it read; saves nothing (it reads the project
    names)."""
    tz, now = actor.tz, uow.clock.now()
    parsed = parse_quick(text, tz, now, await project_names(uow, actor))
    due, recurrence = parsed.due, None
    if parsed.rule:
        rule, due = series_start(parsed.rule, due, tz, now)
        recurrence = QuickRecurrence(rule=rule.text, next=series_dates(rule, due, tz, 3))
    return QuickAddPreview(
        title=parsed.title,
        due_at=due.at.astimezone(tz) if due and due.at else None,
        due_date=(due.day or due.local(tz).date()) if due else None,
        all_day=bool(due and due.all_day),
        due_local=render_local(due, tz) if due else None,
        priority=parsed.priority,
        tags=parsed.tags,
        project=parsed.project,
        recurrence=recurrence,
        chips=[QuickChip(kind=c.kind, text=c.text, value=c.value) for c in parsed.chips],
    )
