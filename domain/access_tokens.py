"""Signed tokens (JWT, HS256) for a user and an audience: `api` for REST and the page, `mcp` for MCP, `refresh`
for renewing a login session. Access tokens name their session (`sid`) so that revoking it ends them at once."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt

from domain.errors import AuthenticationFailed

ALGORITHM = "HS256"
AUDIENCE_API = "api"
AUDIENCE_MCP = "mcp"
AUDIENCE_REFRESH = "refresh"


@dataclass(frozen=True)
class TokenClaims:
    """What a valid token says: whose it is, its login session (None for server-minted ones) and its id."""

    user_id: int
    session_id: str | None
    jti: str | None
    expires_at: datetime | None = None  # its `exp` (required, so set for every decoded token)


def issue_access_token(
    user_id: int, secret: str, *, now: datetime, ttl: timedelta, audience: str = AUDIENCE_API,
    session_id: str | None = None, auth_time: datetime | None = None,
) -> str:
    """A signed access token for a user, valid for `ttl` and only for `audience` (and its session, if given)."""
    claims: dict[str, object] = {
        "sub": str(user_id),
        "aud": audience,
        "iat": int(now.timestamp()),
        "exp": int((now + ttl).timestamp()),
        "jti": uuid.uuid4().hex,
    }
    if session_id is not None:
        claims["sid"] = session_id
    if auth_time is not None:
        claims["auth_time"] = int(auth_time.timestamp())  # when the password was checked (OpenID Connect)
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def issue_refresh_token(
    user_id: int, secret: str, *, session_id: str, jti: str, now: datetime, expires_at: datetime
) -> str:
    """A refresh token of a session: good for one renewal (its `jti` is rotated), never past the session's end."""
    claims = {
        "sub": str(user_id),
        "aud": AUDIENCE_REFRESH,
        "sid": session_id,
        "jti": jti,
        "iat": int(now.timestamp()),
        "exp": int(expires_at.timestamp()),
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def decode_token(token: str, secret: str, *, audience: str = AUDIENCE_API) -> TokenClaims:
    """The claims of a valid token for `audience`, or AuthenticationFailed saying why."""
    kind = "refresh token" if audience == AUDIENCE_REFRESH else "access token"
    required = ["exp", "sub", "sid", "jti"] if audience == AUDIENCE_REFRESH else ["exp", "sub"]
    try:
        claims = jwt.decode(token, secret, algorithms=[ALGORITHM], audience=audience, options={"require": required})
        session_id = claims.get("sid")
        jti = claims.get("jti")
        if not isinstance(session_id, str | None) or not isinstance(jti, str | None):
            raise ValueError("sid and jti are strings")
        exp = claims.get("exp")
        expires = datetime.fromtimestamp(exp, UTC) if isinstance(exp, int | float) else None
        return TokenClaims(user_id=int(claims["sub"]), session_id=session_id, jti=jti, expires_at=expires)
    except jwt.ExpiredSignatureError:
        raise AuthenticationFailed(f"the {kind} has expired; log in again") from None
    except (jwt.InvalidTokenError, ValueError, TypeError):
        raise AuthenticationFailed(f"the {kind} is not valid") from None


def read_access_token(token: str, secret: str, *, audience: str = AUDIENCE_API) -> int:
    """The user id of a valid token for `audience`, or AuthenticationFailed saying why (no session check)."""
    return decode_token(token, secret, audience=audience).user_id


def looks_like_jwt(token: str) -> bool:
    return token.count(".") == 2
