"""Tools for one aspect of a task: priority, tags, due date, recurrence, reminders."""

from typing import Annotated

from mcp.types import CallToolResult
from pydantic import Field

from domain import usecases as uc
from domain.schemas import RecurrencePreview, RecurrenceSpec, TaskView
from domain.values import Text
from mcp_server.args import (
    DueArg,
    ExpectedVersion,
    ModeArg,
    OptionalTaskId,
    PriorityArg,
    RemindersArg,
    RuleArg,
    TagsArg,
    TaskId,
    TaskIds,
)
from mcp_server.context import Ctx, ToolSpec, acting, one_of, reply
from mcp_server.shapes import TasksChanged, describe
from mcp_server.tools.tasks import ADD, CHANGE, READ, changed


async def set_priority(
    ctx: Ctx,
    priority: PriorityArg,
    task_id: OptionalTaskId = None,
    task_ids: TaskIds = None,
    expected_version: ExpectedVersion = None,
) -> Annotated[CallToolResult, TasksChanged]:
    """Set the priority of one task (task_id) or several (task_ids, up to 50); "none" clears it.

    Example: set_priority(task_id=42, priority="high").
    """
    (uow, me), target = acting(ctx), one_of(task_id, task_ids, expected_version)
    if isinstance(target, list):
        return changed((await uc.bulk_set_priority(uow, me, target, priority)).data, "Set priority of")
    task = await uc.set_priority(uow, me, target, priority, expected_version=expected_version)
    return changed([task], "Set priority of")


async def add_tags(
    ctx: Ctx,
    tags: TagsArg,
    task_id: OptionalTaskId = None,
    task_ids: TaskIds = None,
    expected_version: ExpectedVersion = None,
) -> Annotated[CallToolResult, TasksChanged]:
    """Add tags to one task (task_id) or several (task_ids, up to 50); existing tags stay.

    Example: add_tags(task_ids=[4, 7], tags=["errands"]).
    """
    (uow, me), target = acting(ctx), one_of(task_id, task_ids, expected_version)
    if isinstance(target, list):
        return changed((await uc.bulk_add_tags(uow, me, target, tags)).data, "Tagged")
    return changed([await uc.add_tags(uow, me, target, tags, expected_version=expected_version)], "Tagged")


async def remove_tags(
    ctx: Ctx, task_id: TaskId, tags: TagsArg, expected_version: ExpectedVersion = None
) -> Annotated[CallToolResult, TaskView]:
    """Remove tags from a task; tags it doesn't carry are ignored.

    Example: remove_tags(task_id=42, tags=["work"]).
    """
    uow, me = acting(ctx)
    task = await uc.remove_tags(uow, me, task_id, tags, expected_version=expected_version)
    return reply(f"Untagged {describe(task)}", task)


async def set_due_date(
    ctx: Ctx, task_id: TaskId, due_at: DueArg, expected_version: ExpectedVersion = None
) -> Annotated[CallToolResult, TaskView]:
    """Set when a task is due: a moment, or a plain date for a whole (all-day) day.

    Words are read in the user's timezone ("friday 17:00", "in 3 days").
    Example: set_due_date(task_id=42, due_at="2026-12-04T17:00") or set_due_date(task_id=42, due_at="tomorrow").
    """
    uow, me = acting(ctx)
    task = await uc.set_due_date(uow, me, task_id, due_at, expected_version=expected_version)
    return reply(f"Rescheduled {describe(task)}", task)


async def clear_due_date(
    ctx: Ctx, task_id: TaskId, expected_version: ExpectedVersion = None
) -> Annotated[CallToolResult, TaskView]:
    """Remove a task's due date (its reminders stop firing). Example: clear_due_date(task_id=42)."""
    uow, me = acting(ctx)
    task = await uc.clear_due_date(uow, me, task_id, expected_version=expected_version)
    return reply(f"Cleared the due date of {describe(task)}", task)


async def set_recurrence(
    ctx: Ctx,
    task_id: TaskId,
    rule: RuleArg,
    mode: ModeArg = "due",
    until: Annotated[
        Text | None, Field(description="Last possible occurrence: a date, datetime or words ('dec 31')")
    ] = None,
    count: Annotated[int | None, Field(ge=1, le=1000, description="Total occurrences in the series")] = None,
    expected_version: ExpectedVersion = None,
) -> Annotated[CallToolResult, TaskView]:
    """Make a task repeat; completing it creates the next occurrence. Check a rule with preview_recurrence.

    A task without a due date gets its first occurrence as due date.
    Example: set_recurrence(task_id=42, rule="every monday at 09:00").
    """
    uow, me = acting(ctx)
    spec = RecurrenceSpec(rule=rule, mode=mode, until=until, count=count)
    task = await uc.set_recurrence(uow, me, task_id, spec, expected_version=expected_version)
    return reply(f"Set to repeat: {describe(task)}", task)


async def clear_recurrence(
    ctx: Ctx, task_id: TaskId, expected_version: ExpectedVersion = None
) -> Annotated[CallToolResult, TaskView]:
    """Stop a task repeating; its current due date stays. Example: clear_recurrence(task_id=42)."""
    uow, me = acting(ctx)
    task = await uc.clear_recurrence(uow, me, task_id, expected_version=expected_version)
    return reply(f"Stopped repeating {describe(task)}", task)


async def preview_recurrence(
    ctx: Ctx,
    rule: RuleArg,
    count: Annotated[int, Field(ge=1, le=100, description="How many occurrences to show")] = 5,
    start: Annotated[Text | None, Field(description="Show occurrences after this date/datetime; default now")] = None,
) -> Annotated[CallToolResult, RecurrencePreview]:
    """Show the next occurrences of a rule in the user's timezone without saving anything.

    Use it to confirm a rule before set_recurrence. Example: preview_recurrence(rule="every last friday", count=3).
    """
    uow, me = acting(ctx)
    preview = await uc.preview_recurrence(uow, me, rule, count=count, start=start)
    return reply(f"{preview.rule}: " + "; ".join(preview.occurrences_local), preview)


async def set_reminders(
    ctx: Ctx, task_id: TaskId, minutes_before: RemindersArg, expected_version: ExpectedVersion = None
) -> Annotated[CallToolResult, TaskView]:
    """Replace a task's reminders, in minutes before its due time; [] removes them.

    Example: set_reminders(task_id=42, minutes_before=[0, 60, 1440]) reminds at due, 1 h and 1 day before.
    """
    uow, me = acting(ctx)
    task = await uc.set_reminders(uow, me, task_id, minutes_before, expected_version=expected_version)
    return reply(f"Reminders {task.reminders or 'removed'} for {describe(task)}", task)


TOOLS: list[ToolSpec] = [
    (set_priority, CHANGE), (add_tags, ADD.model_copy(update={"idempotent_hint": True})), (remove_tags, CHANGE),
    (set_due_date, CHANGE), (clear_due_date, CHANGE), (set_recurrence, CHANGE), (clear_recurrence, CHANGE),
    (preview_recurrence, READ), (set_reminders, CHANGE),
]
