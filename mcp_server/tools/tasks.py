"""Tools over whole tasks: add, get, list, search, update, complete, reopen, delete, restore (moving one is in
mcp_server.tools.projects)."""

from typing import Annotated, Literal

from mcp.types import CallToolResult, ToolAnnotations
from pydantic import Field

from domain import usecases as uc
from domain.quick_add import TEXT_MAX as QUICK_TEXT_MAX
from domain.schemas import RecurrenceSpec, TaskCreate, TaskPage, TaskUpdate, TaskView
from domain.values import Priority, StatusFilter, Text
from mcp_server.args import (
    CursorArg,
    ExpectedVersion,
    LimitArg,
    ModeArg,
    OptionalDue,
    OptionalParent,
    OptionalProject,
    OptionalReminders,
    OptionalRule,
    OptionalTaskId,
    ProjectFilterArg,
    SubtasksArg,
    TagList,
    TaskId,
    TaskIds,
    TopLevelArg,
)
from mcp_server.context import Ctx, ToolSpec, acting, one_of, reply
from mcp_server.shapes import TaskList, TaskRow, TasksChanged, describe, describe_row

READ = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False)
ADD = ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=False)
CHANGE = ToolAnnotations(read_only_hint=False, destructive_hint=True, idempotent_hint=True, open_world_hint=False)
RESTORE = ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=True, open_world_hint=False)

IdempotencyKey = Annotated[
    Text | None,
    Field(max_length=255, description="Retry-safe key: the same key returns the first task, not a duplicate"),
]


def listing(page: TaskPage) -> CallToolResult:
    """A page of tasks as compact rows, one readable line each."""
    rows = [TaskRow.of(t) for t in page.data]
    lines = [describe_row(r) for r in rows] or ["no tasks match"]
    total = f"{page.count}" if page.count_exact else f"more than {page.count}"
    more = f"\n(showing {len(rows)} of {total}; pass next_cursor as cursor for more)" if page.next_cursor else ""
    body = TaskList(data=rows, count=page.count, count_exact=page.count_exact, next_cursor=page.next_cursor)
    return reply("\n".join(lines) + more, body)


def changed(tasks: list[TaskView], verb: str) -> CallToolResult:
    """The tasks a change touched, as compact rows."""
    rows = [TaskRow.of(t) for t in tasks]
    text = f"{verb} {len(rows)} task(s):\n" + "\n".join(describe_row(r) for r in rows)
    return reply(text, TasksChanged(data=rows, count=len(rows)))


async def add_task(
    ctx: Ctx,
    title: Annotated[Text, Field(description="What to do, 1-500 characters")],
    description: Annotated[Text | None, Field(description="Details, up to 10,000 characters")] = None,
    priority: Annotated[Priority, Field(description="none, low, medium, high or urgent")] = Priority.NONE,
    tags: Annotated[TagList | None, Field(description="Tags, e.g. ['home', 'errands'] (at most 20)")] = None,
    due_at: OptionalDue = None,
    reminders: OptionalReminders = None,
    recurrence: OptionalRule = None,
    recurrence_mode: ModeArg = "due",
    project: OptionalProject = None,
    parent_id: OptionalParent = None,
    idempotency_key: IdempotencyKey = None,
) -> Annotated[CallToolResult, TaskView]:
    """Create a task. Use it when the user asks to remember, add or schedule something.

    due_at takes ISO dates or words read in the user's timezone ("tomorrow 9am", "next friday", "in 3 days");
    a day without a time (or a plain date) makes an all-day task; parent_id makes it a step of another task.
    Example: add_task(title="Pay rent", due_at="next friday", priority="high", tags=["home"],
    recurrence="monthly", reminders=[1440], project="Home").
    """
    uow, me = acting(ctx)
    spec = RecurrenceSpec(rule=recurrence, mode=recurrence_mode) if recurrence else None
    data = TaskCreate(
        title=title,
        description=description,
        priority=priority,
        tags=tags,
        due_at=due_at,
        reminders=reminders,
        recurrence=spec,
        project=project,
        parent_id=parent_id,
    )
    task = await uc.create_task(uow, me, data, idempotency_key=idempotency_key)
    return reply(f"Added {describe(task)}", task)


async def quick_add(
    ctx: Ctx,
    text: Annotated[Text, Field(max_length=QUICK_TEXT_MAX, description="The task in one line, as the user said it")],
    idempotency_key: IdempotencyKey = None,
) -> Annotated[CallToolResult, TaskView]:
    """Create a task from one line the user typed, reading its due, priority, tags and recurrence.

    Grammar: title words, a due at the end or start ("tomorrow 9am", "next friday"), p1-p4 or !urgent/!high/
    !medium/!low, #name (the user's project of that name, else a tag), "every ..." or daily/weekly/..., and
    "quoted words" kept as title text. Example: quick_add(text="buy stamps tomorrow at 9am p1 #errands every week").
    """
    uow, me = acting(ctx)
    task = await uc.quick_add(uow, me, text, idempotency_key=idempotency_key)
    return reply(f"Added {describe(task)}", task)


async def get_task(ctx: Ctx, task_id: TaskId) -> Annotated[CallToolResult, TaskView]:
    """Read one task with every field (description, reminders, recurrence, version) and its direct subtasks.

    Example: get_task(task_id=42).
    """
    uow, me = acting(ctx)
    task = await uc.get_task(uow, me, task_id)
    steps = [f"\n  - #{s.id} {s.title} ({s.status.value})" for s in task.subtasks or []]
    return reply(describe(task) + "".join(steps), task)


async def list_tasks(
    ctx: Ctx,
    status: Annotated[
        list[StatusFilter] | None,
        Field(description="open, completed, deleted (the trash); default open and completed"),
    ] = None,
    priority: Annotated[list[Priority] | None, Field(description="Only these priorities")] = None,
    tags: Annotated[TagList | None, Field(description="Only tasks with these tags (at most 20)")] = None,
    tag_mode: Annotated[Literal["any", "all"], Field(description="any: one of the tags; all: every tag")] = "any",
    due_before: Annotated[
        Text | None, Field(description="Due before this datetime, date or day in words ('friday')")
    ] = None,
    due_after: Annotated[
        Text | None, Field(description="Due after this datetime, date or day in words ('today')")
    ] = None,
    overdue: Annotated[bool | None, Field(description="true: only open tasks past due")] = None,
    due_today: Annotated[bool | None, Field(description="true: only tasks due today (user's day)")] = None,
    has_due: Annotated[bool | None, Field(description="true: only with a due date; false: only without")] = None,
    query: Annotated[
        Text | None, Field(max_length=500, description="Words that must start words of title or description")
    ] = None,
    project: ProjectFilterArg = None,
    parent_id: Annotated[OptionalParent, Field(description="Only the subtasks of this task id")] = None,
    top_level: TopLevelArg = None,
    sort: Annotated[Literal["due", "priority", "created", "updated", "title"], Field(description="Sort key")] = "due",
    order: Annotated[Literal["asc", "desc"] | None, Field(description="Default: due/title asc, others desc")] = None,
    limit: LimitArg = 20,
    cursor: CursorArg = None,
) -> Annotated[CallToolResult, TaskList]:
    """List the user's tasks with filters, sorted, a page at a time; `count` is the total matching.

    Use it to answer "what's on my plate", "what's overdue", "my work tasks this week".
    Example: list_tasks(overdue=true) or list_tasks(project=["Work"], due_before="2026-12-07", sort="priority").
    """
    uow, me = acting(ctx)
    filters = uc.task_query(
        status=status, priority=priority, tag=tags, tag_mode=tag_mode, due_before=due_before, due_after=due_after,
        overdue=overdue, due_today=due_today, has_due=has_due, q=query, project=project, parent_id=parent_id,
        top_level=top_level, sort=sort, order=order, limit=limit, cursor=cursor,
    )
    return listing(await uc.list_tasks(uow, me, filters))


async def search_tasks(
    ctx: Ctx,
    query: Annotated[
        Text,
        Field(
            max_length=500,
            description="Words to find; each must start a word of the title or "
            "description, e.g. 'dent app' finds 'Dentist appointment'"
        ),
    ],
    include_completed: Annotated[bool, Field(description="Also search completed tasks")] = True,
    project: ProjectFilterArg = None,
    limit: LimitArg = 20,
    cursor: CursorArg = None,
) -> Annotated[CallToolResult, TaskList]:
    """Find tasks by words when you don't know their id; most recently changed first.

    Example: search_tasks(query="milk") before completing "the milk task".
    """
    uow, me = acting(ctx)
    status = [StatusFilter.OPEN, StatusFilter.COMPLETED] if include_completed else [StatusFilter.OPEN]
    page = await uc.search_tasks(uow, me, query, limit=limit, cursor=cursor, status=status, project=project)
    return listing(page)


async def update_task(
    ctx: Ctx,
    task_id: TaskId,
    title: Annotated[Text | None, Field(description="New title")] = None,
    description: Annotated[Text | None, Field(description="New description ('' empties it)")] = None,
    priority: Annotated[Priority | None, Field(description="New priority")] = None,
    tags: Annotated[
        TagList | None, Field(description="Replaces ALL tags (at most 20); prefer add_tags/remove_tags")
    ] = None,
    due_at: OptionalDue = None,
    reminders: OptionalReminders = None,
    recurrence: OptionalRule = None,
    recurrence_mode: ModeArg = "due",
    project: Annotated[OptionalProject, Field(description="Move it to this project (id or name)")] = None,
    parent_id: Annotated[OptionalParent, Field(description="Move it under this task id")] = None,
    expected_version: ExpectedVersion = None,
) -> Annotated[CallToolResult, TaskView]:
    """Change several fields of a task at once; fields you leave out stay as they are.

    To remove a due date or a recurrence use clear_due_date / clear_recurrence.
    Example: update_task(task_id=42, title="Call mum", due_at="2026-12-02T18:00").
    """
    uow, me = acting(ctx)
    given = {
        "title": title,
        "description": description,
        "priority": priority,
        "tags": tags,
        "due_at": due_at,
        "reminders": reminders,
        "project": project,
        "parent_id": parent_id,
    }
    fields: dict[str, object] = {k: v for k, v in given.items() if v is not None}
    if recurrence is not None:
        fields["recurrence"] = RecurrenceSpec(rule=recurrence, mode=recurrence_mode)
    task = await uc.update_task(uow, me, task_id, TaskUpdate(**fields), expected_version=expected_version)
    return reply(f"Updated {describe(task)}", task)


async def complete_task(
    ctx: Ctx,
    task_id: OptionalTaskId = None,
    task_ids: TaskIds = None,
    subtasks: SubtasksArg = "refuse",
    expected_version: ExpectedVersion = None,
) -> Annotated[CallToolResult, TasksChanged]:
    """Mark one task (task_id) or several (task_ids, up to 50, all or none) as done.

    A recurring task's next occurrence is created automatically; one with open subtasks needs
    subtasks="complete". Example: complete_task(task_id=42).
    """
    (uow, me), target = acting(ctx), one_of(task_id, task_ids, expected_version)
    if isinstance(target, list):
        return changed((await uc.bulk_complete(uow, me, target, subtasks=subtasks)).data, "Completed")
    task = await uc.complete_task(uow, me, target, expected_version=expected_version, subtasks=subtasks)
    return changed([task], "Completed")


async def reopen_task(
    ctx: Ctx, task_id: TaskId, expected_version: ExpectedVersion = None
) -> Annotated[CallToolResult, TaskView]:
    """Mark a completed task as open again. Example: reopen_task(task_id=42)."""
    uow, me = acting(ctx)
    task = await uc.reopen_task(uow, me, task_id, expected_version=expected_version)
    return reply(f"Reopened {describe(task)}", task)


async def delete_task(
    ctx: Ctx, task_id: OptionalTaskId = None, task_ids: TaskIds = None, expected_version: ExpectedVersion = None
) -> Annotated[CallToolResult, TasksChanged]:
    """Move one task (task_id) or several (task_ids, up to 50) to the trash, each with its subtasks;
    restore_task brings one back.

    Example: delete_task(task_id=42).
    """
    (uow, me), target = acting(ctx), one_of(task_id, task_ids, expected_version)
    if isinstance(target, list):
        return changed((await uc.bulk_delete(uow, me, target)).data, "Deleted")
    return changed([await uc.delete_task(uow, me, target, expected_version=expected_version)], "Deleted")


async def restore_task(
    ctx: Ctx, task_id: TaskId, expected_version: ExpectedVersion = None
) -> Annotated[CallToolResult, TaskView]:
    """Take a task out of the trash (find trashed ids with list_tasks(status=["deleted"])).

    Example: restore_task(task_id=42).
    """
    uow, me = acting(ctx)
    task = await uc.restore_task(uow, me, task_id, expected_version=expected_version)
    return reply(f"Restored {describe(task)}", task)


TOOLS: list[ToolSpec] = [
    (add_task, ADD), (quick_add, ADD), (get_task, READ), (list_tasks, READ), (search_tasks, READ),
    (update_task, CHANGE), (complete_task, CHANGE), (reopen_task, CHANGE), (delete_task, CHANGE),
    (restore_task, RESTORE),
]
