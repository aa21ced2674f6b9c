"""Refuse tool arguments a tool does not have, so a misspelt argument is never silently ignored."""

import difflib
from typing import Any

from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.mcpserver import MCPServer
from mcp.types import CallToolResult, TextContent


def unknown_arguments(tool: str, unknown: list[str], allowed: list[str]) -> str:
    """A sentence naming the arguments the tool does not have, the one meant if a name is close, and its list."""
    guesses = [f"{name} instead of {wrong}" for wrong in unknown
               for name in difflib.get_close_matches(wrong, allowed, n=1)]
    hint = f" Did you mean {', '.join(guesses)}?" if guesses else ""
    takes = f"it takes {', '.join(allowed)}" if allowed else "it takes no arguments"
    names = ", ".join(map(repr, unknown))
    return f"{tool} has no argument {names}; {takes}.{hint}"


class RejectUnknownArguments:
    """Server middleware: a `tools/call` naming an argument outside the tool's input schema is a tool error."""

    def __init__(self) -> None:
        self.server: MCPServer | None = None
        self._allowed: dict[str, set[str]] | None = None

    async def _allowed_for(self, tool: str) -> set[str] | None:
        if self._allowed is None and self.server is not None:
            tools = await self.server.list_tools()
            self._allowed = {t.name: set((t.input_schema or {}).get("properties", {})) for t in tools}
        return (self._allowed or {}).get(tool)

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        params = ctx.params if isinstance(ctx.params, dict) else {}
        if ctx.method == "tools/call" and isinstance(params.get("arguments"), dict):
            tool = str(params.get("name"))
            allowed = await self._allowed_for(tool)
            unknown = sorted(set(params["arguments"]) - allowed) if allowed is not None else []
            if unknown:
                text = unknown_arguments(tool, unknown, sorted(allowed or []))
                return CallToolResult(content=[TextContent(type="text", text=text)], is_error=True)
        return await call_next(ctx)
