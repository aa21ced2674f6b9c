"""What the agent's MCP sessions share in the web host (agent.tool_share, agent.mcp_client.MintedBearer): one token
sent until it is a minute old, the server's public tool list read once for every user's session, each tool's
output validator compiled once for the process, and the pooled sessions closed by the web host's lifespan."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx2
import jsonschema.validators
import pytest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from agent.agent import Agent
from agent.mcp_client import MintedBearer, connect_in_process
from agent.pool import SessionPool
from agent.stream import TurnEvent
from agent.tool_share import shared_for
from domain.access_tokens import AUDIENCE_MCP, issue_access_token
from mcp_server import build_server, http_app
from mcp_server.server import TOOLS_LIST_CACHE
from runtime.apps import create_app
from runtime.bootstrap import Runtime, mcp_ports
from runtime.chat import build_agent, close_agent, in_process_url
from tests.agent.conftest import of_type
from tests.hosts import user_of


@dataclass(eq=False)  # hashable and weakly referable like the real app: what an app shares is keyed by it
class Methods:
    """The MCP app, recording the JSON-RPC methods posted to it."""

    app: ASGIApp
    posted: list[str] = field(default_factory=list)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def reading() -> Message:
            message = await receive()
            if message["type"] == "http.request" and message.get("body"):
                body = json.loads(message["body"])
                self.posted.extend(m.get("method", "") for m in (body if isinstance(body, list) else [body]))
            return message

        await self.app(scope, reading, send)


def add(title: str) -> dict[str, Any]:
    return {"tool_calls": [{"name": "add_task", "arguments": {"title": title}}]}


Hosting = Callable[[list[dict[str, Any]]], AbstractAsyncContextManager[tuple[Agent, Methods]]]


@pytest.fixture
def hosted(runtime: Runtime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Hosting:
    """`hosted(steps)`: the agent as the web host builds it, on a scripted model, with MCP serving."""

    @asynccontextmanager
    async def build(steps: list[dict[str, Any]]) -> AsyncIterator[tuple[Agent, Methods]]:
        script = tmp_path / "script.json"
        script.write_text(json.dumps(steps))
        monkeypatch.setenv("TODO_AGENT_MODEL", f"scripted:{script}")
        server = build_server(mcp_ports(runtime))
        app = Methods(http_app(server, mcp_ports(runtime)))
        agent = build_agent(runtime, app)
        assert agent is not None
        async with server.session_manager.run():
            try:
                yield agent, app
            finally:
                await close_agent(agent)

    return build


async def turn(agent: Agent, user_id: int, message: str) -> list[TurnEvent]:
    return [e async for e in agent.run_turn(user_id, None, message)]


def test_a_minted_token_is_sent_until_it_is_reuse_seconds_old():
    """Requests within `reuse_seconds` carry the same token; the first one after gets a new one."""
    now, minted = [0.0], []

    def mint() -> str:
        minted.append(f"t{len(minted)}")
        return minted[-1]

    bearer = MintedBearer(mint, reuse_seconds=60, clock=lambda: now[0])
    seen = []
    for at in (0.0, 10.0, 59.9, 60.0, 100.0, 121.0):
        now[0] = at
        request = httpx2.Request("POST", "http://localhost/mcp")
        next(bearer.auth_flow(request))
        seen.append(request.headers["Authorization"])
    assert seen == ["Bearer t0"] * 3 + ["Bearer t1"] * 2 + ["Bearer t2"]
    assert MintedBearer(mint).token() != MintedBearer(mint).token()  # without reuse: a token per request


async def test_the_server_marks_its_tool_list_public_for_some_minutes(runtime: Runtime):
    """tools/list answers carry the SEP-2549 hints that let clients share it across users."""
    server = build_server(mcp_ports(runtime))
    ada = await user_of(runtime)
    app = http_app(server, mcp_ports(runtime))
    async with server.session_manager.run(), connect_in_process(app, _token(runtime, ada.id),
                                                                base_url=in_process_url(runtime.settings)) as box:
        listed = await box.client.list_tools(cache_mode="bypass")
    assert listed.cache_scope == "public" and listed.ttl_ms == TOOLS_LIST_CACHE.ttl_ms > 0


async def test_a_second_users_first_tool_call_neither_lists_the_tools_nor_compiles_a_validator(
    hosted: Hosting, runtime: Runtime, monkeypatch: pytest.MonkeyPatch  # noqa: F811 (the fixture)
):
    """Ada's session lists the tools and compiles the output validators of whoami and add_task; Bob's new session
    sends nothing but its tool calls, and validates their results with the validators Ada's session compiled."""
    ada, bob = await user_of(runtime), await user_of(runtime, "bob@example.com")
    checks = _count_schema_checks(monkeypatch)
    async with hosted([add("Ada's"), {"text": "ok"}, add("Bob's"), {"text": "ok"}]) as (agent, app):
        await turn(agent, ada.id, "add")
        assert app.posted.count("tools/list") == 1 and len(checks) == 2, (app.posted, checks)
        before = len(app.posted)

        events = await turn(agent, bob.id, "add")

        assert not of_type(events, "tool_result")[0].is_error, events
        assert app.posted[before:] == ["tools/call", "tools/call"]  # whoami (Bob's timezone) and add_task
        assert len(checks) == 2  # nothing compiled again
        pool = agent.toolbox_factory
        assert isinstance(pool, SessionPool) and pool.open_sessions() == 2
        async with pool.using(ada.id) as ada_box, pool.using(bob.id) as bob_box:
            assert ada_box is not bob_box
            validators = [_validators(box)["add_task"] for box in (ada_box, bob_box)]
            assert validators[0] is validators[1] is shared_for(app, "").validator("add_task")


async def test_a_shared_validator_still_refuses_a_result_that_breaks_the_schema(runtime: Runtime):
    """Sharing does not skip the check: a seeded validator rejects what the schema does not allow."""
    server = build_server(mcp_ports(runtime))
    ada, bob = await user_of(runtime), await user_of(runtime, "bob@example.com")
    app = Methods(http_app(server, mcp_ports(runtime)))
    base = in_process_url(runtime.settings)
    async with server.session_manager.run():
        async with connect_in_process(app, _token(runtime, ada.id), base_url=base) as first:
            assert not (await first.call("whoami", {})).is_error
        async with connect_in_process(app, _token(runtime, bob.id), base_url=base) as second:
            assert not (await second.call("whoami", {})).is_error
            assert _validators(second)["whoami"] is shared_for(app, "").validator("whoami")
            good = await second.client.call_tool("whoami", {})
            result = good.model_copy(update={"structured_content": {"user_id": "not a number"}})
            with pytest.raises(RuntimeError, match="Invalid structured content"):
                await second.client.session.validate_tool_result("whoami", result)


async def test_the_web_hosts_lifespan_closes_the_pooled_sessions(
    runtime: Runtime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """A turn that called a tool leaves the user's session open while the host serves; shutdown closes it."""
    script = tmp_path / "script.json"
    script.write_text(json.dumps([add("Kept"), {"text": "ok"}]))
    monkeypatch.setenv("TODO_AGENT_MODEL", f"scripted:{script}")
    app = create_app(runtime)
    agent = app.state.api.agent
    ada = await user_of(runtime)
    async with app.router.lifespan_context(app):
        events = [e async for e in agent.run_turn(ada.id, None, "add")]
        assert not of_type(events, "tool_result")[0].is_error, events
        assert isinstance(agent.toolbox_factory, SessionPool) and agent.toolbox_factory.open_sessions() == 1
    assert agent.toolbox_factory.open_sessions() == 0


def _token(runtime: Runtime, user_id: int) -> Callable[[], str]:
    return lambda: issue_access_token(user_id, runtime.secret, now=datetime.now(UTC), ttl=timedelta(minutes=5),
                                      audience=AUDIENCE_MCP)


def _validators(box: Any) -> dict[str, Any]:
    tables: dict[str, Any] = box.client.session._tool_output_validators  # noqa: SLF001 (what is shared)
    return tables


def _count_schema_checks(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every output-schema compile the SDK does (it checks the schema against its metaschema first)."""
    checks: list[str] = []
    cls = jsonschema.validators.validator_for({"$schema": "https://json-schema.org/draft/2020-12/schema"})
    original = cls.check_schema

    def counting(schema: dict[str, Any], *args: Any, **kwargs: Any) -> None:
        checks.append(str(schema.get("title", "")))
        original(schema, *args, **kwargs)

    monkeypatch.setattr(cls, "check_schema", staticmethod(counting))
    return checks


def test_a_system_prompt_is_counted_once_while_it_stays_the_same():
    """prompt_tokens gives count_tokens' figure, and a repeated prompt is not encoded again."""
    from agent.tokens import count_tokens, prompt_tokens

    text = "You manage tasks. It is 09:41 on Thursday, 2026-12-03, in Europe/Berlin."
    misses = prompt_tokens.cache_info().misses
    assert prompt_tokens(text) == count_tokens(text) == prompt_tokens(text)
    assert prompt_tokens.cache_info().misses == misses + 1
