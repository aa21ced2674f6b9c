"""MCP fixtures: the real server acting for one user over the parametrized database, driven in-process by an
`mcp.Client`, with helpers that check every reply against the tool's output schema.

Every test gets servers of its own: `servers.session(uow, actor)` builds `build_server(McpPorts(uow=uow, ...,
fixed_user_id=actor.id))` over the test's unit of work (its database and clock) and connects a client to it."""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from jsonschema.protocols import Validator
from jsonschema.validators import validator_for
from mcp import Client
from mcp.types import TextContent, TextResourceContents, Tool

from domain.uow import UnitOfWork
from domain.usecases import Actor
from mcp_server import McpPorts, build_server
from tests.conftest import Clock, new_actor

SECRET = "s" * 40
# 12:00 on Tuesday 10 March 2026 in Tokyo (UTC+9, no DST): "today" is 2026-03-10 for a user there.
NOW = datetime(2026, 3, 10, 3, 0, tzinfo=UTC)
COMPACT_ROW = {"id", "title", "status", "priority", "tags", "due_at", "due_date", "due_local", "project_id",
               "parent_id", "subtask_count", "open_subtask_count"}
PRIORITIES = ["none", "low", "medium", "high", "urgent"]
ALL_STATUSES = ["open", "completed", "deleted"]
UNKNOWN = 999_999_999  # a valid id no task has


def arg_id(value: Any) -> str | None:
    """Readable test ids for argument dicts ('priority=bogus'); pytest numbers everything else."""
    if isinstance(value, dict):
        return ",".join(f"{k}={str(v)[:16]}" for k, v in value.items()) or "no-arguments"
    return None


def aware(value: str) -> bool:
    """An ISO 8601 datetime with an offset."""
    return datetime.fromisoformat(value).utcoffset() is not None


def assert_not_found(message: str, task_id: int) -> None:
    """The message says the task is not found and how to find the right id."""
    assert f"task {task_id} not found" in message, message
    assert "list_tasks" in message and "search_tasks" in message, message


@dataclass
class Reply:
    """A successful tool call: its structured content and its text for people."""

    data: dict[str, Any]
    text: str


@dataclass
class Session:
    """One user's MCP client and the tool catalogue it was offered."""

    client: Client
    actor: Actor
    tools: dict[str, Tool]

    async def ok(self, tool: str, **args: Any) -> Reply:
        """Call a tool that must succeed; its structured content must match its output schema."""
        result = await self.client.call_tool(tool, args)
        text = _text(result.content)
        assert not result.is_error, f"{tool}({args}) failed: {text}"
        assert isinstance(result.structured_content, dict), f"{tool} gave no structured content"
        validator(json.dumps(self.tools[tool].output_schema, sort_keys=True)).validate(result.structured_content)
        assert text.strip() and not text.lstrip().startswith(("{", "[")), f"{tool} text is not for people: {text!r}"
        return Reply(result.structured_content, text)

    async def error(self, tool: str, **args: Any) -> str:
        """Call a tool that must fail as a tool error (isError, no structured content); returns its message."""
        result = await self.client.call_tool(tool, args)
        text = _text(result.content)
        assert result.is_error, f"{tool}({args}) should have failed but returned {result.structured_content}"
        assert result.structured_content is None
        assert text.strip()
        return text

    async def task(self, task_id: int) -> dict[str, Any]:
        """The task as get_task shows it now."""
        return (await self.ok("get_task", task_id=task_id)).data

    async def add(self, title: str = "Task", **fields: Any) -> dict[str, Any]:
        return (await self.ok("add_task", title=title, **fields)).data

    async def resource(self, uri: str) -> Any:
        """Read a JSON resource."""
        result = await self.client.read_resource(uri)
        (content,) = result.contents
        assert isinstance(content, TextResourceContents) and content.mime_type == "application/json"
        return json.loads(content.text)


@functools.cache
def validator(schema: str) -> Validator:
    """What jsonschema.validate(instance, schema) does, with the schema checked and compiled once."""
    loaded = json.loads(schema)
    cls = validator_for(loaded)
    cls.check_schema(loaded)
    checker: Validator = cls(loaded)
    return checker


def _text(content: list[Any]) -> str:
    return "\n".join(c.text for c in content if isinstance(c, TextContent))


@dataclass
class Servers:
    """The test's servers, one per user, each with a connected client held open until the test ends."""

    stop: asyncio.Event = field(default_factory=asyncio.Event)
    holders: list[asyncio.Task[None]] = field(default_factory=list)

    async def session(self, uow: UnitOfWork, actor: Actor) -> Session:
        """A client of a new server acting for `actor` over `uow`."""
        # The client's anyio cancel scopes must be left by the task that entered them, so a background task holds
        # each client open until the test ends.
        ready: asyncio.Future[Session] = asyncio.get_running_loop().create_future()
        server = build_server(McpPorts(uow=uow, secret=SECRET, fixed_user_id=actor.id))

        async def hold() -> None:
            try:
                async with Client(server) as client:
                    tools = {t.name: t for t in (await client.list_tools()).tools}
                    ready.set_result(Session(client=client, actor=actor, tools=tools))
                    await self.stop.wait()
            except BaseException as exc:
                if not ready.done():
                    ready.set_exception(exc)
                raise

        self.holders.append(asyncio.create_task(hold()))
        return await ready

    async def close(self) -> None:
        self.stop.set()
        await asyncio.gather(*self.holders)


@pytest.fixture
async def servers() -> AsyncIterator[Servers]:
    held = Servers()
    yield held
    await held.close()


@pytest.fixture
def now(clock: Clock) -> datetime:
    """Pin the clock the use cases (and the resources) read."""
    clock.set(NOW)
    return NOW


@pytest.fixture
async def me(servers: Servers, uow: UnitOfWork, now: datetime) -> Session:
    """A new user in Asia/Tokyo talking to their own server."""
    return await servers.session(uow, await new_actor(uow, "Asia/Tokyo"))


@pytest.fixture
async def bob(servers: Servers, uow: UnitOfWork, now: datetime) -> Session:
    """Another new user, on a server of his own over the same database."""
    return await servers.session(uow, await new_actor(uow, "UTC"))
