"""The MCP server: every task operation as a tool, over stdio and streamable HTTP."""

from mcp_server.context import McpPorts
from mcp_server.server import build_server, http_app

__all__ = ["McpPorts", "build_server", "http_app"]
