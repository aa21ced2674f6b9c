"""/api/v1/auth: register, log in (rate-limited per address and per account), refresh an access token."""

from __future__ import annotations

import math

from fastapi import APIRouter, status
from fastapi.responses import JSONResponse

from domain import usecases as uc
from domain.access_tokens import issue_access_token
from domain.errors import AuthenticationFailed
from domain.usecases import UserView
from web.deps import ClientAddress, CurrentActor, StateDep
from web.problems import problem_response, responses
from web.schemas import AccessToken, Login, Register

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])


def _token_for(state: StateDep, user_id: int) -> AccessToken:
    now = state.uow.clock.now()
    token = issue_access_token(user_id, state.secret, now=now, ttl=state.access_ttl)
    return AccessToken(access_token=token, expires_in=int(state.access_ttl.total_seconds()))


@router.post("/register", status_code=status.HTTP_201_CREATED, response_model=UserView,
             responses=responses(403, 409, 422))
async def register(state: StateDep, body: Register) -> UserView | JSONResponse:
    """Create an account (unless registration is switched off)."""
    if not state.allow_registration:
        return problem_response(403, "Forbidden", "registration is switched off on this server; ask its operator "
                                "for an account", code="registration_disabled")
    return await uc.create_user(state.uow, body.email, body.password, timezone=body.timezone)


def _too_many(wait: float) -> JSONResponse:
    seconds = max(1, math.ceil(wait))
    return problem_response(429, "Too Many Requests", f"too many login attempts; try again in {seconds} s",
                            code="rate_limited", headers={"Retry-After": str(seconds)})


@router.post("/login", response_model=AccessToken, responses=responses(401, 422, 429))
async def login(state: StateDep, body: Login, address: ClientAddress) -> AccessToken | JSONResponse:
    """Exchange email and password for an access token."""
    account = body.email.strip().lower()
    for limiter, key in ((state.login_by_address, address), (state.login_by_account, account)):
        wait = limiter.retry_after(key)
        if wait is not None:
            return _too_many(wait)
    state.login_by_address.hit(address)
    try:
        actor = await uc.authenticate(state.uow, account, body.password)
    except AuthenticationFailed:
        state.login_by_account.hit(account)
        raise
    state.login_by_account.reset(account)
    return _token_for(state, actor.id)


@router.post("/refresh", response_model=AccessToken, responses=responses(401))
async def refresh(state: StateDep, actor: CurrentActor) -> AccessToken:
    """A fresh access token for a valid one (or for an API token)."""
    return _token_for(state, actor.id)
