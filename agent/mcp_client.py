"""The MCP client side: the user's tools through a connected `mcp.Client`, and ways to connect one."""

from __future__ import annotations

import asyncio
import logging
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

logger = logging.getLogger(__name__)

IN_PROCESS_URL = "http://localhost:8000"
MAX_TOOL_PAGES = 20

# What each in-process MCP app said about itself on its first connection (protocol version and discover result):
# later clients adopt it rather than ask again. The app is this process's own and the same for every user.
_introductions: weakref.WeakKeyDictionary[Any, tuple[str, DiscoverResult]] = weakref.WeakKeyDictionary()


class McpToolbox:
    """A connected MCP client as the agent's toolbox: tools listed once, calls with a timeout."""

    def __init__(self, client: Client, *, timeout: float = 30.0) -> None:
        self.client = client
        self.timeout = timeout
        self._tools: list[dict[str, Any]] | None = None
        self._listed: list[Tool] | None = None

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
    """A fresh short-lived bearer token on every HTTP request, so that a session kept open for long never sends
    an expired one."""

    def __init__(self, mint: Callable[[], str]) -> None:
        self.mint = mint

    def auth_flow(self, request: httpx2.Request) -> Generator[httpx2.Request, httpx2.Response, None]:
        """Sign the request with a token minted now."""
        request.headers["Authorization"] = f"Bearer {self.mint()}"
        yield request


def outcome(result: CallToolResult) -> ToolOutcome:
    """A tool result as the agent keeps it."""
    text = "\n".join(part.text for part in result.content if isinstance(part, TextContent))
    structured = result.structured_content if isinstance(result.structured_content, dict) else None
    return ToolOutcome(None if result.is_error else structured, text, bool(result.is_error))


@asynccontextmanager
async def connect_in_process(
    app: ASGIApp, token: str | Callable[[], str], *, base_url: str = IN_PROCESS_URL, timeout: float = 30.0
) -> AsyncIterator[McpToolbox]:
    """The MCP app of this process over an ASGI transport, authenticated as the token's user (a callable `token`
    mints one for each HTTP request, for sessions that outlive a token).

    `base_url` must be a host the MCP app accepts (its allowed hosts); the host's lifespan must be running
    the MCP session manager. Only the first client of an app probes it (`server/discover`); later ones adopt
    what it answered.
    """
    auth = MintedBearer(token) if callable(token) else MintedBearer(lambda: token)
    known = _introduction(app)
    options: dict[str, Any] = {} if known is None else {"mode": known[0], "prior_discover": known[1]}
    transport = httpx2.ASGITransport(app=app)
    async with httpx2.AsyncClient(transport=transport, base_url=base_url, auth=auth, timeout=timeout) as http:
        async with Client(streamable_http_client(f"{base_url}/mcp", http_client=http), **options) as client:
            if known is None:
                _remember_introduction(app, client)
            yield McpToolbox(client, timeout=timeout)


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
