"""Fair streamable-HTTP sessions: a per-user cap (oldest closed first), revocation ending open sessions, strict
Host/Origin syntax, and no OAuth metadata pointing at an authorization server that does not exist.

The real server and HTTP app (build_server, http_app) over the parametrized database, driven with raw HTTP
through httpx's ASGI transport, with the SDK's session manager running as a host's lifespan runs it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from starlette.types import ASGIApp

from domain.uow import UnitOfWork
from domain.usecases import create_api_token, revoke_token
from mcp_server import McpPorts, build_server, http_app
from mcp_server.hosts import valid_host, valid_origin
from mcp_server.sessions import SessionLimits
from tests.conftest import new_actor
from tests.mcp.conftest import SECRET

BASE = "http://127.0.0.1:8000"
ACCEPT = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
LEGACY = "2025-11-25"
INITIALIZE: dict[str, Any] = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
    "protocolVersion": LEGACY, "capabilities": {}, "clientInfo": {"name": "flood", "version": "0"}}}
INITIALIZED = {"jsonrpc": "2.0", "method": "notifications/initialized"}


@dataclass
class Mcp:
    app: ASGIApp
    client: httpx.AsyncClient


@asynccontextmanager
async def serving(uow: UnitOfWork) -> AsyncIterator[Mcp]:
    """The MCP HTTP app with its session manager (and so the token rechecks) running, in the test's own task
    (the manager's task group must be entered and left by the same task)."""
    ports = McpPorts(uow=uow, secret=SECRET, session_limits=SessionLimits(per_user=20, recheck_seconds=0.05))
    server = build_server(ports)
    app = http_app(server, ports)
    async with (
        server.session_manager.run(),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE, timeout=30) as client,
    ):
        yield Mcp(app, client)


async def token_of(uow: UnitOfWork) -> tuple[str, int, Any]:
    """A new user's personal API token, its id and the user."""
    actor = await new_actor(uow)
    token, view = await create_api_token(uow, actor, "mcp")
    return token, view.id, actor


async def initialize(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.post("/mcp", json=INITIALIZE, headers=ACCEPT | {"Authorization": f"Bearer {token}"})


async def open_session(client: httpx.AsyncClient, token: str) -> str:
    """Initialize a session and return its id."""
    response = await initialize(client, token)
    assert response.status_code == 200, response.text
    return response.headers["mcp-session-id"]


async def use(client: httpx.AsyncClient, token: str, session_id: str) -> int:
    """Send a notification on the session; the status says whether it is still open (202) or gone (404)."""
    headers = ACCEPT | {"Authorization": f"Bearer {token}", "mcp-session-id": session_id,
                        "mcp-protocol-version": LEGACY}
    return (await client.post("/mcp", json=INITIALIZED, headers=headers)).status_code


async def test_one_user_keeps_at_most_the_cap_and_the_oldest_sessions_close_first(
    uow: UnitOfWork
) -> None:
    """25 sessions of one user leave the 20 most recent open; the 5 oldest answer 404."""
    async with serving(uow) as mcp:
        token, _, _ = await token_of(uow)
        sessions = [await open_session(mcp.client, token) for _ in range(25)]
        answers = [await use(mcp.client, token, sid) for sid in sessions]
        assert answers == [404] * 5 + [202] * 20


async def test_a_recently_used_session_outlives_a_newer_idle_one(uow: UnitOfWork) -> None:
    """Least recently used, not oldest created, is closed: using the first session keeps it."""
    async with serving(uow) as mcp:
        token, _, _ = await token_of(uow)
        first = await open_session(mcp.client, token)
        rest = [await open_session(mcp.client, token) for _ in range(19)]
        assert await use(mcp.client, token, first) == 202
        await open_session(mcp.client, token)
        assert await use(mcp.client, token, first) == 202
        assert await use(mcp.client, token, rest[0]) == 404


async def test_another_user_can_still_initialize_when_one_user_opened_many_sessions(
    uow: UnitOfWork
) -> None:
    """One account cannot fill the table for everyone: user B initializes after user A opened 25 sessions."""
    async with serving(uow) as mcp:
        flooder, _, _ = await token_of(uow)
        for _ in range(25):
            await open_session(mcp.client, flooder)
        other, _, _ = await token_of(uow)
        assert (await initialize(mcp.client, other)).status_code == 200


async def test_revoking_an_api_token_ends_its_open_mcp_stream(uow: UnitOfWork) -> None:
    """The session's open GET stream ends soon after the token is revoked (the recheck terminates it)."""
    async with serving(uow) as mcp:
        token, token_id, actor = await token_of(uow)
        session_id = await open_session(mcp.client, token)
        assert await use(mcp.client, token, session_id) == 202
        headers = {"Accept": "text/event-stream", "Authorization": f"Bearer {token}", "mcp-session-id": session_id,
                   "mcp-protocol-version": LEGACY}
        stream = asyncio.create_task(mcp.client.get("/mcp", headers=headers))  # returns once the stream has ended
        await asyncio.sleep(0.2)
        assert not stream.done()  # open while the token is valid
        await revoke_token(uow, token_id, actor)
        ended = await asyncio.wait_for(stream, timeout=20)
        assert ended.status_code == 200
        assert await use(mcp.client, token, session_id) == 401  # and the token itself is refused


@pytest.mark.parametrize("host", ["localhost:@evil.com", "localhost:8000@evil.com", "127.0.0.1:8000/x",
                                  "127.0.0.1:8000 evil", "user@localhost:8000", ""])
async def test_a_host_with_userinfo_or_anything_but_host_and_port_is_refused_421(
    uow: UnitOfWork, host: str
) -> None:
    """The SDK's prefix matching of `localhost:*` is not enough: malformed Host headers get 421."""
    async with serving(uow) as mcp:
        token, _, _ = await token_of(uow)
        response = await mcp.client.post("/mcp", json=INITIALIZE,
                                         headers=ACCEPT | {"Authorization": f"Bearer {token}", "Host": host})
        assert response.status_code == 421


@pytest.mark.parametrize("origin", ["http://localhost:1234@evil.com", "http://127.0.0.1:8000/path",
                                    "javascript://localhost", "http://localhost:8000 "])
async def test_an_origin_with_userinfo_or_a_path_is_refused_403(uow: UnitOfWork, origin: str) -> None:
    """Malformed Origin headers get 403, as foreign ones do."""
    async with serving(uow) as mcp:
        token, _, _ = await token_of(uow)
        response = await mcp.client.post("/mcp", json=INITIALIZE,
                                         headers=ACCEPT | {"Authorization": f"Bearer {token}", "Origin": origin})
        assert response.status_code == 403


def test_plain_hosts_and_origins_pass_the_syntax_check() -> None:
    """What real clients send is well-formed."""
    assert all(map(valid_host, ["127.0.0.1:8000", "localhost", "[::1]:8000", "todo.example.com"]))
    assert all(map(valid_origin, ["http://127.0.0.1:8000", "https://todo.example.com", "http://[::1]:80"]))


async def test_no_metadata_names_an_authorization_server_that_does_not_exist(uow: UnitOfWork) -> None:
    """Only bearer tokens work, so no protected-resource metadata (with a fake AS) is served, and the 401 says
    Bearer without pointing at any."""
    async with serving(uow) as mcp:
        metadata = await mcp.client.get("/.well-known/oauth-protected-resource/mcp")
        assert metadata.status_code == 404
        refused = await mcp.client.post("/mcp", json=INITIALIZE, headers=ACCEPT)
        assert refused.status_code == 401
        challenge = refused.headers["www-authenticate"]
        assert challenge.startswith("Bearer ") and "resource_metadata" not in challenge
