"""Login sessions in the use-case layer (both databases): one-query session checks, atomic refresh rotation, the
operator's password reset; and `get_user` with an id too large to exist."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlmodel import select

from domain.errors import AuthenticationFailed, UserNotFound
from domain.models import AuthSession
from domain.uow import UnitOfWork
from domain.usecases import (
    Actor,
    authenticate,
    authenticate_session,
    create_user,
    get_user,
    reset_password,
    revoke_session,
    rotate_refresh,
    start_session,
)
from runtime.retention import prune
from tests.conftest import Clock, new_actor

HOURS_12 = timedelta(hours=12)


async def test_get_user_with_an_id_too_large_for_the_column_is_user_not_found(uow: UnitOfWork) -> None:
    """An id past the column's range cannot exist: UserNotFound, never a database error."""
    with pytest.raises(UserNotFound):
        await get_user(uow, user_id=10**30)


async def test_a_live_session_authenticates_its_user(uow: UnitOfWork, actor: Actor) -> None:
    """A session that was neither revoked nor expired gives its user."""
    grant = await start_session(uow, actor.id, max_age=HOURS_12)
    assert (await authenticate_session(uow, actor.id, grant.session_id)).id == actor.id


async def test_a_session_is_only_its_own_users(uow: UnitOfWork, actor: Actor, other: Actor) -> None:
    """A token naming another user's session is refused."""
    grant = await start_session(uow, actor.id, max_age=HOURS_12)
    with pytest.raises(AuthenticationFailed):
        await authenticate_session(uow, other.id, grant.session_id)


async def test_an_expired_session_no_longer_authenticates(uow: UnitOfWork, actor: Actor, clock: Clock) -> None:
    """Past its absolute end a session is refused, even with an unexpired access token."""
    grant = await start_session(uow, actor.id, max_age=timedelta(minutes=5))
    clock.advance(minutes=6)
    with pytest.raises(AuthenticationFailed):
        await authenticate_session(uow, actor.id, grant.session_id)


async def test_two_concurrent_refreshes_with_one_token_renew_the_session_at_most_once(
    uow: UnitOfWork, actor: Actor
) -> None:
    """The rotation is one conditional update: a refresh token is spent once, however many race for it."""
    grant = await start_session(uow, actor.id, max_age=HOURS_12)
    outcomes = await asyncio.gather(
        *(rotate_refresh(uow, actor.id, grant.session_id, grant.refresh_jti) for _ in range(2)),
        return_exceptions=True,
    )
    assert sum(not isinstance(o, BaseException) for o in outcomes) <= 1
    assert all(isinstance(o, AuthenticationFailed) for o in outcomes if isinstance(o, BaseException))


async def test_a_spent_token_is_a_replay_even_from_a_transaction_that_began_before_the_renewal(
    uow: UnitOfWork, actor: Actor, clock: Clock
) -> None:
    """The loser of a race reads its clock before the winner commits, so its `now` can be earlier than the renewal.
    Without a grace window (the JSON API) that repeat still ends the session; the race test above hit this."""
    grant = await start_session(uow, actor.id, max_age=HOURS_12)
    await rotate_refresh(uow, actor.id, grant.session_id, grant.refresh_jti)
    clock.advance(seconds=-1)
    with pytest.raises(AuthenticationFailed):
        await rotate_refresh(uow, actor.id, grant.session_id, grant.refresh_jti)
    with pytest.raises(AuthenticationFailed):
        await authenticate_session(uow, actor.id, grant.session_id)


async def test_resetting_a_password_ends_every_session_and_sets_the_new_password(uow: UnitOfWork) -> None:
    """The operator's reset replaces the password and ends the user's sessions."""
    user = await create_user(uow, f"reset-{(await new_actor(uow)).id}@example.com", "old password")
    grant = await start_session(uow, user.id, max_age=HOURS_12)
    _, ended = await reset_password(uow, user.email, "new password")
    assert ended == 1
    with pytest.raises(AuthenticationFailed):
        await authenticate_session(uow, user.id, grant.session_id)
    assert (await authenticate(uow, user.email, "new password")).id == user.id


async def test_retention_prunes_sessions_that_ended_before_the_cutoff_and_keeps_live_ones(
    uow: UnitOfWork, actor: Actor, clock: Clock
) -> None:
    """Ended login sessions (logged out, or past their maximum age) older than the retention period are deleted;
    a live one stays."""
    clock.set(clock.now() + timedelta(days=3650))  # later than other tests' sessions: this test owns what is that old
    logged_out = await start_session(uow, actor.id, max_age=timedelta(hours=12))
    await revoke_session(uow, actor, logged_out.session_id)
    aged_out = await start_session(uow, actor.id, max_age=timedelta(hours=12))
    clock.advance(days=8)
    live = await start_session(uow, actor.id, max_age=timedelta(hours=12))
    pruned = await prune(uow, timedelta(days=7))
    assert pruned["sessions"] >= 2
    async with uow.read() as tx:
        stmt = select(AuthSession.id).where(AuthSession.user_id == actor.id)
        left = set((await tx.session.exec(stmt)).all())
    assert logged_out.session_id not in left and aged_out.session_id not in left
    assert live.session_id in left
