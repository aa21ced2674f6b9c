"""Accounts: users (argon2 password hashes, IANA timezone, admin flag), password changes, and personal API tokens
(hashed, revocable)."""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import datetime, timedelta

from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from domain.errors import AlreadyExists, AuthenticationFailed, InvalidInput, NotFound, UserNotFound
from domain.models import ApiToken, Task, User
from domain.passwords import hash_password, verify_nothing, verify_password
from domain.timeutil import Due, check_timezone, zone
from domain.uow import UnitOfWork
from domain.usecases.common import Actor
from domain.usecases.projects import new_inbox
from domain.usecases.sessions import revoke_user_sessions
from domain.values import valid_id

TOKEN_PREFIX = "tat_"
PASSWORD_MIN = 8
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_LAST_USED_GRANULARITY = timedelta(minutes=1)  # write last_used_at at most once a minute per token


class UserView(BaseModel):
    id: int
    email: str
    timezone: str
    is_admin: bool
    created_at: datetime


class TokenView(BaseModel):
    id: int
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


def _actor(user: User) -> Actor:
    assert user.id is not None
    return Actor(id=user.id, timezone=user.timezone, is_admin=user.is_admin)


def normalize_email(email: str) -> str:
    email = email.strip().lower()
    if len(email) > 320 or not _EMAIL.match(email):
        raise InvalidInput(f"{email!r} is not an email address, e.g. 'ada@example.com'", field="email")
    return email


async def create_user(
    uow: UnitOfWork, email: str, password: str | None = None, *, timezone: str = "UTC", is_admin: bool = False
) -> UserView:
    """Create a user with their Inbox; the password (at least 8 characters) is stored as an argon2 hash."""
    email = normalize_email(email)
    timezone = check_timezone(timezone)  # stored as the canonical IANA spelling
    if password is not None and len(password) < PASSWORD_MIN:
        raise InvalidInput(f"a password has at least {PASSWORD_MIN} characters", field="password")
    digest = await hash_password(password) if password is not None else None
    try:
        async with uow.write() as tx:
            user = User(email=email, password_hash=digest, timezone=timezone, is_admin=is_admin, created_at=tx.now)
            tx.session.add(user)
            await tx.session.flush()
            assert user.id is not None
            tx.session.add(new_inbox(user.id, tx.now))  # every user has an Inbox from the start
            return UserView.model_validate(user, from_attributes=True)
    except IntegrityError:
        raise AlreadyExists(f"a user with email {email} already exists", field="email") from None


async def authenticate(uow: UnitOfWork, email: str, password: str) -> Actor:
    """The user with this email and password, or AuthenticationFailed (same message either way)."""
    async with uow.read() as tx:
        user = (await tx.session.exec(select(User).where(User.email == email.strip().lower()))).first()
    if user is None or user.password_hash is None:
        await verify_nothing(password)  # spend the same time as a real check
        raise AuthenticationFailed("wrong email or password")
    if not await verify_password(password, user.password_hash):
        raise AuthenticationFailed("wrong email or password")
    return _actor(user)


async def get_user(uow: UnitOfWork, *, user_id: int | None = None, email: str | None = None) -> UserView:
    """A user by id or email."""
    if user_id is not None and not valid_id(user_id):
        raise UserNotFound(f"no user {user_id}", field="user_id")  # larger ids cannot exist (nor fit the column)
    async with uow.read() as tx:
        stmt = select(User).where(User.id == user_id) if user_id is not None else select(User).where(
            User.email == (email or "").strip().lower()
        )
        user = (await tx.session.exec(stmt)).first()
    if user is None:
        raise UserNotFound(f"no user {email or user_id}", field="email" if email else "user_id")
    return UserView.model_validate(user, from_attributes=True)


async def actor_for(uow: UnitOfWork, *, user_id: int | None = None, email: str | None = None) -> Actor:
    """The acting identity of a user."""
    user = await get_user(uow, user_id=user_id, email=email)
    return Actor(id=user.id, timezone=user.timezone, is_admin=user.is_admin)


async def set_timezone(uow: UnitOfWork, actor: Actor, timezone: str) -> UserView:
    """Change the user's timezone; all-day due dates keep their local day."""
    timezone = check_timezone(timezone)  # stored as the canonical IANA spelling
    tz = zone(timezone)
    async with uow.write() as tx:
        user = await tx.session.get(User, actor.id)
        if user is None:
            raise UserNotFound(f"no user {actor.id}", field="user_id")
        user.timezone = timezone
        tasks = await tx.session.exec(select(Task).where(Task.owner_id == actor.id, col(Task.all_day).is_(True)))
        for task in tasks.all():
            task.due_key = Due(day=task.due_date).key(tz)
        view = UserView.model_validate(user, from_attributes=True)
    uow.db.callers.invalidate_user(actor.id)  # cached callers carry the old timezone
    return view


def _check_password(password: str, field: str = "password") -> None:
    if len(password) < PASSWORD_MIN:
        raise InvalidInput(f"a password has at least {PASSWORD_MIN} characters", field=field)


async def change_password(uow: UnitOfWork, actor: Actor, current_password: str, new_password: str) -> int:
    """Set a new password after checking the current one, and end every session of the user; how many ended."""
    _check_password(new_password, "new_password")
    async with uow.read() as tx:
        user = await tx.session.get(User, actor.id)
    if user is None:
        raise UserNotFound(f"no user {actor.id}", field="user_id")
    # 422, not 401: the caller's own token is fine, only this field is wrong (a 401 would sign the page out).
    if user.password_hash is None or not await verify_password(current_password, user.password_hash):
        raise InvalidInput("the current password is not right", field="current_password")
    return await _store_password(uow, actor.id, await hash_password(new_password))


async def reset_password(uow: UnitOfWork, email: str, new_password: str) -> tuple[UserView, int]:
    """The operator's reset (CLI): set a user's password and end every session; the user and how many ended."""
    _check_password(new_password)
    user = await get_user(uow, email=email)
    return user, await _store_password(uow, user.id, await hash_password(new_password))


async def _store_password(uow: UnitOfWork, user_id: int, digest: str) -> int:
    async with uow.write() as tx:
        user = await tx.session.get(User, user_id)
        if user is None:
            raise UserNotFound(f"no user {user_id}", field="user_id")
        user.password_hash = digest
        ended = await revoke_user_sessions(tx, user_id)
    uow.db.callers.invalidate_user(user_id)  # after the commit (domain.caller_cache: the race)
    return ended


def _token_hash(token: str) -> str:
    # Tokens are 256 random bits, so a fast hash is enough; argon2 would cost ~50 ms per request.
    return hashlib.sha256(token.encode()).hexdigest()


async def create_api_token(uow: UnitOfWork, actor: Actor, name: str = "") -> tuple[str, TokenView]:
    """A new personal API token: the plain value is returned once and only its hash is stored."""
    if len(name) > 100:
        raise InvalidInput("a token name is at most 100 characters", field="name")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    async with uow.write() as tx:
        row = ApiToken(user_id=actor.id, name=name, prefix=token[:12], token_hash=_token_hash(token), created_at=tx.now)
        tx.session.add(row)
        await tx.session.flush()
        return token, TokenView.model_validate(row, from_attributes=True)


async def authenticate_token(uow: UnitOfWork, token: str) -> Actor:
    """The user of a valid, unrevoked API token (noting when it was last used), or AuthenticationFailed. Uncached:
    requests go through `authenticate_bearer`, which remembers the answer for a few seconds (so last_used_at is
    noted when a request misses that cache)."""
    digest = _token_hash(token)
    async with uow.read() as tx:
        stmt = select(ApiToken, User).join(User, col(User.id) == ApiToken.user_id).where(ApiToken.token_hash == digest)
        found = (await tx.session.exec(stmt)).first()
    if found is None or found[0].revoked_at is not None:
        raise AuthenticationFailed("invalid or revoked token")
    row, user = found
    now = uow.clock.now()
    if row.last_used_at is None or now - row.last_used_at > _LAST_USED_GRANULARITY:
        async with uow.write() as tx:
            fresh = await tx.session.get(ApiToken, row.id)
            if fresh is not None:
                fresh.last_used_at = now
    return _actor(user)


async def list_tokens(uow: UnitOfWork, actor: Actor) -> list[TokenView]:
    """The user's tokens, newest first (never their values)."""
    async with uow.read() as tx:
        stmt = select(ApiToken).where(ApiToken.user_id == actor.id).order_by(col(ApiToken.id).desc())
        return [TokenView.model_validate(t, from_attributes=True) for t in (await tx.session.exec(stmt)).all()]


async def revoke_token(uow: UnitOfWork, token_id: int, actor: Actor | None = None) -> TokenView:
    """Revoke a token: the actor's own, or any when no actor is given (the operator's CLI)."""
    async with uow.write() as tx:
        row = await tx.session.get(ApiToken, token_id) if valid_id(token_id) else None
        if row is None or (actor is not None and row.user_id != actor.id):
            raise NotFound(f"token {token_id} not found", field="id")
        if row.revoked_at is None:
            row.revoked_at = tx.now
        view, owner = TokenView.model_validate(row, from_attributes=True), row.user_id
    uow.db.callers.invalidate_user(owner)  # after the commit (domain.caller_cache: the race)
    return view


async def user_emails(uow: UnitOfWork, *, limit: int = 10) -> list[str]:
    """The emails of the first `limit` users, oldest first (for commands that pick "the one user")."""
    async with uow.read() as tx:
        stmt = select(User.email).order_by(col(User.id)).limit(limit)
        return list((await tx.session.exec(stmt)).all())
