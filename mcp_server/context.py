"""What every tool reads: the ports and the verified caller, put in the request's context once by the auth layer.

HTTP callers are verified by `TodoTokenVerifier` (the bearer token → caller use case, audience `mcp`); over stdio
the server acts for its one configured user. Either way `IdentifyCaller` resolves the caller once per tool call or
resource read and hands the tool a `CallState` as its typed context (`ctx: Ctx`)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from typing import Any

from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.auth.provider import AccessToken, TokenVerifier
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp.shared.exceptions import MCPError
from mcp.types import INVALID_PARAMS, CallToolResult, TextContent, ToolAnnotations
from pydantic import BaseModel

from domain.access_tokens import AUDIENCE_MCP
from domain.errors import AuthenticationFailed, DomainError
from domain.uow import UnitOfWork
from domain.usecases import Actor, authenticate_bearer
from domain.usecases.callers import cached_actor
from mcp_server.errors import finish
from mcp_server.sessions import SessionLimits

LOCAL_HOSTS = ["127.0.0.1:*", "localhost:*", "[::1]:*"]
NOT_SIGNED_IN = "not signed in: connect with a personal API token or an access token"


@dataclass(frozen=True)
class McpPorts:
    """What the MCP server is built from (by runtime.bootstrap): the unit of work and how callers are identified."""

    uow: UnitOfWork
    secret: str
    fixed_user_id: int | None = None  # stdio: the one user this server acts for
    public_url: str = "http://127.0.0.1:8000"
    allowed_hosts: list[str] = field(default_factory=lambda: list(LOCAL_HOSTS))
    allowed_origins: list[str] = field(default_factory=list)
    session_limits: SessionLimits = field(default_factory=SessionLimits)  # per-user cap, idle timeout, recheck


@dataclass(frozen=True)
class CallState:
    """The server's lifespan context: its ports, and during a tool call or resource read the verified caller."""

    ports: McpPorts
    caller: Actor | None = None

    def acting(self) -> tuple[UnitOfWork, Actor]:
        """The unit of work and the user this call acts for; a tool error when nobody is signed in."""
        if self.caller is None:
            raise ToolError(NOT_SIGNED_IN)
        return self.ports.uow, self.caller


Ctx = Context[CallState]
ToolSpec = tuple[Callable[..., Any], ToolAnnotations]  # a tool function and its MCP annotations


def acting(ctx: Ctx) -> tuple[UnitOfWork, Actor]:
    """What a tool works with: the unit of work and the verified caller of this call."""
    return ctx.request_context.lifespan_context.acting()


class CallerToken(AccessToken):
    """An access token the verifier accepted, with the caller it belongs to (so no tool looks the user up)."""

    caller: Actor


class TodoTokenVerifier(TokenVerifier):
    """Accepts unrevoked personal API tokens and JWT access tokens with audience `mcp`; a JWT naming a login
    session (`sid`) only while that session is live. Every HTTP request of an MCP session is checked, so a
    revocation refuses its next call. The agent's own short-lived tokens carry no session."""

    def __init__(self, uow: UnitOfWork, secret: str) -> None:
        self.uow = uow
        self.secret = secret

    async def verify_token(self, token: str) -> CallerToken | None:
        try:
            caller = await authenticate_bearer(self.uow, self.secret, token, audience=AUDIENCE_MCP)
        except AuthenticationFailed:
            return None
        return CallerToken(token=token, client_id=caller.name, scopes=[], subject=str(caller.id), caller=caller)


# Static resources get no Context from the SDK, so they read the call's state from here (set by IdentifyCaller).
_current: ContextVar[CallState | None] = ContextVar("mcp_call_state", default=None)
_IDENTIFIED = frozenset({"tools/call", "resources/read"})


def current_call() -> CallState:
    """The state of the resource read in progress (for resources, which cannot take a Context)."""
    state = _current.get()
    if state is None:
        raise RuntimeError("no MCP call in progress")
    return state


@contextlib.contextmanager
def _in_progress(state: CallState) -> Iterator[None]:
    reset = _current.set(state)
    try:
        yield
    finally:
        _current.reset(reset)


class IdentifyCaller:
    """Server middleware: resolves the caller of a tool call or resource read once — the verified token's user
    over HTTP, the configured user over stdio — and passes it on in the request's lifespan context."""

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        state = ctx.lifespan_context
        if ctx.method not in _IDENTIFIED or not isinstance(state, CallState):
            return await call_next(ctx)
        try:
            caller = await self._caller(state.ports)
        except DomainError as exc:  # the configured user is gone
            if ctx.method == "tools/call":
                return CallToolResult(content=[TextContent(type="text", text=finish(exc.message))], is_error=True)
            raise MCPError(code=INVALID_PARAMS, message=exc.message) from exc
        acting = replace(state, caller=caller)
        with _in_progress(acting):
            return await call_next(replace(ctx, lifespan_context=acting))

    @staticmethod
    async def _caller(ports: McpPorts) -> Actor | None:
        token = get_access_token()
        if isinstance(token, CallerToken):
            return token.caller
        if ports.fixed_user_id is not None:
            return await cached_actor(ports.uow, ports.fixed_user_id)  # a few seconds, as for tokens
        return None


def reply(text: str, data: BaseModel) -> CallToolResult:
    """A short text for people and models, plus the structured result for clients."""
    return CallToolResult(
        content=[TextContent(type="text", text=text)], structured_content=data.model_dump(mode="json")
    )


def one_of(task_id: int | None, task_ids: list[int] | None, expected_version: int | None = None) -> list[int] | int:
    """The single id or the bulk list; exactly one must be given (and a version only with a single id)."""
    if (task_id is None) == (not task_ids):
        raise ToolError("give either task_id (one task) or task_ids (up to 50 tasks), not both and not neither")
    if task_ids and expected_version is not None:
        raise ToolError("expected_version applies to one task_id; leave it out for task_ids")
    return task_ids if task_ids else task_id  # type: ignore[return-value]
