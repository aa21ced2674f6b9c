"""Tools over projects (list, add, rename, archive, unarchive, delete) and moving a task between projects and
parents."""

from typing import Annotated, Literal

from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult
from pydantic import Field

from domain import usecases as uc
from domain.project_schemas import ProjectDeletion, ProjectView
from domain.schemas import TaskMove, TaskView
from domain.values import PROJECT_NAME_MAX, Text
from mcp_server.args import ExpectedVersion, OptionalParent, OptionalProject, ProjectArg, TaskId
from mcp_server.context import Ctx, ToolSpec, acting, reply
from mcp_server.shapes import ProjectList, ProjectRow, describe, describe_project
from mcp_server.tools.tasks import ADD, CHANGE, READ, RESTORE

# A second add_project with the same name is refused (names are unique), so repeating it adds nothing.
ADD_ONCE = ADD.model_copy(update={"idempotent_hint": True})
ProjectName = Annotated[Text, Field(max_length=PROJECT_NAME_MAX * 2, description="1-100 characters, unique in any "
                                    "case")]
ProjectVersion = Annotated[
    ExpectedVersion, Field(description="The project's version as you last saw it; the call fails if it changed")
]


async def list_projects(
    ctx: Ctx,
    include_archived: Annotated[bool, Field(description="Also list archived projects")] = False,
) -> Annotated[CallToolResult, ProjectList]:
    """List the user's projects with open-task counts, the Inbox (the default for new tasks) first.

    Example: list_projects().
    """
    uow, me = acting(ctx)
    rows = [ProjectRow.of(p) for p in await uc.list_projects(uow, me, include_archived=include_archived)]
    return reply("\n".join(describe_project(r) for r in rows), ProjectList(data=rows, count=len(rows)))


async def add_project(
    ctx: Ctx,
    name: ProjectName,
    colour: Annotated[Text | None, Field(max_length=20, description="'#rrggbb', e.g. '#22c55e'")] = None,
) -> Annotated[CallToolResult, ProjectView]:
    """Create a project to group tasks; fill it with add_task(project=...) or move_task.

    Example: add_project(name="Shopping").
    """
    uow, me = acting(ctx)
    project = await uc.create_project(uow, me, name, colour=colour)
    return reply(f"Added project {describe_project(project)}", project)


async def rename_project(
    ctx: Ctx, project: ProjectArg, new_name: ProjectName, expected_version: ProjectVersion = None
) -> Annotated[CallToolResult, ProjectView]:
    """Rename a project (not the Inbox). Example: rename_project(project="Shopping", new_name="Groceries")."""
    uow, me = acting(ctx)
    renamed = await uc.rename_project(uow, me, project, new_name, expected_version=expected_version)
    return reply(f"Renamed to {describe_project(renamed)}", renamed)


async def archive_project(
    ctx: Ctx, project: ProjectArg, expected_version: ProjectVersion = None
) -> Annotated[CallToolResult, ProjectView]:
    """Archive a finished project (not the Inbox): hidden from list_projects, no new tasks; its tasks stay.

    Example: archive_project(project="Move house").
    """
    uow, me = acting(ctx)
    archived = await uc.archive_project(uow, me, project, expected_version=expected_version)
    return reply(f"Archived {describe_project(archived)}", archived)


async def unarchive_project(
    ctx: Ctx, project: ProjectArg, expected_version: ProjectVersion = None
) -> Annotated[CallToolResult, ProjectView]:
    """Bring an archived project back. Example: unarchive_project(project="Move house")."""
    uow, me = acting(ctx)
    back = await uc.unarchive_project(uow, me, project, expected_version=expected_version)
    return reply(f"Unarchived {describe_project(back)}", back)


async def delete_project(
    ctx: Ctx,
    project: ProjectArg,
    tasks: Annotated[
        Literal["inbox", "trash"],
        Field(description="Where its tasks go: inbox (default) or trash"),
    ] = "inbox",
    expected_version: ProjectVersion = None,
) -> Annotated[CallToolResult, ProjectDeletion]:
    """Delete a project (not the Inbox); its tasks go to the Inbox or the trash. undo_last_change reverts it.

    Example: delete_project(project="Old", tasks="inbox").
    """
    uow, me = acting(ctx)
    gone = await uc.delete_project(uow, me, project, tasks=tasks, expected_version=expected_version)
    where = f"moved {gone.moved} task(s) to the Inbox" if tasks == "inbox" else f"trashed {gone.trashed} task(s)"
    return reply(f"Deleted project #{gone.project.id} {gone.project.name}; {where}", gone)


async def move_task(
    ctx: Ctx,
    task_id: TaskId,
    project: Annotated[OptionalProject, Field(description="To this project (id or name), top-level there")] = None,
    parent_id: Annotated[OptionalParent, Field(description="Under this task id, in its project")] = None,
    top_level: Annotated[bool, Field(description="true: out from under its parent, same project")] = False,
    expected_version: ExpectedVersion = None,
) -> Annotated[CallToolResult, TaskView]:
    """Move a task with its subtasks to a project, under another task, or to the top level.

    Example: move_task(task_id=42, project="Shopping") or move_task(task_id=43, parent_id=42).
    """
    uow, me = acting(ctx)
    where = _destination(project, parent_id, top_level)
    task = await uc.move_task(uow, me, task_id, where, expected_version=expected_version)
    return reply(f"Moved {describe(task)}", task)


def _destination(project: int | str | None, parent_id: int | None, top_level: bool) -> TaskMove:
    """The move the arguments ask for; a ToolError when they ask for nothing or contradict each other."""
    if top_level and parent_id is not None:
        raise ToolError("give parent_id (put it under that task) or top_level=true (under no task), not both")
    if project is None and parent_id is None and not top_level:
        raise ToolError("say where to: project (an id or name), parent_id (a task id) or top_level=true, e.g. "
                        "move_task(task_id=42, project='Shopping')")
    given: dict[str, object] = {"parent_id": None} if top_level else {}
    if project is not None:
        given["project"] = project
    if parent_id is not None:
        given["parent_id"] = parent_id
    return TaskMove(**given)


TOOLS: list[ToolSpec] = [
    (list_projects, READ), (add_project, ADD_ONCE), (rename_project, CHANGE), (archive_project, CHANGE),
    (unarchive_project, RESTORE), (delete_project, CHANGE), (move_task, CHANGE),
]
