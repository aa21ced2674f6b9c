"""The tool port the agent loop uses: list the tools (Cohere format) and call one."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class ToolOutcome:
    """A finished tool call: its structured result (if any), its text, and whether it failed."""

    structured: dict[str, Any] | None
    text: str
    is_error: bool

    def document(self) -> dict[str, Any]:
        """What the model reads: the structured result, else the text; an error as `{"error": text}`."""
        if self.is_error:
            return {"error": self.text or "the tool failed without a message"}
        if self.structured is not None:
            return self.structured
        return {"text": self.text}

    def summary(self, limit: int = 200) -> str:
        """The text on one line, short enough for a status line."""
        line = " ".join(part.strip() for part in self.text.splitlines() if part.strip())
        return line if len(line) <= limit else line[: limit - 1] + "…"


class Toolbox(Protocol):
    """The user's tools for one turn."""

    @property
    def instructions(self) -> str | None:
        """The server's guidance on using its tools, if it gave any."""
        ...

    async def tools(self) -> list[dict[str, Any]]:
        """Every tool, in Cohere's format."""
        ...

    async def read_only(self) -> frozenset[str]:
        """The names of the tools the server marks read-only (MCP `readOnlyHint`): their calls change nothing."""
        ...

    async def call(self, name: str, arguments: dict[str, Any]) -> ToolOutcome:
        """Run one tool; failures (including timeouts) come back as error outcomes, never as exceptions."""
        ...


ToolboxFactory = Callable[[int], AbstractAsyncContextManager[Toolbox]]
"""Opens the tools of one user (by id) for one turn; the host decides how (in-process ASGI, remote HTTP, ...)."""


class LazyToolbox:
    """The user's toolbox, opened by the factory on first use and closed with `stack`: a turn that only talks
    never connects to the tools.

    Opened in the task that owns `stack`, outside any timeout, since the MCP client's cancel scopes must be left
    by the task that entered them, in order.
    """

    def __init__(self, factory: ToolboxFactory, user_id: int, stack: AsyncExitStack) -> None:
        self.factory = factory
        self.user_id = user_id
        self.stack = stack
        self.opened: Toolbox | None = None

    async def open(self) -> Toolbox:
        """The toolbox, connecting on the first call."""
        if self.opened is None:
            self.opened = await self.stack.enter_async_context(self.factory(self.user_id))
        return self.opened

    @property
    def instructions(self) -> str | None:
        """The server's instructions, once connected."""
        return self.opened.instructions if self.opened is not None else None

    async def tools(self) -> list[dict[str, Any]]:
        """Every tool, in Cohere's format (connects)."""
        return await (await self.open()).tools()

    async def read_only(self) -> frozenset[str]:
        """The read-only tools' names (connects)."""
        return await (await self.open()).read_only()

    async def call(self, name: str, arguments: dict[str, Any]) -> ToolOutcome:
        """Run one tool (connects)."""
        return await (await self.open()).call(name, arguments)
