"""Fair streamable-HTTP sessions: a per-user cap (least recently used closed first) and revocation.

The SDK keeps one process-wide session table (10,000 by default) with no notion of whose sessions they are, so
one account could fill it and lock everyone else out. `SessionGuard` wraps the streamable HTTP app: it sees each
request's `mcp-session-id` (asked for, and handed out on `initialize`) and the authenticated user, keeps each
user's open sessions in least-recently-used order, and closes the oldest once a user holds more than the cap.
While the server's lifespan runs (`OpenSessions.rechecking`), every `recheck_seconds` it verifies each open
session's bearer token again with the server's TokenVerifier and closes the sessions whose token no longer
verifies (a revoked API token or login session, an expired JWT), so their open streams end within seconds.
"""

from __future__ import annotations

import contextlib
import logging
import weakref
from collections import OrderedDict
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import anyio
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import TokenVerifier
from mcp.server.streamable_http import MCP_SESSION_ID_HEADER
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

if TYPE_CHECKING:
    from mcp.server.mcpserver import MCPServer
    from mcp.server.streamable_http import StreamableHTTPServerTransport
    from mcp.server.streamable_http_manager import StreamableHTTPSessionManager

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SessionLimits:
    per_user: int = 20  # open sessions one user may hold; the least recently used goes first
    idle_seconds: float = 300.0  # a session with no request for this long is closed by the SDK
    recheck_seconds: float = 5.0  # how often each open session's token is verified again


@dataclass
class _Open:
    subject: str
    token: str


class OpenSessions:
    """Who holds which streamable-HTTP session, in least-recently-used order, and closing them."""

    def __init__(self, verifier: TokenVerifier, limits: SessionLimits) -> None:
        self.verifier = verifier
        self.limits = limits
        self.manager: StreamableHTTPSessionManager | None = None  # set once the HTTP app exists
        self._open: OrderedDict[str, _Open] = OrderedDict()  # oldest use first

    def of_user(self, subject: str) -> list[str]:
        """The user's open session ids, least recently used first."""
        return [sid for sid, held in self._open.items() if held.subject == subject]

    def touch(self, session_id: str) -> None:
        """A request used the session: it becomes the user's most recent."""
        if session_id in self._open:
            self._open.move_to_end(session_id)

    async def opened(self, session_id: str, user: AuthenticatedUser) -> None:
        """Record a new session of `user`, then close the user's oldest ones beyond the cap."""
        subject = user.access_token.subject or user.access_token.client_id
        self._open[session_id] = _Open(subject=subject, token=user.access_token.token)
        for old in self.of_user(subject)[: -self.limits.per_user]:
            logger.info("closing MCP session %s of %s: over %d sessions", old[:12], subject, self.limits.per_user)
            await self.close(old)

    def forget(self, session_id: str) -> None:
        self._open.pop(session_id, None)

    async def close(self, session_id: str) -> None:
        """Terminate the session in the SDK (its streams end; its id answers 404) and forget it."""
        self.forget(session_id)
        transport = _sdk_sessions(self.manager).get(session_id)
        if transport is not None and not transport.is_terminated:
            with anyio.CancelScope(shield=True):
                await transport.terminate()

    async def recheck(self) -> None:
        """Close every session whose token no longer verifies (and forget those the SDK has closed)."""
        live = _sdk_sessions(self.manager)
        subjects: dict[str, str | None] = {}  # each token is verified once a pass, however many sessions share it
        for session_id, held in list(self._open.items()):
            if session_id not in live:
                self.forget(session_id)
                continue
            if held.token not in subjects:
                verified = await self.verifier.verify_token(held.token)
                subjects[held.token] = None if verified is None else (verified.subject or verified.client_id)
            if subjects[held.token] != held.subject:
                logger.info("closing MCP session %s of %s: its token no longer verifies", session_id[:12], held.subject)
                await self.close(session_id)

    @contextlib.asynccontextmanager
    async def rechecking(self) -> AsyncIterator[None]:
        """Recheck the open sessions while the MCP server runs (its lifespan enters this)."""
        async with anyio.create_task_group() as group:
            group.start_soon(self._recheck_forever)
            try:
                yield
            finally:
                group.cancel_scope.cancel()

    async def _recheck_forever(self) -> None:
        while True:
            await anyio.sleep(self.limits.recheck_seconds)
            try:
                await self.recheck()
            except Exception:  # a database hiccup must not end the rechecks for good
                logger.warning("rechecking the open MCP sessions failed", exc_info=True)


def _sdk_sessions(manager: StreamableHTTPSessionManager | None) -> dict[str, StreamableHTTPServerTransport]:
    """The SDK's table of open sessions by id. mcp 2.3 has no public API to list or end a session server-side,
    so this is the one place that reads its private `_server_instances`; terminating a transport (public) makes
    the SDK drop the session itself."""
    if manager is None:
        return {}
    sessions: dict[str, StreamableHTTPServerTransport] = manager._server_instances  # noqa: SLF001
    return sessions


class SessionGuard:
    """ASGI wrapper around the streamable HTTP app that reports opened and used sessions to OpenSessions."""

    def __init__(self, app: ASGIApp, sessions: OpenSessions) -> None:
        self.app = app
        self.sessions = sessions

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        asked = Headers(scope=scope).get(MCP_SESSION_ID_HEADER)
        if asked is not None:
            self.sessions.touch(asked)

        async def watch(message: Message) -> None:
            await send(message)
            if message["type"] != "http.response.start":
                return
            given = Headers(raw=message.get("headers", [])).get(MCP_SESSION_ID_HEADER)
            user = scope.get("user")  # set by the SDK's authentication middleware before any response
            if message["status"] < 400 and given and given != asked and isinstance(user, AuthenticatedUser):
                await self.sessions.opened(given, user)
            elif asked is not None and message["status"] == 404:
                self.sessions.forget(asked)

        await self.app(scope, receive, watch)


_TABLES: weakref.WeakKeyDictionary[MCPServer[Any], OpenSessions] = weakref.WeakKeyDictionary()


def attach(server: MCPServer[Any], sessions: OpenSessions) -> None:
    """Remember the session table of `server` (its lifespan runs the rechecks; its HTTP app the guard)."""
    _TABLES[server] = sessions


def sessions_of(server: MCPServer[Any]) -> OpenSessions | None:
    """The session table attached to `server` by build_server, if any."""
    return _TABLES.get(server)
