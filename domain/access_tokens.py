"""Signed access tokens (JWT, HS256) for a user and an audience: `api` for REST and the page, `mcp` for MCP."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import jwt

from domain.errors import AuthenticationFailed

ALGORITHM = "HS256"
AUDIENCE_API = "api"
AUDIENCE_MCP = "mcp"


def issue_access_token(
    user_id: int, secret: str, *, now: datetime, ttl: timedelta, audience: str = AUDIENCE_API
) -> str:
    """A signed access token for a user, valid for `ttl` and only for `audience`."""
    claims = {
        "sub": str(user_id),
        "aud": audience,
        "iat": int(now.timestamp()),
        "exp": int((now + ttl).timestamp()),
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def read_access_token(token: str, secret: str, *, audience: str = AUDIENCE_API) -> int:
    """The user id of a valid token for `audience`, or AuthenticationFailed saying why."""
    try:
        claims = jwt.decode(
            token, secret, algorithms=[ALGORITHM], audience=audience, options={"require": ["exp", "sub"]}
        )
        return int(claims["sub"])
    except jwt.ExpiredSignatureError:
        raise AuthenticationFailed("the access token has expired; log in again") from None
    except (jwt.InvalidTokenError, ValueError):
        raise AuthenticationFailed("the access token is not valid") from None


def looks_like_jwt(token: str) -> bool:
    return token.count(".") == 2
