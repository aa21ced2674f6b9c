"""What every tool needs: the ports, who is calling, and one translation of domain errors into tool errors."""

import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import ParamSpec, TypeVar

from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.auth.provider import AccessToken, TokenVerifier
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult, TextContent
from pydantic import BaseModel

from domain.access_tokens import AUDIENCE_MCP, decode_token, looks_like_jwt
from domain.errors import AuthenticationFailed, DomainError, VersionConflict
from domain.uow import UnitOfWork
from domain.usecases import Actor, actor_for, authenticate_session, authenticate_token
from mcp_server.sessions import SessionLimits

LOCAL_HOSTS = ["127.0.0.1:*", "localhost:*", "[::1]:*"]


@dataclass
class McpPorts:
    """What the MCP server is built from (by runtime.bootstrap): the unit of work and how callers are identified."""

    uow: UnitOfWork
    secret: str
    fixed_user_id: int | None = None  # stdio: the one user this server acts for
    public_url: str = "http://127.0.0.1:8000"
    allowed_hosts: list[str] = field(default_factory=lambda: list(LOCAL_HOSTS))
    allowed_origins: list[str] = field(default_factory=list)
    session_limits: SessionLimits = field(default_factory=SessionLimits)  # per-user cap, idle timeout, recheck


class TodoTokenVerifier(TokenVerifier):
    """Accepts unrevoked personal API tokens and JWT access tokens with audience `mcp`; a JWT naming a login
    session (`sid`) only while that session is live. Every HTTP request of an MCP session is checked, so a
    revocation refuses its next call. The agent's own short-lived tokens carry no session."""

    def __init__(self, ports: McpPorts) -> None:
        self.ports = ports

    async def verify_token(self, token: str) -> AccessToken | None:
        try:
            if looks_like_jwt(token):
                claims = decode_token(token, self.ports.secret, audience=AUDIENCE_MCP)
                user_id = claims.user_id
                if claims.session_id is not None:
                    await authenticate_session(self.ports.uow, user_id, claims.session_id)
            else:
                user_id = (await authenticate_token(self.ports.uow, token)).id
        except AuthenticationFailed:
            return None
        return AccessToken(token=token, client_id=f"user:{user_id}", scopes=[], subject=str(user_id))


async def current_actor(ports: McpPorts) -> Actor:
    """The user a call acts for: the bearer token's user over HTTP, the configured user over stdio."""
    token = get_access_token()
    if token is not None and token.subject:
        return await actor_for(ports.uow, user_id=int(token.subject))
    if ports.fixed_user_id is not None:
        return await actor_for(ports.uow, user_id=ports.fixed_user_id)
    raise ToolError("not signed in: connect with a personal API token or an access token")


P = ParamSpec("P")
R = TypeVar("R")


def tool_errors(fn: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """Turn domain errors into tool errors whose message tells the model how to fix the call."""

    @functools.wraps(fn)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await fn(*args, **kwargs)
        except VersionConflict as exc:
            raise ToolError(f"{exc.message} (call get_task for the current version)") from exc
        except DomainError as exc:
            raise ToolError(exc.message) from exc

    return wrapper


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
