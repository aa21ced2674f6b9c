"""Single-field task use cases: priority, tags, due date, recurrence, reminders."""

from __future__ import annotations

from domain.schemas import DueValue, RecurrenceSpec, TaskView
from domain.timeutil import parse_due
from domain.uow import UnitOfWork
from domain.usecases.common import Actor, set_due
from domain.usecases.mutation import Apply, Draft, mutate
from domain.usecases.recurring import apply_recurrence
from domain.values import TAGS_PER_TASK_MAX, Priority, normalize_reminders, normalize_tags


async def _change(
    uow: UnitOfWork, actor: Actor, task_id: int, apply: Apply, expected_version: int | None
) -> TaskView:
    async with uow.write() as tx:
        return await mutate(tx, actor, task_id, apply, expected_version=expected_version)


def priority_setter(priority: Priority | str | None) -> Apply:
    rank = Priority.parse(priority or Priority.NONE).rank

    def apply(draft: Draft) -> None:
        draft.task.priority = rank

    return apply


async def set_priority(
    uow: UnitOfWork, actor: Actor, task_id: int, priority: Priority | str | None, *, expected_version: int | None = None
) -> TaskView:
    """Set a task's priority; None or 'none' clears it."""
    return await _change(uow, actor, task_id, priority_setter(priority), expected_version)


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
    parsed = parse_due(due, actor.tz, uow.clock.now()) if due is not None else None

    def apply(draft: Draft) -> None:
        set_due(draft.task, parsed, actor.tz)

    return await _change(uow, actor, task_id, apply, expected_version)


async def clear_due_date(
    uow: UnitOfWork, actor: Actor, task_id: int, *, expected_version: int | None = None
) -> TaskView:
    """Remove a task's due date."""
    return await set_due_date(uow, actor, task_id, None, expected_version=expected_version)


async def set_recurrence(
    uow: UnitOfWork, actor: Actor, task_id: int, spec: RecurrenceSpec | None, *, expected_version: int | None = None
) -> TaskView:
    """Make a task recur (validating the rule), or stop it recurring with None."""
    async with uow.write() as tx:
        now = tx.now

        def apply(draft: Draft) -> None:
            apply_recurrence(draft.task, spec, actor.tz, now)

        return await mutate(tx, actor, task_id, apply, expected_version=expected_version)


async def clear_recurrence(
    uow: UnitOfWork, actor: Actor, task_id: int, *, expected_version: int | None = None
) -> TaskView:
    """Stop a task recurring; its due date stays."""
    return await set_recurrence(uow, actor, task_id, None, expected_version=expected_version)


async def set_reminders(
    uow: UnitOfWork, actor: Actor, task_id: int, reminders: list[int], *, expected_version: int | None = None
) -> TaskView:
    """Replace a task's reminder offsets (minutes before due); an empty list removes them."""
    offsets = normalize_reminders(reminders)

    def apply(draft: Draft) -> None:
        draft.task.reminders = offsets

    return await _change(uow, actor, task_id, apply, expected_version)
