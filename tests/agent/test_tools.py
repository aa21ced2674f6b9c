"""The agent's side of MCP: every tool of the real server converts to a Cohere tool with no `$ref`, `$defs` or
null-`anyOf` left; the schema cleaner on its own; tool call timeouts; and the in-process ASGI path with a
5-minute JWT (audience `mcp`) minted for the user, as the web host wires it."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from mcp import Client
from mcp.types import CallToolResult, TextContent

from agent.agent import Agent
from agent.cohere_tools import plain_schema
from agent.mcp_client import McpToolbox, connect_in_process
from agent.settings import AgentSettings
from domain.access_tokens import issue_access_token
from domain.schemas import TaskQuery
from domain.usecases import list_tasks
from mcp_server import McpPorts, build_server, http_app
from tests.agent.conftest import SECRET, World, kinds


def walk(node: Any) -> list[dict[str, Any]]:
    """Every object in a JSON value."""
    if isinstance(node, dict):
        return [node] + [x for v in node.values() for x in walk(v)]
    if isinstance(node, list):
        return [x for v in node for x in walk(v)]
    return []


async def test_every_tool_of_the_real_server_converts_to_a_plain_cohere_tool(world: World):
    async with world.toolbox(world.user.id) as toolbox:
        originals = {t.name: t for t in await toolbox.list_mcp_tools()}
        tools = await toolbox.tools()

    assert len(tools) == len(originals) > 15
    for tool in tools:
        assert tool["type"] == "function" and set(tool["function"]) == {"name", "description", "parameters"}
        fn = tool["function"]
        assert fn["description"] == (originals[fn["name"]].description or "") and fn["description"]
        params = fn["parameters"]
        assert params["type"] == "object"
        for node in walk(params):
            assert "$ref" not in node and "$defs" not in node, (fn["name"], node)
            assert {"type": "null"} not in node.get("anyOf", []) + node.get("oneOf", []), (fn["name"], node)
            assert node.get("type") != "null" and node.get("default", 0) is not None
        for name, prop in params.get("properties", {}).items():
            assert "title" not in prop and prop.get("description"), (fn["name"], name)
    add = next(t["function"]["parameters"] for t in tools if t["function"]["name"] == "add_task")
    assert add["properties"]["priority"]["enum"] == ["none", "low", "medium", "high", "urgent"]
    assert add["properties"]["priority"]["default"] == "none"
    assert add["properties"]["tags"]["type"] == "array" and add["required"] == ["title"]


def test_refs_are_inlined_and_null_alternatives_collapsed():
    schema = {
        "title": "argsTitle",
        "type": "object",
        "$defs": {
            "Priority": {"title": "Priority", "enum": ["low", "high"], "type": "string"},
            "Node": {"type": "object", "properties": {"child": {"$ref": "#/$defs/Node"}}},
        },
        "properties": {
            "title": {"title": "Title", "type": "string", "description": "the task's title"},
            "priority": {"$ref": "#/$defs/Priority", "description": "how urgent"},
            "maybe": {"anyOf": [{"$ref": "#/$defs/Priority"}, {"type": "null"}], "default": None, "description": "d"},
            "either": {"anyOf": [{"type": "integer"}, {"type": "string"}, {"type": "null"}]},
            "listed": {"type": ["array", "null"], "items": {"$ref": "#/$defs/Priority"}, "default": ["low"]},
            "tree": {"$ref": "#/$defs/Node"},
        },
    }
    assert plain_schema(schema) == {
        "type": "object",
        "properties": {
            "title": {"type": "string", "description": "the task's title"},
            "priority": {"enum": ["low", "high"], "type": "string", "description": "how urgent"},
            "maybe": {"enum": ["low", "high"], "type": "string", "description": "d"},
            "either": {"anyOf": [{"type": "integer"}, {"type": "string"}]},
            "listed": {"type": "array", "items": {"enum": ["low", "high"], "type": "string"}, "default": ["low"]},
            "tree": {"type": "object", "properties": {"child": {}}},
        },
    }


class SlowClient:
    """Stands in for an MCP client whose server never answers."""

    instructions = None

    async def call_tool(self, name: str, arguments: dict[str, Any], read_timeout_seconds: float) -> CallToolResult:
        await asyncio.sleep(3600)
        return CallToolResult(content=[TextContent(type="text", text="late")])


async def test_a_tool_call_that_takes_too_long_is_an_error_outcome():
    toolbox = McpToolbox(cast(Client, SlowClient()), timeout=0.05)
    outcome = await toolbox.call("list_tasks", {})
    assert outcome.is_error and "did not finish within 0.05 seconds" in outcome.text
    assert outcome.document() == {"error": outcome.text}


async def test_tool_errors_and_results_become_documents(world: World):
    async with world.toolbox(world.user.id) as toolbox:
        bad = await toolbox.call("get_task", {"task_id": 999_999})
        good = await toolbox.call("add_task", {"title": "Doc"})
        unknown = await toolbox.call("no_such_tool", {})
    assert bad.is_error and bad.structured is None and "not found" in bad.document()["error"]
    assert not good.is_error and good.document()["title"] == "Doc" and "Doc" in good.summary()
    assert unknown.is_error


async def test_the_agent_reaches_the_mcp_app_in_process_with_a_short_lived_token(world: World):
    ports = McpPorts(uow=world.uow, secret=SECRET)  # no fixed user: the token says who is calling
    server = build_server(ports)
    app = http_app(server, ports)

    @asynccontextmanager
    async def tools_for(user_id: int) -> AsyncIterator[McpToolbox]:
        now = datetime.now(UTC)
        token = issue_access_token(user_id, SECRET, now=now, ttl=timedelta(minutes=5), audience="mcp")
        async with connect_in_process(app, token) as toolbox:
            yield toolbox

    world.agent([
        {"tool_calls": [{"name": "add_task", "arguments": {"title": "Through ASGI"}}]},
        {"text": "Added."},
    ])
    agent = Agent(world.model, tools_for, world.store, world.clock, AgentSettings())
    async with server.session_manager.run():
        events = await world.turn(agent, message="add it")

    assert kinds(events)[-1] == "message_done", events
    page = await list_tasks(world.uow, world.user, TaskQuery())
    assert [t.title for t in page.data] == ["Through ASGI"]
    system = world.model.calls[0][0][0]["content"]
    assert "whoami" in system  # the server's instructions reached the system prompt
    assert json.loads(world.model.calls[1][0][-1]["content"][0]["document"]["data"])["title"] == "Through ASGI"
