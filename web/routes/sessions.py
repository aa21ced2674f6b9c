"""/api/v1/auth: log out, list and end login sessions ("sign out everywhere"), change the password."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Path, Request, Response, status
from fastapi.responses import JSONResponse

from domain import usecases as uc
from domain.access_tokens import AUDIENCE_REFRESH, decode_token, looks_like_jwt
from domain.errors import AuthenticationFailed
from domain.usecases import Actor, SessionView
from web.deps import (
    ApiState,
    BearerToken,
    ClientAddress,
    CurrentActor,
    OptionalBearer,
    StateDep,
    actor_for_bearer,
    bearer_token,
)
from web.problems import problem_response, responses
from web.routes.auth import RefreshCookie, clear_cookie, cookie_answer, page_header_missing, session_answer, too_many
from web.schemas import AccessToken, CookieAccessToken, PasswordChange, SignedOut, SignOutEverywhere

router = APIRouter(prefix="/api/v1/auth", tags=["auth"], responses=responses(401))


def _session_of(state: ApiState, token: str) -> str | None:
    """The login session of the caller's (already verified) credential; None for an API token."""
    return decode_token(token, state.secret).session_id if looks_like_jwt(token) else None


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT, response_class=Response,
             responses=responses(400, 403))
async def logout(
    state: StateDep, request: Request, cookie: RefreshCookie, credentials: OptionalBearer
) -> Response:
    """End the caller's login session: its access and refresh tokens stop working at once. The web page sends
    no bearer token, only its session cookie and X-Requested-With: todo-agent (so signing out works even when its
    access token has run out); the answer clears the cookie."""
    if credentials is None and cookie is not None:
        if (missing := page_header_missing(request)) is not None:
            return missing
        await _end_cookie_session(state, cookie)
    else:
        token = await bearer_token(credentials)
        actor = await actor_for_bearer(state, token)
        session_id = _session_of(state, token)
        if session_id is None:
            return problem_response(400, "Bad Request", "this credential is a personal API token, not a login "
                                    "session; revoke it with DELETE /api/v1/tokens/{id}", code="not_a_session")
        await uc.revoke_session(state.uow, actor, session_id)
    answer = Response(status_code=status.HTTP_204_NO_CONTENT)
    if cookie is not None:
        clear_cookie(request, answer)
    return answer


async def _end_cookie_session(state: ApiState, cookie: str) -> None:
    """End the session the cookie's refresh token belongs to, even one rotated away since: it can only sign its
    own session out. An invalid or expired one has no live session to end."""
    try:
        claims = decode_token(cookie, state.secret, audience=AUDIENCE_REFRESH)
    except AuthenticationFailed:
        return
    assert claims.session_id is not None  # required by decode_token for refresh tokens
    await uc.revoke_session(state.uow, Actor(id=claims.user_id), claims.session_id)


@router.get("/sessions", response_model=list[SessionView])
async def sessions(state: StateDep, actor: CurrentActor, token: BearerToken) -> list[SessionView]:
    """Your live login sessions, newest first; `current` marks the one making this request."""
    return await uc.list_sessions(state.uow, actor, current=_session_of(state, token))


@router.delete("/sessions/{session_id}", status_code=status.HTTP_204_NO_CONTENT, response_class=Response,
               responses=responses(404))
async def end_session(
    state: StateDep, actor: CurrentActor,
    session_id: Annotated[str, Path(max_length=64, pattern="^[0-9a-f]+$", description="from GET /auth/sessions")],
) -> Response:
    """End one of your login sessions (e.g. a lost laptop's) by its id from GET /api/v1/auth/sessions."""
    if not await uc.revoke_session(state.uow, actor, session_id):
        return problem_response(404, "Not Found", f"no live session {session_id}; list them with GET "
                                "/api/v1/auth/sessions", code="session_not_found", field="session_id")
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/sessions/revoke", response_model=SignedOut)
async def sign_out_everywhere(
    state: StateDep, request: Request, response: Response, actor: CurrentActor, cookie: RefreshCookie,
    body: Annotated[SignOutEverywhere | None, Body()] = None,
) -> SignedOut:
    """Sign out everywhere: end every login session of yours (this one too, whose session cookie is cleared);
    with {"api_tokens": true} also revoke every personal API token."""
    revoked = await uc.sign_out_everywhere(state.uow, actor, api_tokens=body is not None and body.api_tokens)
    if cookie is not None:
        clear_cookie(request, response)
    return SignedOut(sessions=revoked.sessions, api_tokens=revoked.api_tokens)


@router.post("/password", response_model=AccessToken | CookieAccessToken, responses=responses(403, 422, 429))
async def change_password(
    state: StateDep, request: Request, response: Response, actor: CurrentActor, body: PasswordChange,
    address: ClientAddress,
) -> AccessToken | CookieAccessToken | JSONResponse:
    """Change your password (422 on `current_password` when it is wrong). Every login session ends; the answer
    is a new session, so the caller stays signed in (with "session": "cookie", in a new session cookie). Personal
    API tokens keep working. Wrong current passwords back off like failed logins, so a stolen access token cannot
    be used to guess the password quickly."""
    if body.session == "cookie" and (missing := page_header_missing(request)) is not None:
        return missing
    account = f"user:{actor.id}"
    wait = state.login_limits.begin(account, address)  # a failure until the current password checks out
    if wait is not None:
        return too_many(wait, "password attempts")
    await uc.change_password(state.uow, actor, body.current_password, body.new_password)
    state.login_limits.succeeded(account, address)
    grant = await uc.start_session(state.uow, actor.id, max_age=state.session_max)
    return cookie_answer(state, request, response, grant) if body.session == "cookie" else session_answer(state, grant)
