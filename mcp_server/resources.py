"""Resources (today, overdue, upcoming, one task, one project) and prompts (plan my day, weekly review)."""

import json
from datetime import timedelta

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ResourceNotFoundError

from domain import usecases as uc
from domain.errors import NotFound
from domain.schemas import TaskQuery
from domain.values import PAGE_MAX, StatusFilter
from mcp_server.context import current_call
from mcp_server.shapes import ProjectWithTasks, TaskList, TaskRow

_OPEN = [StatusFilter.OPEN]


async def _page(query: TaskQuery) -> TaskList:
    uow, me = current_call().acting()
    page = await uc.list_tasks(uow, me, query)
    return TaskList(data=[TaskRow.of(t) for t in page.data], count=page.count, count_exact=page.count_exact,
                    next_cursor=page.next_cursor)


async def _rows(query: TaskQuery) -> str:
    return (await _page(query)).model_dump_json()


async def today() -> str:
    return await _rows(TaskQuery(status=_OPEN, due_today=True, limit=PAGE_MAX))


async def overdue() -> str:
    return await _rows(TaskQuery(status=_OPEN, overdue=True, limit=PAGE_MAX))


async def upcoming() -> str:
    now = current_call().ports.uow.clock.now()
    query = TaskQuery(
        status=_OPEN, due_after=now.isoformat(), due_before=(now + timedelta(days=7)).isoformat(), limit=PAGE_MAX
    )
    return await _rows(query)


async def task(task_id: str) -> str:
    if not task_id.isdigit():
        raise ResourceNotFoundError(f"task://{task_id}: a task id is a number, e.g. task://42")
    uow, me = current_call().acting()
    try:
        view = await uc.get_task(uow, me, int(task_id))
    except NotFound as exc:
        raise ResourceNotFoundError(exc.message) from exc
    return json.dumps(view.model_dump(mode="json"))


async def project(project_id: str) -> str:
    if not project_id.isdigit():
        raise ResourceNotFoundError(f"project://{project_id}: a project id is a number, e.g. project://7 (ids "
                                    "from list_projects)")
    uow, me = current_call().acting()
    try:
        view = await uc.get_project(uow, me, int(project_id))
    except NotFound as exc:
        raise ResourceNotFoundError(exc.message) from exc
    tasks = await _page(TaskQuery(status=_OPEN, project=[view.id], limit=PAGE_MAX))
    return ProjectWithTasks(**view.model_dump(), tasks=tasks).model_dump_json()


def plan_my_day() -> str:
    return (
        "Help me plan my day. Call whoami for my local date and time, then list_tasks(overdue=true) and "
        "list_tasks(due_today=true), and list_tasks(priority=['urgent','high'], has_due=false) for important "
        "undated work. Propose an order with rough times, most urgent first, and ask before changing anything. "
        "Offer to reschedule what won't fit with set_due_date."
    )


def weekly_review() -> str:
    return (
        "Run my weekly review. Call whoami, then list_tasks(status=['completed'], sort='updated') for what I "
        "finished, list_tasks(overdue=true) for what slipped, and list_tasks with due_after today and due_before "
        "a week from today for what's next. Summarize in three short sections, then suggest which overdue tasks "
        "to reschedule, re-prioritize or delete; change nothing until I agree."
    )


def add_resources_and_prompts(mcp: MCPServer) -> None:
    """Add the resources and prompts to `mcp`."""
    json_resource = "application/json"
    mcp.resource("tasks://today", mime_type=json_resource, description="Open tasks due today (user's day)")(today)
    mcp.resource("tasks://overdue", mime_type=json_resource, description="Open tasks past their due")(overdue)
    mcp.resource("tasks://upcoming", mime_type=json_resource, description="Open tasks due in the next 7 days")(upcoming)
    mcp.resource("task://{task_id}", mime_type=json_resource, description="One task with every field")(task)
    mcp.resource("project://{project_id}", mime_type=json_resource,
                 description="One project with every field and its open tasks")(project)
    mcp.prompt(description="Plan today from overdue and due-today tasks")(plan_my_day)
    mcp.prompt(description="Review the past week and plan the next")(weekly_review)
