"""The MCP client side: the user's tools through a connected `mcp.Client`, and ways to connect one."""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections.abc import AsyncIterator, Callable, Generator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from mcp.types import CONNECTION_CLOSED, CallToolResult, DiscoverResult, TextContent, Tool
from pydantic import ValidationError
from starlette.types import ASGIApp

from agent.cohere_tools import cohere_tool
from agent.ports import ToolOutcome
from agent.tool_share import SharedTools, shared_for

logger = logging.getLogger(__name__)

IN_PROCESS_URL = "http://localhost:8000"
MAX_TOOL_PAGES = 20

# What each in-process MCP app said about itself on its first connection (protocol version and discover result):
# later clients adopt it rather than ask again. The app is this process's own and the same for every user.
_introductions: weakref.WeakKeyDictionary[Any, tuple[str, DiscoverResult]] = weakref.WeakKeyDictionary()


class McpToolbox:
    """A connected MCP client as the agent's toolbox: tools listed once, calls with a timeout."""

    def __init__(self, client: Client, *, timeout: float = 30.0, shared: SharedTools | None = None) -> None:
        self.client = client
        self.timeout = timeout
        self.shared = shared  # the listing and validators other sessions to the same app have (agent.tool_share)
        self._tools: list[dict[str, Any]] | None = None
        self._listed: list[Tool] | None = None
        self._adopted = False

    @property
    def instructions(self) -> str | None:
        """The server's instructions from the handshake."""
        return self.client.instructions

    async def tools(self) -> list[dict[str, Any]]:
        """Every tool of the server in Cohere's format (listed on first use, then cached)."""
        if self._tools is None:
            self._tools = [cohere_tool(t.name, t.description, t.input_schema) for t in await self._mcp_tools()]
        return self._tools

    async def read_only(self) -> frozenset[str]:
        """The tools whose annotations say `readOnlyHint` (absent means it may change data, as the spec says)."""
        return frozenset(t.name for t in await self._mcp_tools() if t.annotations and t.annotations.read_only_hint)

    async def _mcp_tools(self) -> list[Tool]:
        if self._listed is None:
            self._listed = await self.list_mcp_tools()
        return self._listed

    async def list_mcp_tools(self) -> list[Tool]:
        """Every page of `tools/list`."""
        tools: list[Tool] = []
        cursor: str | None = None
        for _ in range(MAX_TOOL_PAGES):
            try:
                page = await self.client.list_tools(cursor=cursor)
            except MCPError as exc:
                if session_lost(exc):
                    raise SessionLost(exc.message) from exc
                raise
            tools.extend(page.tools)
            if not (cursor := page.next_cursor):
                break
        return tools

    async def call(self, name: str, arguments: dict[str, Any]) -> ToolOutcome:
        """Run one tool; a timeout or protocol failure is an error outcome the model can read."""
        try:
            return await self.attempt(name, arguments)
        except SessionLost as lost:
            return ToolOutcome(None, f"{name} failed: {lost}", is_error=True)

    async def attempt(self, name: str, arguments: dict[str, Any]) -> ToolOutcome:
        """Like `call`, except that a session the server no longer knows raises SessionLost (the call did not run)."""
        try:
            async with asyncio.timeout(self.timeout):
                if self.shared is not None and not self._adopted:
                    # Listed through the shared response cache (no request once any session has listed), and
                    # given the validators compiled already: the SDK would otherwise list and compile here.
                    await self._mcp_tools()
                    self.shared.adopt(self.client.session)
                    self._adopted = True
                result = await self.client.call_tool(name, arguments, read_timeout_seconds=self.timeout)
        except TimeoutError:
            return ToolOutcome(None, f"{name} did not finish within {self.timeout:g} seconds", is_error=True)
        except (MCPError, ValidationError) as exc:
            if isinstance(exc, MCPError) and session_lost(exc):
                raise SessionLost(exc.message) from exc
            logger.warning("tool %s failed: %s", name, exc)
            return ToolOutcome(None, f"{name} failed: {exc}", is_error=True)
        except (anyio.ClosedResourceError, anyio.BrokenResourceError) as exc:  # the client's session has ended
            raise SessionLost("the tool session has ended") from exc
        if self.shared is not None:
            self.shared.keep(self.client.session, name)
        return outcome(result)


class SessionLost(Exception):
    """The server does not know the client's session (closed when idle, evicted, or ended): the request did not
    run, and a new session can send it again."""


# What the SDK's client reports when the server answers 404 for its session id (the server's own words, or the
# client's stand-in), or when its connection is gone.
LOST_SESSION_MESSAGES = ("Session not found", "Session terminated")


def session_lost(error: MCPError) -> bool:
    """Whether an MCP error says the session is gone rather than that the request failed."""
    return error.code == CONNECTION_CLOSED or error.message in LOST_SESSION_MESSAGES


class MintedBearer(httpx2.Auth):
    """A short-lived bearer token minted by `mint`, so that a session kept open for long never sends an expired
    one: a fresh one on every HTTP request, or with `reuse_seconds` the same one until it is that old (by
    `clock`, seconds), so the server's cache of verified callers recognises it; keep `reuse_seconds` well
    below the token's lifetime."""

    def __init__(
        self, mint: Callable[[], str], *, reuse_seconds: float = 0.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.mint = mint
        self.reuse_seconds = reuse_seconds
        self.clock = clock
        self._token: str | None = None
        self._minted = 0.0

    def token(self) -> str:
        """The token to send now: the last one while it is younger than `reuse_seconds`, else a new one."""
        now = self.clock()
        if self._token is None or now - self._minted >= self.reuse_seconds:
            self._token, self._minted = self.mint(), now
        return self._token

    def auth_flow(self, request: httpx2.Request) -> Generator[httpx2.Request, httpx2.Response, None]:
        """Sign the request."""
        request.headers["Authorization"] = f"Bearer {self.token()}"
        yield request


def outcome(result: CallToolResult) -> ToolOutcome:
    """A tool result as the agent keeps it."""
    text = "\n".join(part.text for part in result.content if isinstance(part, TextContent))
    structured = result.structured_content if isinstance(result.structured_content, dict) else None
    return ToolOutcome(None if result.is_error else structured, text, bool(result.is_error))


@asynccontextmanager
async def connect_in_process(
    app: ASGIApp, token: str | Callable[[], str], *, base_url: str = IN_PROCESS_URL, timeout: float = 30.0,
    token_reuse_seconds: float = 0.0, partition: str | None = None,
) -> AsyncIterator[McpToolbox]:
    """The MCP app of this process over an ASGI transport, authenticated as the token's user (a callable `token`
    mints one for each HTTP request, or once per `token_reuse_seconds`, for sessions that outlive a token).

    `base_url` must be a host the MCP app accepts (its allowed hosts); the host's lifespan must be running
    the MCP session manager. Only the first client of an app probes it (`server/discover`); later ones adopt
    what it answered. Every client of an app shares its public tool listing and compiled output validators
    (agent.tool_share); `partition` (the verified user) scopes what the server marks private.
    """
    auth = MintedBearer(token, reuse_seconds=token_reuse_seconds) if callable(token) else MintedBearer(lambda: token)
    known = _introduction(app)
    options: dict[str, Any] = {} if known is None else {"mode": known[0], "prior_discover": known[1]}
    shared = shared_for(app, f"in-process:{base_url}/mcp")
    transport = httpx2.ASGITransport(app=app)
    async with httpx2.AsyncClient(transport=transport, base_url=base_url, auth=auth, timeout=timeout) as http:
        async with Client(streamable_http_client(f"{base_url}/mcp", http_client=http), cache=shared.cache(partition),
                          **options) as client:
            if known is None:
                _remember_introduction(app, client)
            yield McpToolbox(client, timeout=timeout, shared=shared)


def _introduction(app: ASGIApp) -> tuple[str, DiscoverResult] | None:
    try:
        return _introductions.get(app)
    except TypeError:  # an app that cannot be weakly referenced is probed every time
        return None


def _remember_introduction(app: ASGIApp, client: Client) -> None:
    discovered = client.session.discover_result
    if discovered is None:  # a handshake-era server: nothing to adopt
        return
    try:
        _introductions[app] = (client.protocol_version, discovered)
    except TypeError:
        pass


@asynccontextmanager
async def connect_remote(url: str, token: str, *, timeout: float = 30.0) -> AsyncIterator[McpToolbox]:
    """A remote MCP server over streamable HTTP (`url` ends in /mcp), authenticated with the user's token."""
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx2.AsyncClient(headers=headers, timeout=timeout) as http:
        async with Client(streamable_http_client(url, http_client=http)) as client:
            yield McpToolbox(client, timeout=timeout)
