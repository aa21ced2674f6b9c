"""One MCP session per user, kept open across turns: a turn that calls a tool reuses it instead of opening (and
closing) a session of its own. A session closes after a few idle minutes and at shutdown, and one the server has
forgotten (closed for being idle, or evicted) is replaced once, transparently."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, TypeVar

from agent.mcp_client import McpToolbox, SessionLost
from agent.ports import ToolOutcome

logger = logging.getLogger(__name__)

Connect = Callable[[int], AbstractAsyncContextManager[McpToolbox]]
T = TypeVar("T")


class _Held:
    """A user's session: entered and left by its own task (the MCP client's cancel scopes must stay in one task)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.ready: asyncio.Future[McpToolbox] = loop.create_future()
        self.closing: asyncio.Future[None] = loop.create_future()
        self.task: asyncio.Task[None] | None = None
        self.users = 0  # turns using it now: never closed for idleness under them
        self.last_used = loop.time()

    def close(self) -> None:
        if not self.closing.done():
            self.closing.set_result(None)

    @property
    def alive(self) -> bool:
        return self.task is not None and not self.task.done() and not self.closing.done()


class SessionPool:
    """The users' MCP sessions of this process, opened by `connect(user_id)`; a ToolboxFactory for the agent."""

    def __init__(self, connect: Connect, *, idle_seconds: float = 240.0) -> None:
        self.connect = connect
        self.idle_seconds = idle_seconds
        self._held: dict[int, _Held] = {}

    @asynccontextmanager
    async def __call__(self, user_id: int) -> AsyncIterator[PooledToolbox]:
        """The user's pooled tools for one turn (the session stays open after it)."""
        async with self.using(user_id) as toolbox:
            yield PooledToolbox(self, user_id, toolbox.instructions)

    @asynccontextmanager
    async def using(self, user_id: int) -> AsyncIterator[McpToolbox]:
        """The user's open session (opened if there is none) for one use: never closed for idleness meanwhile."""
        held = self._session(user_id)
        held.users += 1
        try:
            yield await asyncio.shield(held.ready)
        finally:
            held.users -= 1
            held.last_used = asyncio.get_running_loop().time()

    def drop(self, user_id: int, toolbox: McpToolbox) -> None:
        """Close the user's session if it is still `toolbox` (the server forgot it); the next use opens another."""
        held = self._held.get(user_id)
        if held is not None and held.ready.done() and not held.ready.exception() and held.ready.result() is toolbox:
            del self._held[user_id]
            held.close()

    async def aclose(self) -> None:
        """Close every session (at shutdown, while the MCP app still serves)."""
        held, self._held = list(self._held.values()), {}
        for one in held:
            one.close()
        await asyncio.gather(*(one.task for one in held if one.task is not None), return_exceptions=True)

    def open_sessions(self) -> int:
        """How many users have a session open now."""
        return sum(1 for held in self._held.values() if held.alive)

    def _session(self, user_id: int) -> _Held:
        held = self._held.get(user_id)
        if held is None or not held.alive:
            held = _Held(asyncio.get_running_loop())
            self._held[user_id] = held
            held.task = asyncio.create_task(self._hold(user_id, held), name=f"mcp-session-{user_id}")
        return held

    async def _hold(self, user_id: int, held: _Held) -> None:
        """Open the session, hand it out, and keep it until it is idle or closed; then leave it (HTTP DELETE)."""
        try:
            async with self.connect(user_id) as toolbox:
                held.ready.set_result(toolbox)
                await self._until_idle(held)
        except Exception as exc:
            logger.warning("the MCP session of user %s failed: %s", user_id, exc)
            if not held.ready.done():
                held.ready.set_exception(exc)
        finally:
            if not held.ready.done():  # cancelled while connecting: nobody may wait for ever
                held.ready.set_exception(ConnectionError("the tool session closed before it opened"))
            if self._held.get(user_id) is held:
                del self._held[user_id]

    async def _until_idle(self, held: _Held) -> None:
        loop = asyncio.get_running_loop()
        while not held.closing.done():
            left = held.last_used + self.idle_seconds - loop.time()
            if left <= 0 and held.users == 0:
                return
            # asyncio.wait times out without cancelling this task (which owns the MCP client's task group).
            await asyncio.wait([held.closing], timeout=left if left > 0 else self.idle_seconds)


class PooledToolbox:
    """A turn's view of the user's pooled session: a request the server refused because it forgot the session
    (so nothing ran) is sent again, once, on a fresh session."""

    def __init__(self, pool: SessionPool, user_id: int, instructions: str | None) -> None:
        self.pool = pool
        self.user_id = user_id
        self._instructions = instructions

    @property
    def instructions(self) -> str | None:
        """The server's instructions from the session's handshake."""
        return self._instructions

    async def tools(self) -> list[dict[str, Any]]:
        """Every tool, in Cohere's format."""
        return await self._retrying(lambda toolbox: toolbox.tools())

    async def read_only(self) -> frozenset[str]:
        """The tools the server marks read-only."""
        return await self._retrying(lambda toolbox: toolbox.read_only())

    async def call(self, name: str, arguments: dict[str, Any]) -> ToolOutcome:
        """Run one tool on the session (reconnecting once if the server forgot it)."""
        try:
            return await self._retrying(lambda toolbox: toolbox.attempt(name, arguments))
        except SessionLost as lost:
            return ToolOutcome(None, f"{name} failed: {lost}", is_error=True)
        except Exception as exc:  # a session that cannot be opened again fails the call, not the turn
            logger.warning("tool %s: no MCP session: %s", name, exc)
            return ToolOutcome(None, f"{name} failed: the tools are not reachable right now", is_error=True)

    async def _retrying(self, operation: Callable[[McpToolbox], Awaitable[T]]) -> T:
        async with self.pool.using(self.user_id) as toolbox:
            try:
                return await operation(toolbox)
            except SessionLost:
                logger.info("the MCP session of user %s was closed by the server; opening another", self.user_id)
                self.pool.drop(self.user_id, toolbox)
        async with self.pool.using(self.user_id) as toolbox:
            return await operation(toolbox)
