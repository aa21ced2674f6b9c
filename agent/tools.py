"""The MCP client side: the user's tools through a connected `mcp.Client`, and ways to connect one."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from mcp.types import CallToolResult, TextContent, Tool
from pydantic import ValidationError
from starlette.types import ASGIApp

from agent.schemas import cohere_tool
from agent.toolbox import ToolOutcome

logger = logging.getLogger(__name__)

IN_PROCESS_URL = "http://localhost:8000"
MAX_TOOL_PAGES = 20


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
    the MCP session manager.
    """
    headers = {"Authorization": f"Bearer {token}"}
    transport = httpx2.ASGITransport(app=app)
    async with httpx2.AsyncClient(transport=transport, base_url=base_url, headers=headers, timeout=timeout) as http:
        async with Client(streamable_http_client(f"{base_url}/mcp", http_client=http)) as client:
            yield McpToolbox(client, timeout=timeout)


@asynccontextmanager
async def connect_remote(url: str, token: str, *, timeout: float = 30.0) -> AsyncIterator[McpToolbox]:
    """A remote MCP server over streamable HTTP (`url` ends in /mcp), authenticated with the user's token."""
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx2.AsyncClient(headers=headers, timeout=timeout) as http:
        async with Client(streamable_http_client(url, http_client=http)) as client:
            yield McpToolbox(client, timeout=timeout)
