"""Verified bearer callers cached in process (domain.caller_cache, both databases): a known credential answers
without a query; a revocation, logout, sign-out-everywhere or password change in this process refuses the next
request at once, another process (a second Database, so a second cache) within the TTL; a timezone change shows on
the next call; an expired JWT or session is never served; a verification racing a revocation is not stored; TTL 0
turns the cache off. Time is the injected clock, never a sleep."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event

from domain.access_tokens import AUDIENCE_API, AUDIENCE_MCP, issue_access_token
from domain.caller_cache import CallerCache
from domain.db import Database
from domain.errors import AuthenticationFailed
from domain.uow import UnitOfWork
from domain.usecases import (
    Actor,
    authenticate_bearer,
    change_password,
    create_api_token,
    create_user,
    reset_password,
    revoke_session,
    revoke_token,
    set_timezone,
    sign_out_everywhere,
    start_session,
)
from domain.usecases import callers as callers_module
from domain.usecases.callers import cached_actor
from tests.conftest import Clock, new_actor

SECRET = "caller-cache-secret-" + "z" * 40
TTL = 5.0
PASSWORD = "correct horse battery"


class Statements:
    """Counts the SQL statements an engine sends."""

    def __init__(self, db: Database) -> None:
        self.count = 0
        self._engine = db.engine.sync_engine
        event.listen(self._engine, "before_cursor_execute", self._seen)

    def _seen(self, *_args: Any) -> None:
        self.count += 1

    def close(self) -> None:
        event.remove(self._engine, "before_cursor_execute", self._seen)


@pytest.fixture
async def db(db_url: str) -> AsyncIterator[Database]:
    """A Database of this test's own (so a cache of its own) with a TTL of 5 s."""
    database = Database(db_url)
    database.callers.ttl = TTL
    yield database
    await database.dispose()


@pytest.fixture
def cuow(db: Database, clock: Clock) -> UnitOfWork:
    clock.set(datetime.now(UTC))  # frozen at the real now: PyJWT checks exp against the real clock
    return UnitOfWork(db, clock)


@pytest.fixture
def sql(db: Database) -> Iterator[Statements]:
    counter = Statements(db)
    yield counter
    counter.close()


def _jwt(actor: Actor, session_id: str | None = None, *, audience: str = AUDIENCE_API,
         ttl: timedelta = timedelta(minutes=30)) -> str:
    return issue_access_token(actor.id, SECRET, now=datetime.now(UTC), ttl=ttl, audience=audience,
                              session_id=session_id)


async def _answers(uow: UnitOfWork, token: str, audience: str = AUDIENCE_API) -> Actor:
    return await authenticate_bearer(uow, SECRET, token, audience=audience)


async def _refused(uow: UnitOfWork, token: str) -> None:
    with pytest.raises(AuthenticationFailed):
        await _answers(uow, token)


async def _user_with_password(uow: UnitOfWork) -> tuple[Actor, str]:
    email = f"user-{uuid.uuid4().hex[:12]}@example.com"
    view = await create_user(uow, email, PASSWORD)
    return Actor(id=view.id), email


async def test_a_cached_api_token_or_jwt_answers_without_a_query(cuow: UnitOfWork, sql: Statements) -> None:
    actor = await new_actor(cuow, "Europe/Berlin")
    token, _ = await create_api_token(cuow, actor)
    grant = await start_session(cuow, actor.id, max_age=timedelta(hours=12))
    for credential in (token, _jwt(actor, grant.session_id), _jwt(actor)):
        first = await _answers(cuow, credential)
        before = sql.count
        assert before > 0
        assert await _answers(cuow, credential) == first == Actor(id=actor.id, timezone="Europe/Berlin")
        assert sql.count == before, credential
        sql.count = 0
    assert token not in "".join(cuow.db.callers._entries) and CallerCache.key(token) in cuow.db.callers._entries


async def test_a_jwt_is_cached_per_audience(cuow: UnitOfWork, sql: Statements) -> None:
    """An `api` JWT cached for REST is still refused by MCP (and the other way round): the audience is in the key."""
    actor = await new_actor(cuow)
    api_jwt = _jwt(actor)
    await _answers(cuow, api_jwt)
    with pytest.raises(AuthenticationFailed):
        await _answers(cuow, api_jwt, audience=AUDIENCE_MCP)
    mcp_jwt = _jwt(actor, audience=AUDIENCE_MCP)
    assert (await _answers(cuow, mcp_jwt, audience=AUDIENCE_MCP)).id == actor.id
    with pytest.raises(AuthenticationFailed):
        await _answers(cuow, mcp_jwt)


async def test_a_revoked_api_token_is_refused_at_once(cuow: UnitOfWork) -> None:
    """Revoked by its user, or by the operator's CLI (no actor)."""
    actor = await new_actor(cuow)
    for by in (actor, None):
        token, row = await create_api_token(cuow, actor)
        await _answers(cuow, token)
        await revoke_token(cuow, row.id, by)
        await _refused(cuow, token)


async def test_logout_refuses_the_sessions_jwt_at_once(cuow: UnitOfWork) -> None:
    actor = await new_actor(cuow)
    grant = await start_session(cuow, actor.id, max_age=timedelta(hours=12))
    token = _jwt(actor, grant.session_id)
    await _answers(cuow, token)
    await revoke_session(cuow, actor, grant.session_id)
    await _refused(cuow, token)


async def test_sign_out_everywhere_refuses_sessions_and_api_tokens_at_once(cuow: UnitOfWork) -> None:
    actor = await new_actor(cuow)
    token, _ = await create_api_token(cuow, actor)
    sessions = [await start_session(cuow, actor.id, max_age=timedelta(hours=12)) for _ in range(2)]
    jwts = [_jwt(actor, grant.session_id) for grant in sessions]
    for credential in (token, *jwts):
        await _answers(cuow, credential)
    await sign_out_everywhere(cuow, actor, api_tokens=True)
    for credential in (token, *jwts):
        await _refused(cuow, credential)


async def test_a_password_change_or_reset_refuses_the_sessions_jwts_at_once(cuow: UnitOfWork) -> None:
    actor, email = await _user_with_password(cuow)
    grant = await start_session(cuow, actor.id, max_age=timedelta(hours=12))
    token = _jwt(actor, grant.session_id)
    await _answers(cuow, token)
    await change_password(cuow, actor, PASSWORD, PASSWORD + "!")
    await _refused(cuow, token)

    grant = await start_session(cuow, actor.id, max_age=timedelta(hours=12))
    token = _jwt(actor, grant.session_id)
    await _answers(cuow, token)
    await reset_password(cuow, email, PASSWORD)
    await _refused(cuow, token)


async def test_another_process_keeps_the_stale_answer_at_most_the_ttl(
    cuow: UnitOfWork, db_url: str, clock: Clock
) -> None:
    """A second Database (another process's cache) does not hear of a revocation: it answers from its cache until
    the TTL has passed, then asks the database and refuses."""
    actor = await new_actor(cuow)
    token, row = await create_api_token(cuow, actor)
    grant = await start_session(cuow, actor.id, max_age=timedelta(hours=12))
    jwt = _jwt(actor, grant.session_id)
    other = Database(db_url)
    other.callers.ttl = TTL
    try:
        elsewhere = UnitOfWork(other, clock)
        await _answers(elsewhere, token)
        await _answers(elsewhere, jwt)
        await revoke_token(cuow, row.id, actor)
        await revoke_session(cuow, actor, grant.session_id)
        await _refused(cuow, token)  # this process: at once
        clock.advance(seconds=TTL - 0.5)
        assert (await _answers(elsewhere, token)).id == actor.id  # stale, within the TTL
        assert (await _answers(elsewhere, jwt)).id == actor.id
        clock.advance(seconds=0.5)
        await _refused(elsewhere, token)
        await _refused(elsewhere, jwt)
    finally:
        await other.dispose()


async def test_a_timezone_change_shows_on_the_next_call(cuow: UnitOfWork) -> None:
    actor = await new_actor(cuow, "Asia/Tokyo")
    token, _ = await create_api_token(cuow, actor)
    jwt = _jwt(actor)
    assert (await _answers(cuow, token)).timezone == "Asia/Tokyo"
    assert (await _answers(cuow, jwt)).timezone == "Asia/Tokyo"
    assert (await cached_actor(cuow, actor.id)).timezone == "Asia/Tokyo"
    await set_timezone(cuow, actor, "Europe/Paris")
    assert (await _answers(cuow, token)).timezone == "Europe/Paris"
    assert (await _answers(cuow, jwt)).timezone == "Europe/Paris"
    assert (await cached_actor(cuow, actor.id)).timezone == "Europe/Paris"


async def test_the_stdio_servers_user_is_cached_too(cuow: UnitOfWork, sql: Statements, clock: Clock) -> None:
    actor = await new_actor(cuow)
    await cached_actor(cuow, actor.id)
    before = sql.count
    assert (await cached_actor(cuow, actor.id)).id == actor.id
    assert sql.count == before
    clock.advance(seconds=TTL)
    await cached_actor(cuow, actor.id)
    assert sql.count > before


async def test_a_jwt_is_never_served_from_the_cache_past_its_exp(
    cuow: UnitOfWork, sql: Statements, clock: Clock
) -> None:
    """The entry ends at the token's exp even when the TTL is longer."""
    cuow.db.callers.ttl = 300.0
    actor = await new_actor(cuow)
    token = _jwt(actor, ttl=timedelta(seconds=60))
    await _answers(cuow, token)
    clock.advance(seconds=30)
    before = sql.count
    await _answers(cuow, token)
    assert sql.count == before  # still cached
    clock.advance(seconds=31)  # past exp by the injected clock (not yet by PyJWT's real one, so it is re-verified)
    await _answers(cuow, token)
    assert sql.count > before
    assert len(cuow.db.callers) == 0  # and not stored again: by this clock it has no life left


async def test_a_jwt_is_never_served_from_the_cache_past_its_sessions_end(cuow: UnitOfWork, clock: Clock) -> None:
    cuow.db.callers.ttl = 300.0
    actor = await new_actor(cuow)
    grant = await start_session(cuow, actor.id, max_age=timedelta(minutes=1))
    token = _jwt(actor, grant.session_id)
    await _answers(cuow, token)
    clock.advance(seconds=61)
    await _refused(cuow, token)


async def test_refusals_are_not_cached(cuow: UnitOfWork, sql: Statements) -> None:
    actor = await new_actor(cuow)
    token, row = await create_api_token(cuow, actor)
    await revoke_token(cuow, row.id, actor)
    for _ in range(2):
        before = sql.count
        await _refused(cuow, token)
        assert sql.count > before
    assert len(cuow.db.callers) == 0


async def test_a_verification_racing_a_revocation_is_not_stored(
    cuow: UnitOfWork, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A request reads the token as valid, the revocation commits (and invalidates) before that request stores
    its answer: the answer is not stored, so the next request is refused."""
    actor = await new_actor(cuow)
    token, row = await create_api_token(cuow, actor)
    real = callers_module.authenticate_token

    async def read_then_revoked(uow: UnitOfWork, credential: str) -> Actor:
        found = await real(uow, credential)
        await revoke_token(cuow, row.id, actor)
        return found

    monkeypatch.setattr(callers_module, "authenticate_token", read_then_revoked)
    assert (await _answers(cuow, token)).id == actor.id  # the in-flight request still gets its (old) answer
    monkeypatch.setattr(callers_module, "authenticate_token", real)
    await _refused(cuow, token)


async def test_ttl_zero_turns_the_cache_off(cuow: UnitOfWork, sql: Statements) -> None:
    cuow.db.callers.ttl = 0
    actor = await new_actor(cuow)
    token, _ = await create_api_token(cuow, actor)
    for credential in (token, _jwt(actor), token):
        before = sql.count
        await _answers(cuow, credential)
        assert sql.count > before
    assert len(cuow.db.callers) == 0
