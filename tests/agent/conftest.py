"""Agent fixtures: the real MCP server (in-process, acting for a fresh user) wrapped in the agent's McpToolbox, the
real database through the shared fixtures, scripted models written to tmp_path, and a model recorder."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp.server.mcpserver import MCPServer

from agent.agent import Agent
from agent.mcp_client import McpToolbox
from agent.model import ChatModel, Message, ModelEvent, ToolSpec
from agent.model_choice import build_model
from agent.settings import AgentSettings
from agent.store import ConversationStore
from agent.stream import TurnEvent
from domain.db import Database
from domain.uow import UnitOfWork
from domain.usecases import Actor
from mcp_server import McpPorts, build_server
from tests.conftest import Clock, new_actor

SECRET = "s" * 40


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
        scripted = build_model({"TODO_AGENT_MODEL": f"scripted:{script}"})
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
