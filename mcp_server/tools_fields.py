"""Tools for one aspect of a task: priority, tags, due date, recurrence, reminders."""

from typing import Annotated

from mcp.server.mcpserver import MCPServer
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
from mcp_server.context import McpPorts, current_actor, one_of, reply, tool_errors
from mcp_server.shapes import TasksChanged, describe
from mcp_server.tools_tasks import ADD, CHANGE, READ, changed


def register(mcp: MCPServer, ports: McpPorts) -> None:  # noqa: C901 - one closure per tool
    """Add the single-aspect tools to `mcp`."""

    @mcp.tool(annotations=CHANGE)
    @tool_errors
    async def set_priority(
        priority: PriorityArg,
        task_id: OptionalTaskId = None,
        task_ids: TaskIds = None,
        expected_version: ExpectedVersion = None,
    ) -> Annotated[CallToolResult, TasksChanged]:
        """Set the priority of one task (task_id) or several (task_ids, up to 50); "none" clears it.

        Example: set_priority(task_id=42, priority="high").
        """
        actor, target = await current_actor(ports), one_of(task_id, task_ids, expected_version)
        if isinstance(target, list):
            return changed((await uc.bulk_set_priority(ports.uow, actor, target, priority)).data, "Set priority of")
        task = await uc.set_priority(ports.uow, actor, target, priority, expected_version=expected_version)
        return changed([task], "Set priority of")

    @mcp.tool(annotations=ADD.model_copy(update={"idempotent_hint": True}))
    @tool_errors
    async def add_tags(
        tags: TagsArg,
        task_id: OptionalTaskId = None,
        task_ids: TaskIds = None,
        expected_version: ExpectedVersion = None,
    ) -> Annotated[CallToolResult, TasksChanged]:
        """Add tags to one task (task_id) or several (task_ids, up to 50); existing tags stay.

        Example: add_tags(task_ids=[4, 7], tags=["errands"]).
        """
        actor, target = await current_actor(ports), one_of(task_id, task_ids, expected_version)
        if isinstance(target, list):
            return changed((await uc.bulk_add_tags(ports.uow, actor, target, tags)).data, "Tagged")
        return changed([await uc.add_tags(ports.uow, actor, target, tags, expected_version=expected_version)], "Tagged")

    @mcp.tool(annotations=CHANGE)
    @tool_errors
    async def remove_tags(
        task_id: TaskId, tags: TagsArg, expected_version: ExpectedVersion = None
    ) -> Annotated[CallToolResult, TaskView]:
        """Remove tags from a task; tags it doesn't carry are ignored.

        Example: remove_tags(task_id=42, tags=["work"]).
        """
        task = await uc.remove_tags(
            ports.uow, await current_actor(ports), task_id, tags, expected_version=expected_version
        )
        return reply(f"Untagged {describe(task)}", task)

    @mcp.tool(annotations=CHANGE)
    @tool_errors
    async def set_due_date(
        task_id: TaskId, due_at: DueArg, expected_version: ExpectedVersion = None
    ) -> Annotated[CallToolResult, TaskView]:
        """Set when a task is due: a moment, or a plain date for a whole (all-day) day.

        Words are read in the user's timezone ("friday 17:00", "in 3 days").
        Example: set_due_date(task_id=42, due_at="2026-12-04T17:00") or set_due_date(task_id=42, due_at="tomorrow").
        """
        task = await uc.set_due_date(
            ports.uow, await current_actor(ports), task_id, due_at, expected_version=expected_version
        )
        return reply(f"Rescheduled {describe(task)}", task)

    @mcp.tool(annotations=CHANGE)
    @tool_errors
    async def clear_due_date(
        task_id: TaskId, expected_version: ExpectedVersion = None
    ) -> Annotated[CallToolResult, TaskView]:
        """Remove a task's due date (its reminders stop firing). Example: clear_due_date(task_id=42)."""
        task = await uc.clear_due_date(
            ports.uow, await current_actor(ports), task_id, expected_version=expected_version
        )
        return reply(f"Cleared the due date of {describe(task)}", task)

    @mcp.tool(annotations=CHANGE)
    @tool_errors
    async def set_recurrence(
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
        spec = RecurrenceSpec(rule=rule, mode=mode, until=until, count=count)
        task = await uc.set_recurrence(
            ports.uow, await current_actor(ports), task_id, spec, expected_version=expected_version
        )
        return reply(f"Set to repeat: {describe(task)}", task)

    @mcp.tool(annotations=CHANGE)
    @tool_errors
    async def clear_recurrence(
        task_id: TaskId, expected_version: ExpectedVersion = None
    ) -> Annotated[CallToolResult, TaskView]:
        """Stop a task repeating; its current due date stays. Example: clear_recurrence(task_id=42)."""
        task = await uc.clear_recurrence(
            ports.uow, await current_actor(ports), task_id, expected_version=expected_version
        )
        return reply(f"Stopped repeating {describe(task)}", task)

    @mcp.tool(annotations=READ)
    @tool_errors
    async def preview_recurrence(
        rule: RuleArg,
        count: Annotated[int, Field(ge=1, le=100, description="How many occurrences to show")] = 5,
        start: Annotated[
            Text | None, Field(description="Show occurrences after this date/datetime; default now")
        ] = None,
    ) -> Annotated[CallToolResult, RecurrencePreview]:
        """Show the next occurrences of a rule in the user's timezone without saving anything.

        Use it to confirm a rule before set_recurrence. Example: preview_recurrence(rule="every last friday", count=3).
        """
        preview = await uc.preview_recurrence(ports.uow, await current_actor(ports), rule, count=count, start=start)
        return reply(f"{preview.rule}: " + "; ".join(preview.occurrences_local), preview)

    @mcp.tool(annotations=CHANGE)
    @tool_errors
    async def set_reminders(
        task_id: TaskId, minutes_before: RemindersArg, expected_version: ExpectedVersion = None
    ) -> Annotated[CallToolResult, TaskView]:
        """Replace a task's reminders, in minutes before its due time; [] removes them.

        Example: set_reminders(task_id=42, minutes_before=[0, 60, 1440]) reminds at due, 1 h and 1 day before.
        """
        task = await uc.set_reminders(
            ports.uow, await current_actor(ports), task_id, minutes_before, expected_version=expected_version
        )
        return reply(f"Reminders {task.reminders or 'removed'} for {describe(task)}", task)
