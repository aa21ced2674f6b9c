"""An open /api/v1/stream re-checks its credential: revoking the API token, logging out the session or the JWT
expiring ends the stream within the re-check interval (the page reconnects with a fresh token)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from fastapi import FastAPI

from domain.access_tokens import issue_access_token
from domain.uow import UnitOfWork
from domain.usecases import actor_for, create_api_token, revoke_session, revoke_token, start_session
from tests.api.conftest import SECRET, User
from tests.conftest import new_actor
from tests.services.streaming import stream
from web.live import LiveHub

RECHECK = 0.1  # seconds: short, so that the generous bounds below are never near


@pytest.fixture
def quick_recheck(app: FastAPI) -> None:
    app.state.api.stream_recheck_seconds = RECHECK


def _user(user_id: int, token: str) -> User:
    return User(id=user_id, headers={"Authorization": f"Bearer {token}"})


async def _session_user(uow: UnitOfWork, ttl: timedelta = timedelta(minutes=30)) -> tuple[User, str]:
    actor = await new_actor(uow)
    grant = await start_session(uow, actor.id, max_age=timedelta(hours=12))
    token = issue_access_token(actor.id, SECRET, now=datetime.now(UTC), ttl=ttl, session_id=grant.session_id)
    return _user(actor.id, token), grant.session_id


async def test_a_stream_on_a_revoked_api_token_ends(uow: UnitOfWork, app: FastAPI, quick_recheck: None) -> None:
    """Revoking the personal API token a stream was opened with ends that stream."""
    actor = await new_actor(uow)
    token, view = await create_api_token(uow, actor, "script")
    async with stream(app, _user(actor.id, token)) as reader:
        await revoke_token(uow, view.id, actor)
        assert await reader.ended(timeout=10)


async def test_the_stream_of_a_logged_out_session_ends(uow: UnitOfWork, app: FastAPI, quick_recheck: None) -> None:
    """Logging out the session whose access token opened a stream ends that stream."""
    user, session_id = await _session_user(uow)
    async with stream(app, user) as reader:
        await revoke_session(uow, await actor_for(uow, user_id=user.id), session_id)
        assert await reader.ended(timeout=10)


async def test_a_stream_ends_when_its_access_token_expires(uow: UnitOfWork, app: FastAPI, quick_recheck: None) -> None:
    """An access token that expires while its stream is open ends the stream."""
    user, _ = await _session_user(uow, ttl=timedelta(seconds=3))  # exp is whole seconds: 2-3 s
    async with stream(app, user) as reader:
        assert await reader.ended(timeout=10)


async def test_a_stream_with_a_valid_token_outlives_many_rechecks(
    uow: UnitOfWork, app: FastAPI, hub: LiveHub, quick_recheck: None
) -> None:
    """Re-checking a valid credential does not end the stream: events still arrive after several checks."""
    user, _ = await _session_user(uow)
    async with stream(app, user) as reader:
        await asyncio.sleep(5 * RECHECK)
        hub.publish(user.id, "notification", {"n": 1})
        assert (await reader.event()).data == '{"n":1}'

