"""The in-process agent keeps one MCP client per user across turns (runtime.chat.build_agent over the real MCP app):
turns with tool calls connect and list the tools once, a token is minted once a minute, idle connections close,
shutdown closes them all, and a stateful session the server has closed is replaced once without the turn noticing.

(With mcp 2.3 the in-process client speaks the modern protocol, which keeps no server-side session; the reconnect
test uses a handshake-era client, the kind whose sessions a server closes when idle or evicts.)"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from agent.agent import Agent
from agent.mcp_client import McpToolbox, MintedBearer
from agent.pool import SessionPool
from agent.stream import TurnEvent
from domain.access_tokens import AUDIENCE_MCP, issue_access_token
from mcp_server import build_server, http_app
from runtime.bootstrap import Runtime, mcp_ports
from runtime.chat import build_agent, close_agent, in_process_url
from tests.agent.conftest import kinds, of_type
from tests.hosts import eventually, tasks_of, user_of


@dataclass(eq=False)  # hashable like the real app, so later clients adopt what the first one discovered
class Recorder:
    """The MCP app, recording the JSON-RPC methods posted to it, the sessions it opened and the DELETEs."""

    app: ASGIApp
    methods: list[str] = field(default_factory=list)
    sessions: list[str] = field(default_factory=list)
    deletes: int = 0
    tokens: set[str] = field(default_factory=set)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope["headers"])
        self.tokens.add(headers.get(b"authorization", b"").decode())
        self.deletes += scope["method"] == "DELETE"

        async def reading() -> Message:
            message = await receive()
            if message["type"] == "http.request" and message.get("body"):
                body = json.loads(message["body"])
                self.methods.extend(m.get("method", "") for m in (body if isinstance(body, list) else [body]))
            return message

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start" and b"mcp-session-id" not in headers:
                opened = dict(message.get("headers", [])).get(b"mcp-session-id")
                if opened:
                    self.sessions.append(opened.decode())
            await send(message)

        await self.app(scope, reading, sending)

    @property
    def handshakes(self) -> int:
        """Connections opened: the handshake-era `initialize` or the modern `server/discover` probe."""
        return self.methods.count("initialize") + self.methods.count("server/discover")


@dataclass
class Hosted:
    agent: Agent
    recorder: Recorder
    runtime: Runtime

    async def turn(self, user_id: int, message: str, agent: Agent | None = None) -> list[TurnEvent]:
        return [e async for e in (agent or self.agent).run_turn(user_id, None, message)]

    async def end_session(self, user_id: int, session_id: str) -> None:
        """What the server does to an idle or evicted session: it forgets it (here by the user's own DELETE)."""
        token = issue_access_token(user_id, self.runtime.secret, now=datetime.now(UTC), ttl=timedelta(minutes=5),
                                   audience=AUDIENCE_MCP)
        base = in_process_url(self.runtime.settings)
        async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=self.recorder.app), base_url=base) as http:
            answer = await http.delete("/mcp", headers={"Authorization": f"Bearer {token}",
                                                        "mcp-session-id": session_id})
        assert answer.status_code in (200, 204), answer.text


def add(title: str) -> dict[str, Any]:
    return {"tool_calls": [{"name": "add_task", "arguments": {"title": title}}]}


Hosting = Callable[..., AbstractAsyncContextManager[Hosted]]


@pytest.fixture
def hosted(runtime: Runtime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Hosting:
    """`hosted(steps, **env)`: the agent as the web host builds it, on a scripted model, with MCP serving."""

    @asynccontextmanager
    async def build(steps: list[dict[str, Any]], **env: str) -> AsyncIterator[Hosted]:
        script = tmp_path / "script.json"
        script.write_text(json.dumps(steps))
        monkeypatch.setenv("TODO_AGENT_MODEL", f"scripted:{script}")
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        server = build_server(mcp_ports(runtime))
        recorder = Recorder(http_app(server, mcp_ports(runtime)))
        agent = build_agent(runtime, recorder)
        assert agent is not None
        async with server.session_manager.run():
            try:
                yield Hosted(agent, recorder, runtime)
            finally:
                await close_agent(agent)

    return build


async def test_turns_of_one_user_with_tool_calls_share_one_mcp_connection(hosted: Hosting, runtime: Runtime):
    """Three turns that each call a tool connect once and list the tools once; every request has a fresh token."""
    ada = await user_of(runtime)
    async with hosted([add("A"), {"text": "Added."}, add("B"), {"text": "Added."}, add("C"), {"text": "ok"}]) as host:
        for title in "ABC":
            events = await host.turn(ada.id, f"add {title}")
            assert not of_type(events, "tool_result")[0].is_error, events
        assert host.recorder.handshakes == 1 and host.recorder.methods.count("tools/list") == 1
        assert len(host.recorder.tokens) == 1  # one token for the minute (agent.mcp_client.MintedBearer)
        pool = pooled(host.agent)
        assert pool.open_sessions() == 1
    assert pool.open_sessions() == 0  # shutdown closed it


def pooled(agent: Agent) -> SessionPool:
    assert isinstance(agent.toolbox_factory, SessionPool)
    return agent.toolbox_factory


async def test_each_user_gets_a_session_of_their_own(hosted: Hosting, runtime: Runtime):
    """Two users' turns hold two sessions, each acting as its own user."""
    ada, bob = await user_of(runtime), await user_of(runtime, "bob@example.com")
    async with hosted([add("Ada's"), {"text": "ok"}, add("Bob's"), {"text": "ok"}]) as host:
        await host.turn(ada.id, "add")
        await host.turn(bob.id, "add")
        assert pooled(host.agent).open_sessions() == 2
    assert [t.title for t in await tasks_of(runtime, ada.id)] == ["Ada's"]
    assert [t.title for t in await tasks_of(runtime, bob.id)] == ["Bob's"]


async def test_an_idle_session_is_closed(hosted: Hosting, runtime: Runtime):
    """With TODO_AGENT_TOOL_SESSION_IDLE_SECONDS=0.1 the user's session closes soon after the turn."""
    ada = await user_of(runtime)
    async with hosted([add("Soon idle"), {"text": "ok"}], TODO_AGENT_TOOL_SESSION_IDLE_SECONDS="0.1") as host:
        await host.turn(ada.id, "add")
        pool = pooled(host.agent)

        async def closed() -> bool | None:
            return True if pool.open_sessions() == 0 else None

        assert await eventually(closed)


def handshake_era(runtime: Runtime, app: ASGIApp) -> Callable[[int], AbstractAsyncContextManager[McpToolbox]]:
    """Connects like a handshake-era client (initialize, a stateful session, DELETE at the end), as a remote
    server or an older SDK does: the kind of session a server closes when idle or evicts."""

    @asynccontextmanager
    async def connect(user_id: int) -> AsyncIterator[McpToolbox]:
        def mint() -> str:
            return issue_access_token(user_id, runtime.secret, now=datetime.now(UTC), ttl=timedelta(minutes=5),
                                      audience=AUDIENCE_MCP)

        base = in_process_url(runtime.settings)
        transport = httpx2.ASGITransport(app=app)
        async with httpx2.AsyncClient(transport=transport, base_url=base, auth=MintedBearer(mint)) as http:
            async with Client(streamable_http_client(f"{base}/mcp", http_client=http), mode="legacy") as client:
                yield McpToolbox(client)

    return connect


async def test_a_session_the_server_closed_is_replaced_once_and_the_call_still_runs(hosted: Hosting, runtime: Runtime):
    """After the server forgets the user's session, the next tool call opens a new one and succeeds."""
    ada = await user_of(runtime)
    async with hosted([add("Before"), {"text": "ok"}, add("After"), {"text": "Added after."}]) as host:
        pool = SessionPool(handshake_era(runtime, host.recorder))
        agent = Agent(host.agent.model, pool, host.agent.store, host.agent.clock, host.agent.settings)
        try:
            await host.turn(ada.id, "add before", agent)
            assert host.recorder.methods.count("initialize") == 1
            await host.end_session(ada.id, host.recorder.sessions[-1])

            events = await host.turn(ada.id, "add after", agent)
        finally:
            await pool.aclose()

    (result,) = of_type(events, "tool_result")
    assert not result.is_error and "After" in result.summary and kinds(events)[-1] == "message_done"
    assert host.recorder.methods.count("initialize") == 2
    assert [t.title for t in await tasks_of(runtime, ada.id)] == ["Before", "After"]
