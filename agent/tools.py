"""The MCP client side: the user's tools through a connected `mcp.Client`, and ways to connect one."""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from mcp.types import CallToolResult, DiscoverResult, TextContent, Tool
from pydantic import ValidationError
from starlette.types import ASGIApp

from agent.schemas import cohere_tool
from agent.toolbox import ToolOutcome

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

    @property
    def instructions(self) -> str | None:
        """The server's instructions from the handshake."""
        return self.client.instructions

    async def tools(self) -> list[dict[str, Any]]:
        """Every tool of the server in Cohere's format (listed on first use, then cached)."""
        if self._tools is None:
            self._tools = [cohere_tool(t.name, t.description, t.input_schema) for t in await self.list_mcp_tools()]
        return self._tools

    async def list_mcp_tools(self) -> list[Tool]:
        """Every page of `tools/list`."""
        tools: list[Tool] = []
        cursor: str | None = None
        for _ in range(MAX_TOOL_PAGES):
            page = await self.client.list_tools(cursor=cursor)
            tools.extend(page.tools)
            if not (cursor := page.next_cursor):
                break
        return tools

    async def call(self, name: str, arguments: dict[str, Any]) -> ToolOutcome:
        """Run one tool; a timeout or protocol failure is an error outcome the model can read."""
        try:
            async with asyncio.timeout(self.timeout):
                result = await self.client.call_tool(name, arguments, read_timeout_seconds=self.timeout)
        except TimeoutError:
            return ToolOutcome(None, f"{name} did not finish within {self.timeout:g} seconds", is_error=True)
        except (MCPError, ValidationError) as exc:
            logger.warning("tool %s failed: %s", name, exc)
            return ToolOutcome(None, f"{name} failed: {exc}", is_error=True)
        return outcome(result)


def outcome(result: CallToolResult) -> ToolOutcome:
    """A tool result as the agent keeps it."""
    text = "\n".join(part.text for part in result.content if isinstance(part, TextContent))
    structured = result.structured_content if isinstance(result.structured_content, dict) else None
    return ToolOutcome(None if result.is_error else structured, text, bool(result.is_error))


@asynccontextmanager
async def connect_in_process(
    app: ASGIApp, token: str, *, base_url: str = IN_PROCESS_URL, timeout: float = 30.0
) -> AsyncIterator[McpToolbox]:
    """The MCP app of this process over an ASGI transport, authenticated as the token's user.

    `base_url` must be a host the MCP app accepts (its allowed hosts); the host's lifespan must be running
    the MCP session manager. Only the first client of an app probes it (`server/discover`); later ones adopt
    what it answered.
    """
    headers = {"Authorization": f"Bearer {token}"}
    known = _introduction(app)
    options: dict[str, Any] = {} if known is None else {"mode": known[0], "prior_discover": known[1]}
    transport = httpx2.ASGITransport(app=app)
    async with httpx2.AsyncClient(transport=transport, base_url=base_url, headers=headers, timeout=timeout) as http:
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
