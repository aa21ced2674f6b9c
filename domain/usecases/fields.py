"""Single-field task use cases: priority, tags, due date, recurrence, reminders (each a row of task_fields.FIELDS,
tags also added and removed)."""

from __future__ import annotations

from typing import Any

from domain.schemas import DueValue, RecurrenceSpec, TaskView
from domain.uow import UnitOfWork
from domain.usecases.common import Actor
from domain.usecases.mutation import Apply, Draft, mutate
from domain.usecases.task_fields import setter
from domain.values import TAGS_PER_TASK_MAX, Priority, normalize_tags


async def _change(
    uow: UnitOfWork, actor: Actor, task_id: int, apply: Apply, expected_version: int | None
) -> TaskView:
    async with uow.write() as tx:
        return await mutate(tx, actor, task_id, apply, expected_version=expected_version)


def field_setter(uow: UnitOfWork, actor: Actor, name: str, value: Any) -> Apply:
    """The change setting one field (see task_fields.FIELDS), its value checked now in the actor's timezone."""
    return setter(name, value, actor.tz, uow.clock.now())


async def set_priority(
    uow: UnitOfWork, actor: Actor, task_id: int, priority: Priority | str | None, *, expected_version: int | None = None
) -> TaskView:
    """Set a task's priority; None or 'none' clears it."""
    return await _change(uow, actor, task_id, field_setter(uow, actor, "priority", priority), expected_version)


def tag_adder(tags: list[str]) -> Apply:
    names = normalize_tags(tags, limit=TAGS_PER_TASK_MAX)

    def apply(draft: Draft) -> None:
        draft.tags = normalize_tags([*draft.tags, *names])

    return apply


async def add_tags(
    uow: UnitOfWork, actor: Actor, task_id: int, tags: list[str], *, expected_version: int | None = None
) -> TaskView:
    """Add tags to a task (a task has at most 20)."""
    return await _change(uow, actor, task_id, tag_adder(tags), expected_version)


async def remove_tags(
    uow: UnitOfWork, actor: Actor, task_id: int, tags: list[str], *, expected_version: int | None = None
) -> TaskView:
    """Remove tags from a task; tags it does not carry are ignored."""
    names = set(normalize_tags(tags))

    def apply(draft: Draft) -> None:
        draft.tags = [t for t in draft.tags if t not in names]

    return await _change(uow, actor, task_id, apply, expected_version)


async def set_due_date(
    uow: UnitOfWork, actor: Actor, task_id: int, due: DueValue | None, *, expected_version: int | None = None
) -> TaskView:
    """Set a task's due: a moment (offset, or local to the user) or a plain date for all day; None clears it."""
    return await _change(uow, actor, task_id, field_setter(uow, actor, "due_at", due), expected_version)


async def clear_due_date(
    uow: UnitOfWork, actor: Actor, task_id: int, *, expected_version: int | None = None
) -> TaskView:
    """Remove a task's due date."""
    return await set_due_date(uow, actor, task_id, None, expected_version=expected_version)


async def set_recurrence(
    uow: UnitOfWork, actor: Actor, task_id: int, spec: RecurrenceSpec | None, *, expected_version: int | None = None
) -> TaskView:
    """Make a task recur (validating the rule), or stop it recurring with None."""
    return await _change(uow, actor, task_id, field_setter(uow, actor, "recurrence", spec), expected_version)


async def clear_recurrence(
    uow: UnitOfWork, actor: Actor, task_id: int, *, expected_version: int | None = None
) -> TaskView:
    """Stop a task recurring; its due date stays."""
    return await set_recurrence(uow, actor, task_id, None, expected_version=expected_version)


async def set_reminders(
    uow: UnitOfWork, actor: Actor, task_id: int, reminders: list[int], *, expected_version: int | None = None
) -> TaskView:
    """Replace a task's reminder offsets (minutes before due); an empty list removes them."""
    return await _change(uow, actor, task_id, field_setter(uow, actor, "reminders", reminders), expected_version)
