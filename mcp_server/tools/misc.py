"""Tools for tags as a whole, undo, and who the user is (and what time it is for them)."""

from typing import Annotated

from mcp.types import CallToolResult, ToolAnnotations
from pydantic import Field

from domain import usecases as uc
from domain.values import Text
from mcp_server.context import Ctx, ToolSpec, acting, reply
from mcp_server.shapes import (
    ProjectRow,
    TagDeleted,
    TagList,
    TagRow,
    TaskRow,
    Undone,
    WhoAmI,
    describe_project,
    describe_row,
)
from mcp_server.tools.tasks import CHANGE, READ

UNDO = ToolAnnotations(read_only_hint=False, destructive_hint=True, idempotent_hint=False, open_world_hint=False)
TagName = Annotated[Text, Field(max_length=200, description="A tag name, e.g. 'work'")]


async def list_tags(ctx: Ctx) -> Annotated[CallToolResult, TagList]:
    """List the user's tags with how many tasks carry each, most used first. Example: list_tags()."""
    uow, me = acting(ctx)
    tags = [TagRow(name=t.name, count=t.count) for t in await uc.list_tags(uow, me)]
    text = ", ".join(f"{t.name} ({t.count})" for t in tags) or "no tags yet"
    return reply(text, TagList(data=tags, count=len(tags)))


async def rename_tag(
    ctx: Ctx,
    name: TagName,
    new_name: Annotated[Text, Field(max_length=200, description="The new name; an existing tag merges")],
) -> Annotated[CallToolResult, TagRow]:
    """Rename a tag on every task; renaming onto an existing tag merges the two.

    Example: rename_tag(name="job", new_name="work").
    """
    uow, me = acting(ctx)
    tag = await uc.rename_tag(uow, me, name, new_name)
    return reply(f"Renamed {name!r} to {tag.name!r} ({tag.count} tasks)", TagRow(name=tag.name, count=tag.count))


async def delete_tag(ctx: Ctx, name: TagName) -> Annotated[CallToolResult, TagDeleted]:
    """Remove a tag from every task and forget it (the tasks stay). Example: delete_tag(name="old")."""
    uow, me = acting(ctx)
    count = await uc.delete_tag(uow, me, name)
    return reply(f"Deleted tag {name!r} from {count} task(s)", TagDeleted(name=name, tasks=count))


async def undo_last_change(ctx: Ctx) -> Annotated[CallToolResult, Undone]:
    """Revert the user's latest change (a bulk change as a whole); call again to go further back.

    Refused if a task changed again since. Example: undo_last_change().
    """
    uow, me = acting(ctx)
    result = await uc.undo_last_change(uow, me)
    rows = [TaskRow.of(t) for t in result.tasks]
    projects = [ProjectRow.of(p) for p in result.projects]
    lines = [f"project {describe_project(p)}" for p in projects] + [describe_row(r) for r in rows]
    text = f"Undid the {result.undone}:\n" + "\n".join(lines)
    return reply(text, Undone(undone=result.undone, data=rows, projects=projects))


async def whoami(ctx: Ctx) -> Annotated[CallToolResult, WhoAmI]:
    """The user, their timezone, and their local date and time: call it before working out "today",
    "tomorrow" or "next friday". Example: whoami()."""
    uow, me = acting(ctx)
    user = await uc.get_user(uow, user_id=me.id)
    now = await uc.whats_now(uow, me)
    who = WhoAmI(
        user_id=user.id,
        email=user.email,
        timezone=now.timezone,
        local_date=now.local_date,
        local_time=now.local_time,
        weekday=now.weekday,
        utc=now.utc,
    )
    return reply(f"{user.email}: {now.weekday} {now.local_date} {now.local_time} ({now.timezone})", who)


TOOLS: list[ToolSpec] = [
    (list_tags, READ), (rename_tag, CHANGE), (delete_tag, CHANGE), (undo_last_change, UNDO), (whoami, READ),
]
