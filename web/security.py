"""Access tokens (JWT, HS256) and the login rate limiter."""

from __future__ import annotations

import time
import uuid
from collections import defaultdict, deque
from dataclasses import dataclass, field
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


@dataclass
class RateLimiter:
    """At most `limit` hits per key within a sliding `window` seconds (in memory, per process)."""

    limit: int
    window: float
    _hits: dict[str, deque[float]] = field(default_factory=lambda: defaultdict(deque))

    def retry_after(self, key: str, *, now: float | None = None) -> float | None:
        """Seconds to wait when the key is over its limit, else None."""
        now = time.monotonic() if now is None else now
        hits = self._hits[key]
        while hits and hits[0] <= now - self.window:
            hits.popleft()
        if len(hits) >= self.limit:
            return hits[0] + self.window - now
        return None

    def hit(self, key: str, *, now: float | None = None) -> None:
        self._hits[key].append(time.monotonic() if now is None else now)

    def reset(self, key: str) -> None:
        self._hits.pop(key, None)
