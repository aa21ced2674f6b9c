"""Who a bearer credential belongs to, for every surface that takes one (REST, the live stream, MCP over HTTP)."""

from __future__ import annotations

from domain.access_tokens import AUDIENCE_API, decode_token, looks_like_jwt
from domain.uow import UnitOfWork
from domain.usecases.accounts import authenticate_token
from domain.usecases.common import Actor
from domain.usecases.sessions import authenticate_session


async def authenticate_bearer(uow: UnitOfWork, secret: str, token: str, *, audience: str = AUDIENCE_API) -> Actor:
    """The caller of a bearer credential: an unrevoked personal API token, or a JWT access token for `audience`
    whose login session (if it names one) is live and whose user exists; AuthenticationFailed saying why otherwise."""
    if not looks_like_jwt(token):
        return await authenticate_token(uow, token)
    claims = decode_token(token, secret, audience=audience)
    return await authenticate_session(uow, claims.user_id, claims.session_id)
