"""Who a bearer credential belongs to, for every surface that takes one (REST, the live stream, MCP over HTTP), and
the user a stdio MCP server acts for: verified callers are remembered for a few seconds in the database's
`callers` cache (domain.caller_cache), so a request with a known credential needs no query."""

from __future__ import annotations

from datetime import datetime

from domain.access_tokens import AUDIENCE_API, decode_token, looks_like_jwt
from domain.uow import UnitOfWork
from domain.usecases.accounts import actor_for, authenticate_token
from domain.usecases.common import Actor
from domain.usecases.sessions import session_caller


async def authenticate_bearer(uow: UnitOfWork, secret: str, token: str, *, audience: str = AUDIENCE_API) -> Actor:
    """The caller of a bearer credential: an unrevoked personal API token, or a JWT access token for `audience`
    whose login session (if it names one) is live and whose user exists; AuthenticationFailed saying why otherwise.
    A caller verified in the last few seconds is answered from the cache (never past the JWT's or session's end)."""
    cache = uow.db.callers
    if not cache.enabled:
        return (await _verify(uow, secret, token, audience))[0]
    is_jwt = looks_like_jwt(token)
    key = cache.key(token, audience if is_jwt else "")  # an API token is good for every audience
    now = uow.clock.now()
    hit = cache.get(key, now)
    if hit is not None:
        return hit

    async def verify(ticket: int) -> Actor:  # the ticket is taken before the query: see domain.caller_cache
        actor, not_after = await _verify(uow, secret, token, audience)
        cache.put(key, actor, now=now, ticket=ticket, not_after=not_after)
        return actor

    return await cache.shared(key, verify)  # concurrent misses of one credential share one verification


async def _verify(uow: UnitOfWork, secret: str, token: str, audience: str) -> tuple[Actor, datetime | None]:
    """The caller of a credential from the database, and when the answer stops holding by itself (a JWT's exp or
    its session's end; None: an API token, valid until revoked)."""
    if not looks_like_jwt(token):
        return await authenticate_token(uow, token), None
    claims = decode_token(token, secret, audience=audience)
    actor, session_ends = await session_caller(uow, claims.user_id, claims.session_id)
    ends = claims.expires_at
    if session_ends is not None:
        ends = session_ends if ends is None else min(ends, session_ends)
    return actor, ends


async def cached_actor(uow: UnitOfWork, user_id: int) -> Actor:
    """The acting identity of a user known by id (the stdio MCP server's configured user), from the same cache:
    a timezone change in this process shows at once, one elsewhere within the cache's TTL; UserNotFound if gone."""
    cache = uow.db.callers
    if not cache.enabled:
        return await actor_for(uow, user_id=user_id)
    key = cache.key(str(user_id), "user-id")
    now = uow.clock.now()
    hit = cache.get(key, now)
    if hit is not None:
        return hit
    ticket = cache.ticket()
    actor = await actor_for(uow, user_id=user_id)
    cache.put(key, actor, now=now, ticket=ticket)
    return actor
