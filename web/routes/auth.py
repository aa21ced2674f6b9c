"""/api/v1/auth: register, log in (rate-limited per address and per account), renew a login session with its
refresh token. Logout, sessions and password change are in web.routes.sessions."""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Body, Depends, status
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel

from domain import usecases as uc
from domain.access_tokens import AUDIENCE_REFRESH, decode_token, issue_access_token, issue_refresh_token
from domain.errors import AlreadyExists, AuthenticationFailed
from domain.usecases import SessionGrant
from web.deps import ApiState, ClientAddress, StateDep
from web.problems import problem_response, responses
from web.schemas import AccessToken, Login, RefreshRequest, Register

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])

REGISTERED = "registered; now log in"


def session_answer(state: ApiState, grant: SessionGrant) -> AccessToken:
    """The login answer of a new or renewed session: an access token (never outliving the session) and the
    session's next refresh token."""
    now = state.uow.clock.now()
    ttl = max(min(state.access_ttl, grant.expires_at - now), timedelta(seconds=1))
    access = issue_access_token(grant.user_id, state.secret, now=now, ttl=ttl, session_id=grant.session_id,
                                auth_time=grant.auth_time)
    refresh_token = issue_refresh_token(grant.user_id, state.secret, session_id=grant.session_id,
                                        jti=grant.refresh_jti, now=now, expires_at=grant.expires_at)
    return AccessToken(access_token=access, expires_in=int(ttl.total_seconds()), refresh_token=refresh_token,
                       refresh_expires_in=max(0, round((grant.expires_at - now).total_seconds())))


async def _token_for(state: ApiState, user_id: int) -> AccessToken:
    """A new login session for a user whose password was just checked."""
    return session_answer(state, await uc.start_session(state.uow, user_id, max_age=state.session_max))


class Registered(BaseModel):
    """The answer to every accepted registration, whether or not the email already had an account."""

    email: str
    detail: str = REGISTERED


@router.post("/register", status_code=status.HTTP_201_CREATED, response_model=Registered,
             responses=responses(403, 422, 429))
async def register(state: StateDep, body: Register, address: ClientAddress) -> Registered | JSONResponse:
    """Create an account (unless registration is switched off), then log in. A taken email gets the same answer
    and costs the same time (the password is hashed either way), so registering does not reveal who has an
    account; the existing account is left unchanged. Limited per client address (TODO_AGENT_REGISTER_PER_HOUR)."""
    if not state.allow_registration:
        return problem_response(403, "Forbidden", "registration is switched off on this server; ask its operator "
                                "for an account", code="registration_disabled")
    wait = state.register_by_address.retry_after(address)
    if wait is not None:
        return too_many(wait, "registrations")
    state.register_by_address.hit(address)
    try:
        await uc.create_user(state.uow, body.email, body.password, timezone=body.timezone)
    except AlreadyExists:
        pass
    return Registered(email=body.email.strip().lower())


def too_many(wait: float, what: str = "login attempts") -> JSONResponse:
    seconds = max(1, math.ceil(wait))
    return problem_response(429, "Too Many Requests", f"too many {what} from here; try again in {seconds} s",
                            code="rate_limited", headers={"Retry-After": str(seconds)})


@router.post("/login", response_model=AccessToken, responses=responses(401, 422, 429))
async def login(state: StateDep, body: Login, address: ClientAddress) -> AccessToken | JSONResponse:
    """Exchange email and password for an access token."""
    account = body.email.strip().lower()
    wait = state.login_limits.begin(account, address)  # counted as a failure until the password checks out
    if wait is not None:
        return too_many(wait)
    actor = await uc.authenticate(state.uow, account, body.password)
    state.login_limits.succeeded(account, address)
    return await _token_for(state, actor.id)


_refresh_bearer = HTTPBearer(auto_error=False, scheme_name="RefreshToken",
                             description="The refresh token from login (only on /api/v1/auth/refresh)")
NOT_A_REFRESH_TOKEN = ("refresh takes the refresh_token of a login answer (in the body or as the bearer token), "
                       "never an access token or a personal API token; log in again if you have none")


@router.post("/refresh", response_model=AccessToken, responses=responses(401, 422))
async def refresh(
    state: StateDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_refresh_bearer)],
    body: Annotated[RefreshRequest | None, Body()] = None,
) -> AccessToken:
    """Renew a login session: send its refresh token as {"refresh_token": ...} (or as the bearer token). The
    answer carries a new refresh token; the old one is spent, and presenting it again ends the session."""
    token = body.refresh_token if body is not None else (credentials.credentials if credentials else "")
    try:
        claims = decode_token(token, state.secret, audience=AUDIENCE_REFRESH)
    except AuthenticationFailed as exc:
        raise exc if "expired" in exc.message else AuthenticationFailed(NOT_A_REFRESH_TOKEN) from None
    assert claims.session_id is not None and claims.jti is not None  # required by decode_token for refresh
    grant = await uc.rotate_refresh(state.uow, claims.user_id, claims.session_id, claims.jti)
    return session_answer(state, grant)
