"""/api/v1/auth: register, log in (rate-limited per address and per account), renew a login session with its
refresh token. Logout, sessions and password change are in web.routes.sessions.

The web page keeps its refresh token in an HttpOnly cookie ("cookie" session mode) so that a reload stays signed
in while scripts cannot read it; API clients get the refresh token in the JSON answer, as always."""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Request, Response, status
from fastapi.responses import JSONResponse
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel

from domain import usecases as uc
from domain.access_tokens import AUDIENCE_REFRESH, TokenClaims, decode_token, issue_access_token, issue_refresh_token
from domain.errors import AlreadyExists, AuthenticationFailed, SessionEnded, SessionExpired
from domain.usecases import SessionGrant
from web.deps import ApiState, ClientAddress, StateDep
from web.problems import problem_response, responses
from web.schemas import AccessToken, CookieAccessToken, Login, RefreshRequest, Register

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])

REGISTERED = "registered; now log in"

REFRESH_COOKIE = "todo_agent_refresh"
# The narrowest path covering every route that reads the cookie: refresh, logout and sign out everywhere.
COOKIE_PATH = "/api/v1/auth"
PAGE_HEADER, PAGE_HEADER_VALUE = "X-Requested-With", "todo-agent"
# Two tabs share one cookie: when both renew at once, the slower one presents the token the faster one just spent.
# Within this window that answers the same successor instead of ending the session as a replay.
REFRESH_GRACE = timedelta(seconds=20)

refresh_cookie = APIKeyCookie(name=REFRESH_COOKIE, auto_error=False, scheme_name="RefreshCookie",
                              description="The web page's refresh token (HttpOnly; set by a cookie-mode login)")
RefreshCookie = Annotated[str | None, Depends(refresh_cookie)]


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


def cookie_answer(state: ApiState, request: Request, response: Response, grant: SessionGrant) -> CookieAccessToken:
    """The login answer in cookie mode: the refresh token goes into the cookie (sent back only to /api/v1/auth,
    never readable by scripts), the access token into the body."""
    answer = session_answer(state, grant)
    response.set_cookie(REFRESH_COOKIE, answer.refresh_token, max_age=answer.refresh_expires_in, path=COOKIE_PATH,
                        secure=request.url.scheme == "https", httponly=True, samesite="strict")
    return CookieAccessToken(access_token=answer.access_token, expires_in=answer.expires_in,
                             refresh_expires_in=answer.refresh_expires_in)


def clear_cookie(request: Request, response: Response) -> None:
    """Tell the browser to drop the refresh cookie (same name and path, so it replaces the one it has)."""
    response.delete_cookie(REFRESH_COOKIE, path=COOKIE_PATH, secure=request.url.scheme == "https", httponly=True,
                           samesite="strict")


def page_header_missing(request: Request) -> JSONResponse | None:
    """403 unless the request carries X-Requested-With: todo-agent; every cookie-mode request must.

    Why, although the cookie is SameSite=Strict: SameSite counts every subdomain of one registrable domain as the
    same site, and old browsers ignore it. A custom header is defence in depth against cross-site request forgery:
    a page of another origin can send it only after a CORS preflight, which this server never grants."""
    if request.headers.get(PAGE_HEADER) == PAGE_HEADER_VALUE:
        return None
    return problem_response(403, "Forbidden", f"requests that use the session cookie must send the header "
                            f"'{PAGE_HEADER}: {PAGE_HEADER_VALUE}' (the web page does); API clients send the "
                            "refresh token in the body or as the bearer token instead", code="page_header_missing")


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


@router.post("/login", response_model=AccessToken | CookieAccessToken, responses=responses(401, 403, 422, 429))
async def login(
    state: StateDep, request: Request, response: Response, body: Login, address: ClientAddress
) -> AccessToken | CookieAccessToken | JSONResponse:
    """Exchange email and password for an access token and a refresh token; with "session": "cookie" (the web
    page) the refresh token is set as an HttpOnly cookie instead of being answered."""
    if body.session == "cookie" and (refused := page_header_missing(request)) is not None:
        return refused
    account = body.email.strip().lower()
    wait = state.login_limits.begin(account, address)  # counted as a failure until the password checks out
    if wait is not None:
        return too_many(wait)
    actor = await uc.authenticate(state.uow, account, body.password)
    state.login_limits.succeeded(account, address)
    grant = await uc.start_session(state.uow, actor.id, max_age=state.session_max)
    return cookie_answer(state, request, response, grant) if body.session == "cookie" else session_answer(state, grant)


_refresh_bearer = HTTPBearer(auto_error=False, scheme_name="RefreshToken",
                             description="The refresh token from login (only on /api/v1/auth/refresh)")
NOT_A_REFRESH_TOKEN = ("refresh takes the refresh_token of a login answer (in the body or as the bearer token, or "
                       "the web page's session cookie), never an access token or a personal API token; log in "
                       "again if you have none")


def refresh_claims(state: ApiState, token: str) -> TokenClaims:
    """The claims of a valid refresh token; SessionExpired past the session's end (when the token expires too)."""
    try:
        return decode_token(token, state.secret, audience=AUDIENCE_REFRESH)
    except AuthenticationFailed as exc:
        raise SessionExpired(exc.message) if "expired" in exc.message else AuthenticationFailed(
            NOT_A_REFRESH_TOKEN) from None


def refused(exc: AuthenticationFailed) -> JSONResponse:
    """A refused refresh as a 401 whose type tells an ended session (session_ended: signed out elsewhere, password
    changed, a replayed token) from one that grew too old (session_expired)."""
    code = exc.code if isinstance(exc, SessionEnded | SessionExpired) else "unauthorized"
    return problem_response(401, "Unauthorized", exc.message, code=code, headers={"WWW-Authenticate": "Bearer"})


@router.post("/refresh", response_model=AccessToken | CookieAccessToken, responses=responses(401, 403, 422))
async def refresh(
    state: StateDep,
    request: Request,
    response: Response,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_refresh_bearer)],
    cookie: RefreshCookie,
    body: Annotated[RefreshRequest | None, Body()] = None,
) -> AccessToken | CookieAccessToken | JSONResponse:
    """Renew a login session: send its refresh token as {"refresh_token": ...} (or as the bearer token). The
    answer carries a new refresh token; the old one is spent, and presenting it again ends the session. The web
    page sends neither, only its cookie and X-Requested-With: todo-agent; the answer then sets the next cookie (a
    refused one clears it). 401 types: session_ended, session_expired, or unauthorized (not a refresh token)."""
    token = body.refresh_token if body is not None else (credentials.credentials if credentials else None)
    from_cookie = token is None and cookie is not None
    presented = cookie if token is None else token
    if from_cookie and (missing := page_header_missing(request)) is not None:
        return missing
    try:
        claims = refresh_claims(state, presented or "")
        assert claims.session_id is not None and claims.jti is not None  # required by decode_token for refresh
        grant = await uc.rotate_refresh(state.uow, claims.user_id, claims.session_id, claims.jti,
                                        grace=REFRESH_GRACE if from_cookie else timedelta(0))
    except AuthenticationFailed as exc:
        answer = refused(exc)
        if from_cookie:
            clear_cookie(request, answer)
        return answer
    return cookie_answer(state, request, response, grant) if from_cookie else session_answer(state, grant)
