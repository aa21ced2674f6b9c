"""Dependency aliases of the REST API (FastAPI template style): the unit of work, the API state, the current user."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from agent.loop import Agent
from agent.store import ConversationStore
from domain.access_tokens import looks_like_jwt, read_access_token
from domain.errors import AuthenticationFailed, UserNotFound
from domain.uow import UnitOfWork
from domain.usecases import Actor, actor_for, authenticate_token
from web.security import RateLimiter


@dataclass
class ApiState:
    """What the routes need from the composition root."""

    uow: UnitOfWork
    secret: str
    conversations: ConversationStore
    access_ttl: timedelta = timedelta(minutes=30)
    allow_registration: bool = True
    login_by_address: RateLimiter = field(default_factory=lambda: RateLimiter(limit=20, window=300))
    login_by_account: RateLimiter = field(default_factory=lambda: RateLimiter(limit=5, window=300))
    agent: Agent | None = None  # the chat agent; None when no chat model is configured
    ping_seconds: float = 15.0  # heartbeat interval of the chat turn streams


def get_state(request: Request) -> ApiState:
    state: ApiState = request.app.state.api
    return state


StateDep = Annotated[ApiState, Depends(get_state)]


def get_uow(state: StateDep) -> UnitOfWork:
    return state.uow


UowDep = Annotated[UnitOfWork, Depends(get_uow)]

_bearer = HTTPBearer(auto_error=False, description="A JWT access token or a personal API token")


async def current_actor(
    state: StateDep, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Actor:
    """The user of the bearer token; 401 for a missing, invalid, expired or revoked token."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise AuthenticationFailed("send 'Authorization: Bearer <token>' (an access token or an API token)")
    token = credentials.credentials
    if not looks_like_jwt(token):
        return await authenticate_token(state.uow, token)
    user_id = read_access_token(token, state.secret)
    try:
        return await actor_for(state.uow, user_id=user_id)
    except UserNotFound:
        raise AuthenticationFailed("the access token's user no longer exists") from None


CurrentActor = Annotated[Actor, Depends(current_actor)]


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


ClientAddress = Annotated[str, Depends(client_address)]
