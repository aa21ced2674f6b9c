"""Tools for tags as a whole, undo, and who the user is (and what time it is for them)."""

from typing import Annotated

from mcp.server.mcpserver import MCPServer
from mcp.types import CallToolResult, ToolAnnotations
from pydantic import Field

from domain import usecases as uc
from domain.values import Text
from mcp_server.context import McpPorts, current_actor, reply, tool_errors
from mcp_server.shapes import TagDeleted, TagList, TagRow, TaskRow, Undone, WhoAmI, describe_row
from mcp_server.tools_tasks import CHANGE, READ

UNDO = ToolAnnotations(read_only_hint=False, destructive_hint=True, idempotent_hint=False, open_world_hint=False)
TagName = Annotated[Text, Field(max_length=200, description="A tag name, e.g. 'work'")]


def register(mcp: MCPServer, ports: McpPorts) -> None:
    """Add the tag, undo and whoami tools to `mcp`."""

    @mcp.tool(annotations=READ)
    @tool_errors
    async def list_tags() -> Annotated[CallToolResult, TagList]:
        """List the user's tags with how many tasks carry each, most used first. Example: list_tags()."""
        tags = [TagRow(name=t.name, count=t.count) for t in await uc.list_tags(ports.uow, await current_actor(ports))]
        text = ", ".join(f"{t.name} ({t.count})" for t in tags) or "no tags yet"
        return reply(text, TagList(data=tags, count=len(tags)))

    @mcp.tool(annotations=CHANGE)
    @tool_errors
    async def rename_tag(
        name: TagName,
        new_name: Annotated[Text, Field(max_length=200, description="The new name; an existing tag merges")],
    ) -> Annotated[CallToolResult, TagRow]:
        """Rename a tag on every task; renaming onto an existing tag merges the two.

        Example: rename_tag(name="job", new_name="work").
        """
        tag = await uc.rename_tag(ports.uow, await current_actor(ports), name, new_name)
        return reply(f"Renamed {name!r} to {tag.name!r} ({tag.count} tasks)", TagRow(name=tag.name, count=tag.count))

    @mcp.tool(annotations=CHANGE)
    @tool_errors
    async def delete_tag(name: TagName) -> Annotated[CallToolResult, TagDeleted]:
        """Remove a tag from every task and forget it (the tasks stay). Example: delete_tag(name="old")."""
        count = await uc.delete_tag(ports.uow, await current_actor(ports), name)
        return reply(f"Deleted tag {name!r} from {count} task(s)", TagDeleted(name=name, tasks=count))

    @mcp.tool(annotations=UNDO)
    @tool_errors
    async def undo_last_change() -> Annotated[CallToolResult, Undone]:
        """Revert the user's latest change (a bulk change as a whole); call again to go further back.

        Refused if a task changed again since. Example: undo_last_change().
        """
        result = await uc.undo_last_change(ports.uow, await current_actor(ports))
        rows = [TaskRow.of(t) for t in result.tasks]
        text = f"Undid the {result.undone}:\n" + "\n".join(describe_row(r) for r in rows)
        return reply(text, Undone(undone=result.undone, data=rows))

    @mcp.tool(annotations=READ)
    @tool_errors
    async def whoami() -> Annotated[CallToolResult, WhoAmI]:
        """The user, their timezone, and their local date and time: call it before working out "today",
        "tomorrow" or "next friday". Example: whoami()."""
        actor = await current_actor(ports)
        user = await uc.get_user(ports.uow, user_id=actor.id)
        now = await uc.whats_now(ports.uow, actor)
        me = WhoAmI(
            user_id=user.id,
            email=user.email,
            timezone=now.timezone,
            local_date=now.local_date,
            local_time=now.local_time,
            weekday=now.weekday,
            utc=now.utc,
        )
        return reply(f"{user.email}: {now.weekday} {now.local_date} {now.local_time} ({now.timezone})", me)
