"""Dependency aliases of the REST API (FastAPI template style): the unit of work, the API state, the current user.

Every dependency is `async def`, however trivial: FastAPI runs a plain `def` one in its thread pool, a hand-off
per call (tests/web/test_no_thread_hops.py keeps it so)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from agent.agent import Agent
from agent.store import ConversationStore
from domain.access_tokens import AUDIENCE_API
from domain.errors import AuthenticationFailed
from domain.uow import UnitOfWork
from domain.usecases import Actor, authenticate_bearer
from services.audit_log import AuditReader
from web.ratelimit import LoginLimiter, WindowLimiter


@dataclass
class ApiState:
    """What the routes need from the composition root."""

    uow: UnitOfWork
    secret: str
    conversations: ConversationStore
    access_ttl: timedelta = timedelta(minutes=30)
    session_max: timedelta = timedelta(hours=12)  # a login session's absolute lifetime
    stream_recheck_seconds: float = 5.0  # how often an open /api/v1/stream re-checks its token
    allow_registration: bool = True
    login_limits: LoginLimiter = field(default_factory=LoginLimiter)  # failures per account and per address
    register_by_address: WindowLimiter = field(default_factory=lambda: WindowLimiter(limit=10, window=3600))
    agent: Agent | None = None  # the chat agent; None when no chat model is configured
    ping_seconds: float = 15.0  # heartbeat interval of the chat turn streams
    audit: AuditReader | None = None  # where the audit log is read; None: this database (LocalAuditReader)


async def get_state(request: Request) -> ApiState:
    state: ApiState = request.app.state.api
    return state


StateDep = Annotated[ApiState, Depends(get_state)]


async def get_uow(state: StateDep) -> UnitOfWork:
    return state.uow


UowDep = Annotated[UnitOfWork, Depends(get_uow)]

_bearer = HTTPBearer(auto_error=False, description="A JWT access token or a personal API token")


async def bearer_token(credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> str:
    """The bearer credential of the request; 401 when there is none."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise AuthenticationFailed("send 'Authorization: Bearer <token>' (an access token or an API token)")
    return credentials.credentials


BearerToken = Annotated[str, Depends(bearer_token)]
OptionalBearer = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]  # for routes with another way in


async def actor_for_bearer(state: ApiState, token: str) -> Actor:
    """The user of a bearer credential for the REST API (audience `api`); AuthenticationFailed otherwise.
    Requests and open streams (re-checking) both use this."""
    return await authenticate_bearer(state.uow, state.secret, token, audience=AUDIENCE_API)


async def current_actor(state: StateDep, token: BearerToken) -> Actor:
    """The user of the bearer token; 401 for a missing, invalid, expired or revoked token or session."""
    return await actor_for_bearer(state, token)


CurrentActor = Annotated[Actor, Depends(current_actor)]


async def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


ClientAddress = Annotated[str, Depends(client_address)]
