"""Agent fixtures: the real MCP server (in-process, acting for a fresh user) wrapped in the agent's McpToolbox, the
real database through the shared fixtures, scripted models written to tmp_path, a model recorder, and the helpers
the agent's tests share (scripted calls, stored conversations, the SQL a read runs and the rows it examines)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from mcp import Client
from mcp.server.mcpserver import MCPServer

from agent.agent import Agent
from agent.mcp_client import McpToolbox
from agent.model import ChatModel, Message, ModelEvent, ToolSpec
from agent.model_choice import build_model
from agent.settings import AgentSettings
from agent.store import ConversationStore, NewMessage
from agent.stream import TurnEvent
from agent.window import message_tokens
from domain.db import Database
from domain.schemas import TaskCreate
from domain.uow import UnitOfWork
from domain.usecases import Actor, create_task
from mcp_server import McpPorts, build_server
from tests.conftest import Clock, new_actor

SECRET = "s" * 40
T0 = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)


@dataclass
class RecordingModel:
    """Passes calls through to a model and keeps what each call was given."""

    inner: ChatModel
    calls: list[tuple[list[Message], list[ToolSpec]]] = field(default_factory=list)

    async def stream(self, messages: list[Message], tools: list[ToolSpec]) -> AsyncIterator[ModelEvent]:
        self.calls.append((messages, tools))
        async for event in self.inner.stream(messages, tools):
            yield event


@dataclass
class World:
    """One test's user, their MCP server and a way to build agents on scripts."""

    user: Actor
    server: MCPServer
    store: ConversationStore
    clock: Clock
    uow: UnitOfWork
    tmp_path: Path
    model: RecordingModel | None = None

    @asynccontextmanager
    async def toolbox(self, user_id: int) -> AsyncIterator[McpToolbox]:
        assert user_id == self.user.id
        async with Client(self.server) as client:
            yield McpToolbox(client)

    def agent(self, steps: list[dict[str, Any]], **settings: Any) -> Agent:
        """An agent on a scripted model replaying `steps` (written to a file, as a host would load it)."""
        script = self.tmp_path / f"script-{len(list(self.tmp_path.glob('script-*')))}.json"
        script.write_text(json.dumps(steps))
        scripted = build_model(script=str(script))
        assert scripted is not None
        self.model = RecordingModel(scripted)
        return self.agent_on(self.model, **settings)

    def agent_on(self, model: ChatModel, **settings: Any) -> Agent:
        return Agent(model, self.toolbox, self.store, self.clock, AgentSettings(**settings))

    async def turn(self, agent: Agent, conversation_id: int | None = None, message: str | None = None,
                   approval: dict[str, Any] | None = None) -> list[TurnEvent]:
        """Every event of one turn."""
        return [e async for e in agent.run_turn(self.user.id, conversation_id, message, approval)]


@pytest.fixture
def store(database: Database) -> ConversationStore:
    return ConversationStore(database.writer, reader=database.reader)


@pytest.fixture
async def world(uow: UnitOfWork, store: ConversationStore, clock: Clock, tmp_path: Path) -> World:
    user = await new_actor(uow)
    server = build_server(McpPorts(uow=uow, secret=SECRET, fixed_user_id=user.id))
    return World(user=user, server=server, store=store, clock=clock, uow=uow, tmp_path=tmp_path)


def of_type(events: list[TurnEvent], kind: str) -> list[Any]:
    """The events of one type, in order."""
    return [e for e in events if e.type == kind]


def kinds(events: list[TurnEvent]) -> list[str]:
    """The event types in order, text deltas folded into one."""
    return fold_deltas(event.type for event in events)


def fold_deltas(types: Iterable[str]) -> list[str]:
    """The types in order, each run of text_delta folded into one."""
    out: list[str] = []
    for kind in types:
        if not (kind == "text_delta" and out and out[-1] == "text_delta"):
            out.append(kind)
    return out


def text_of(events: list[TurnEvent]) -> str:
    return "".join(e.text for e in events if e.type == "text_delta")


Factory = Callable[..., Agent]


# --- scripted turns and tasks ----------------------------------------------------------------------------------


def call(name: str, **arguments: Any) -> dict[str, Any]:
    """A tool call as a scripted model step writes it."""
    return {"name": name, "arguments": arguments}


async def a_task(world: World, title: str = "Old plan") -> int:
    return (await create_task(world.uow, world.user, TaskCreate(title=title))).id


async def ask_to_delete(world: World, task_id: int, *after: dict[str, Any]) -> tuple[Any, list[Any]]:
    """A turn whose delete_task waits for approval; returns the agent and its events."""
    agent = world.agent([{"text": "I'll delete it.", "tool_calls": [call("delete_task", task_id=task_id)]}, *after])
    return agent, await world.turn(agent, message="delete the old plan")


# --- stored conversations and what reading them costs ----------------------------------------------------------


def pairs(count: int, words: int = 3) -> list[NewMessage]:
    """`count` user/assistant exchanges, each message `words` words long."""
    out: list[NewMessage] = []
    for n in range(count):
        text = " ".join(["word"] * words)
        out += [NewMessage("user", f"question {n} {text}"), NewMessage("assistant", f"answer {n} {text}")]
    return [NewMessage(m.role, m.content, token_count=message_tokens(m)) for m in out]


def tool_turn(ids: list[str]) -> list[NewMessage]:
    """A user message, an assistant message calling three tools, their three results and the answer."""
    calls = [{"id": i, "name": "get_task", "arguments": json.dumps({"task_id": n + 1})} for n, i in enumerate(ids)]
    results = [NewMessage("tool", json.dumps({"id": n + 1}), tool_call_id=i) for n, i in enumerate(ids)]
    return [NewMessage("user", "show three"), NewMessage("assistant", "", tool_calls=calls), *results,
            NewMessage("assistant", "Here they are.")]


async def conversation(store: ConversationStore, user_id: int, now: datetime = T0) -> int:
    created, _ = await store.current_or_new(user_id, None, now=now, timeout=timedelta(minutes=30))
    assert created.id is not None
    return created.id


@contextmanager
def statements(database: Database) -> Iterator[list[tuple[str, Any]]]:
    """Every SQL statement (and its parameters) the engine runs inside the block."""
    seen: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool) -> None:
        seen.append((statement, parameters))

    sa.event.listen(database.engine.sync_engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        sa.event.remove(database.engine.sync_engine, "before_cursor_execute", record)


async def rows_examined(database: Database, statement: str, parameters: Any) -> int:
    """How many message rows the database touches to answer a statement (from its plan)."""
    async with database.engine.connect() as conn:
        if database.sqlite:
            plan = (await conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)).all()
            details = [str(row[-1]) for row in plan]
            # an index search in seq order: no full scan, no sort of the whole conversation
            assert all("USING INDEX ix_message_conversation_seq" in d for d in details if "message" in d), details
            assert not any("SCAN" in d or "TEMP B-TREE" in d for d in details), details
            return 0
        await conn.exec_driver_sql("ANALYZE message")
        (plan,) = (await conn.exec_driver_sql(f"EXPLAIN (ANALYZE, FORMAT JSON) {statement}", parameters)).one()
    return _scanned(plan[0]["Plan"])


def _scanned(node: dict[str, Any]) -> int:
    assert node["Node Type"] != "Seq Scan", node
    own = node.get("Actual Rows", 0) + node.get("Rows Removed by Filter", 0) if "Scan" in node["Node Type"] else 0
    return own + sum(_scanned(child) for child in node.get("Plans", []))
