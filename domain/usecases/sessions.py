"""Login sessions: one row per sign-in, named by its access tokens (`sid`), renewed by rotating refresh tokens and
ended by logout, password change or "sign out everywhere" — after which its tokens are refused at once."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from pydantic import BaseModel
from sqlmodel import col, select

from domain.errors import AuthenticationFailed, SessionEnded, SessionExpired, UserNotFound
from domain.models import ApiToken, AuthSession, User
from domain.uow import Tx, UnitOfWork
from domain.usecases.common import Actor

SESSION_ENDED = "the session has ended (signed out, password changed or signed out everywhere); log in again"
SESSION_EXPIRED = "the session has reached its maximum age; log in again"
REFRESH_REUSED = "this refresh token was already used, so the session has been ended to protect it; log in again"


@dataclass(frozen=True)
class SessionGrant:
    """What a new or renewed session hands out: its id, the jti of its current refresh token and its bounds."""

    session_id: str
    user_id: int
    refresh_jti: str
    auth_time: datetime
    expires_at: datetime


class SessionView(BaseModel):
    id: str
    created_at: datetime
    auth_time: datetime
    refreshed_at: datetime
    expires_at: datetime
    current: bool = False


@dataclass(frozen=True)
class Revoked:
    sessions: int
    api_tokens: int


def _jti_hash(jti: str) -> str:
    return hashlib.sha256(jti.encode()).hexdigest()


async def start_session(uow: UnitOfWork, user_id: int, *, max_age: timedelta) -> SessionGrant:
    """A new session for a user whose password was just checked; it ends `max_age` from now whatever happens."""
    async with uow.write() as tx:
        grant = SessionGrant(session_id=secrets.token_hex(16), user_id=user_id, refresh_jti=secrets.token_hex(16),
                             auth_time=tx.now, expires_at=tx.now + max_age)
        tx.session.add(AuthSession(id=grant.session_id, user_id=user_id, created_at=tx.now, auth_time=tx.now,
                                   refreshed_at=tx.now, expires_at=grant.expires_at,
                                   refresh_hash=_jti_hash(grant.refresh_jti)))
    return grant


async def rotate_refresh(
    uow: UnitOfWork, user_id: int, session_id: str, jti: str, *, grace: timedelta = timedelta(0)
) -> SessionGrant:
    """Renew a session for its current refresh token (which is then spent); presenting a spent one is taken as
    theft and ends the session. Within `grace` of a renewal, the token it spent answers that renewal's successor
    again instead: two tabs sharing one cookie renew at once, and the slower one sent the token the faster one
    had just spent. SessionEnded or SessionExpired when the session cannot be renewed."""
    fresh = _successor(jti)
    async with uow.write() as tx:
        # One conditional UPDATE: two concurrent renewals with the same token cannot both win.
        renewed = await tx.session.exec(
            sa.update(AuthSession)
            .where(col(AuthSession.id) == session_id, col(AuthSession.user_id) == user_id,
                   col(AuthSession.refresh_hash) == _jti_hash(jti), col(AuthSession.revoked_at).is_(None),
                   col(AuthSession.expires_at) > tx.now)
            .values(refresh_hash=_jti_hash(fresh), refreshed_at=tx.now)
            .returning(col(AuthSession.auth_time), col(AuthSession.expires_at))
        )
        row = renewed.first()
        bounds = (row[0], row[1]) if row is not None else await _repeat_or_refuse(
            tx, user_id, session_id, _jti_hash(fresh), grace)
    if isinstance(bounds, AuthenticationFailed):
        uow.db.callers.invalidate_user(user_id)  # a replay ended the session
        raise bounds  # after the commit: a replay's revocation is kept
    return SessionGrant(session_id=session_id, user_id=user_id, refresh_jti=fresh, auth_time=bounds[0],
                        expires_at=bounds[1])


def _successor(jti: str) -> str:
    """The jti that renewing with `jti` hands out. Derived, not random, so that a renewal within the grace
    window can hand out the same successor again (only its hash is stored). Knowing it forges nothing: a refresh
    token is also signed with the server's secret."""
    return hashlib.sha256(f"todo-agent refresh successor:{jti}".encode()).hexdigest()[:32]


async def _repeat_or_refuse(
    tx: Tx, user_id: int, session_id: str, successor_hash: str, grace: timedelta
) -> tuple[datetime, datetime] | AuthenticationFailed:
    """The (auth_time, expires_at) of the renewal a refresh repeats within the grace window, or why it is
    refused. A live session whose refresh token did not match otherwise was replayed, so it ends."""
    found = await tx.session.get(AuthSession, session_id)
    if found is None or found.user_id != user_id or found.revoked_at is not None:
        return SessionEnded(SESSION_ENDED)
    if found.expires_at <= tx.now:
        return SessionExpired(SESSION_EXPIRED)
    # grace > 0 first: this transaction's clock was read when it began, maybe before the renewal it lost to
    # committed, so the difference can be negative; without a grace window a repeat is always a replay.
    if grace > timedelta(0) and found.refresh_hash == successor_hash and tx.now - found.refreshed_at < grace:
        return found.auth_time, found.expires_at
    found.revoked_at = tx.now
    return SessionEnded(REFRESH_REUSED)


async def authenticate_session(uow: UnitOfWork, user_id: int, session_id: str | None) -> Actor:
    """The user of an access token whose session is live, in one query; AuthenticationFailed otherwise.
    Server-minted tokens without a session (the agent's MCP tokens) only need their user to exist."""
    return (await session_caller(uow, user_id, session_id))[0]


async def session_caller(uow: UnitOfWork, user_id: int, session_id: str | None) -> tuple[Actor, datetime | None]:
    """`authenticate_session`, with the end of the session (None for a token without one), in one query."""
    async with uow.read() as tx:
        if session_id is None:
            user = (await tx.session.exec(select(User).where(col(User.id) == user_id))).first()
            ends = None
        else:
            stmt = (select(User, AuthSession.expires_at).where(col(User.id) == user_id)
                    .join(AuthSession, sa.and_(col(AuthSession.user_id) == col(User.id),
                                               col(AuthSession.id) == session_id,
                                               col(AuthSession.revoked_at).is_(None),
                                               col(AuthSession.expires_at) > uow.clock.now())))
            row = (await tx.session.exec(stmt)).first()
            user, ends = (row[0], row[1]) if row is not None else (None, None)
    if user is None:
        if session_id is None:
            raise AuthenticationFailed("the access token's user no longer exists")
        raise SessionEnded(SESSION_ENDED)
    assert user.id is not None
    return Actor(id=user.id, timezone=user.timezone, is_admin=user.is_admin), ends


async def revoke_session(uow: UnitOfWork, actor: Actor, session_id: str) -> bool:
    """End one of the actor's sessions (logout); whether it was still live."""
    async with uow.write() as tx:
        result = await tx.session.exec(
            sa.update(AuthSession)
            .where(col(AuthSession.id) == session_id, col(AuthSession.user_id) == actor.id,
                   col(AuthSession.revoked_at).is_(None))
            .values(revoked_at=tx.now)
        )
        ended = bool(result.rowcount)
    uow.db.callers.invalidate_user(actor.id)  # after the commit (domain.caller_cache: the race)
    return ended


async def revoke_user_sessions(tx: Tx, user_id: int) -> int:
    """End every live session of a user inside a write transaction; how many there were. The caller invalidates
    the user's cached callers after its commit (`uow.db.callers.invalidate_user`)."""
    result = await tx.session.exec(
        sa.update(AuthSession)
        .where(col(AuthSession.user_id) == user_id, col(AuthSession.revoked_at).is_(None))
        .values(revoked_at=tx.now)
    )
    return int(result.rowcount)


async def sign_out_everywhere(uow: UnitOfWork, actor: Actor, *, api_tokens: bool = False) -> Revoked:
    """End every session of the actor, and with `api_tokens` revoke every personal API token too."""
    async with uow.write() as tx:
        if await tx.session.get(User, actor.id) is None:
            raise UserNotFound(f"no user {actor.id}", field="user_id")
        sessions = await revoke_user_sessions(tx, actor.id)
        tokens = 0
        if api_tokens:
            result = await tx.session.exec(
                sa.update(ApiToken)
                .where(col(ApiToken.user_id) == actor.id, col(ApiToken.revoked_at).is_(None))
                .values(revoked_at=tx.now)
            )
            tokens = int(result.rowcount)
    uow.db.callers.invalidate_user(actor.id)
    return Revoked(sessions=sessions, api_tokens=tokens)


async def list_sessions(uow: UnitOfWork, actor: Actor, current: str | None = None) -> list[SessionView]:
    """The actor's live sessions, newest first; `current` marks the caller's own."""
    async with uow.read() as tx:
        stmt = (select(AuthSession)
                .where(col(AuthSession.user_id) == actor.id, col(AuthSession.revoked_at).is_(None),
                       col(AuthSession.expires_at) > uow.clock.now())
                .order_by(col(AuthSession.created_at).desc(), col(AuthSession.id)))
        rows = (await tx.session.exec(stmt)).all()
    return [SessionView.model_validate(row, from_attributes=True).model_copy(update={"current": row.id == current})
            for row in rows]
