"""MCP over streamable HTTP checks a JWT's login session on every request: a logged-out session's token is 401,
while the agent's server-minted tokens (no session) keep working."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import httpx

from domain.access_tokens import AUDIENCE_MCP, issue_access_token
from domain.uow import UnitOfWork
from domain.usecases import Actor, revoke_session, start_session
from mcp_server import McpPorts, build_server, http_app

SECRET = "mcp-session-secret-" + "y" * 40
ACCEPT = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
INITIALIZE = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
    "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "test", "version": "1"}}}


@asynccontextmanager
async def mcp_http(uow: UnitOfWork) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client of the real streamable HTTP app (entered in the test's own task: the SDK needs that)."""
    ports = McpPorts(uow=uow, secret=SECRET)
    server = build_server(ports)
    app = http_app(server, ports)
    async with (
        server.session_manager.run(),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1:8000") as client,
    ):
        yield client


def _mcp_jwt(user_id: int, session_id: str | None = None) -> str:
    return issue_access_token(user_id, SECRET, now=datetime.now(UTC), ttl=timedelta(minutes=5),
                              audience=AUDIENCE_MCP, session_id=session_id)


async def _initialize(client: httpx.AsyncClient, token: str) -> int:
    r = await client.post("/mcp", json=INITIALIZE, headers=ACCEPT | {"Authorization": f"Bearer {token}"})
    return r.status_code


async def test_an_mcp_jwt_of_a_logged_out_session_is_refused(uow: UnitOfWork, actor: Actor) -> None:
    """A JWT naming a session works while the session lives and is 401 once it is logged out."""
    grant = await start_session(uow, actor.id, max_age=timedelta(hours=12))
    token = _mcp_jwt(actor.id, grant.session_id)
    async with mcp_http(uow) as client:
        assert await _initialize(client, token) == 200
        await revoke_session(uow, actor, grant.session_id)
        assert await _initialize(client, token) == 401


async def test_a_server_minted_mcp_jwt_without_a_session_still_works(uow: UnitOfWork, actor: Actor) -> None:
    """The in-process agent's short-lived tokens carry no session and are accepted."""
    async with mcp_http(uow) as client:
        assert await _initialize(client, _mcp_jwt(actor.id)) == 200
