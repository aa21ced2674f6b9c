"""Concurrent misses of one credential share one verification (CallerCache.shared): what the open-loop benchmark
found when an entry expired under load, hundreds of requests each verifying the same API token and queueing its
`last_used_at` write behind SQLite's write lock, until some waited past the 5 s budget and answered 500."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from domain.db import Database
from domain.errors import AuthenticationFailed
from domain.uow import UnitOfWork
from domain.usecases import Actor, authenticate_bearer, create_api_token, revoke_token
from domain.usecases import callers as callers_module
from tests.conftest import Clock, new_actor

SECRET = "s" * 32


@pytest.fixture
async def cuow(db_url: str, clock: Clock) -> AsyncIterator[UnitOfWork]:
    database = Database(db_url)  # a cache of this test's own
    database.callers.ttl = 5.0
    yield UnitOfWork(database, clock)
    await database.dispose()


class Gate:
    """Wraps authenticate_token: counts calls and holds each until released, so callers pile up behind it."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls = 0
        self.release = asyncio.Event()
        self.entered = asyncio.Event()
        self.real = callers_module.authenticate_token
        monkeypatch.setattr(callers_module, "authenticate_token", self.verify)

    async def verify(self, uow: UnitOfWork, token: str) -> Actor:
        self.calls += 1
        self.entered.set()
        await self.release.wait()
        return await self.real(uow, token)


async def _answers(uow: UnitOfWork, token: str) -> Actor:
    return await authenticate_bearer(uow, SECRET, token)


async def test_fifty_concurrent_misses_verify_once_and_all_get_the_caller(
    cuow: UnitOfWork, monkeypatch: pytest.MonkeyPatch
) -> None:
    actor = await new_actor(cuow, "Europe/Berlin")
    token, _ = await create_api_token(cuow, actor)
    gate = Gate(monkeypatch)
    calls = [asyncio.create_task(_answers(cuow, token)) for _ in range(50)]
    await gate.entered.wait()
    await asyncio.sleep(0.01)  # every other call is now waiting
    gate.release.set()
    answers = await asyncio.gather(*calls)
    assert gate.calls == 1
    assert {a.id for a in answers} == {actor.id} and answers[0].timezone == "Europe/Berlin"


async def test_a_refusal_is_shared_by_the_calls_waiting_for_it(
    cuow: UnitOfWork, monkeypatch: pytest.MonkeyPatch
) -> None:
    actor = await new_actor(cuow)
    token, row = await create_api_token(cuow, actor)
    await revoke_token(cuow, row.id, actor)
    gate = Gate(monkeypatch)
    calls = [asyncio.create_task(_answers(cuow, token)) for _ in range(5)]
    await gate.entered.wait()
    gate.release.set()
    outcomes = await asyncio.gather(*calls, return_exceptions=True)
    assert gate.calls == 1 and all(isinstance(o, AuthenticationFailed) for o in outcomes)
    assert len(cuow.db.callers) == 0  # and a refusal is still not remembered


async def test_when_the_first_caller_goes_away_the_others_verify_themselves(
    cuow: UnitOfWork, monkeypatch: pytest.MonkeyPatch
) -> None:
    actor = await new_actor(cuow)
    token, _ = await create_api_token(cuow, actor)
    gate = Gate(monkeypatch)
    leader = asyncio.create_task(_answers(cuow, token))
    await gate.entered.wait()
    followers = [asyncio.create_task(_answers(cuow, token)) for _ in range(3)]
    await asyncio.sleep(0.01)
    leader.cancel()  # its client disconnected
    await asyncio.sleep(0.01)
    gate.release.set()
    answers = await asyncio.gather(*followers)
    assert leader.cancelled() and {a.id for a in answers} == {actor.id}
    assert gate.calls == 4  # the leader's, then each follower's own


async def test_a_call_arriving_after_a_revocation_does_not_take_the_earlier_answer(
    cuow: UnitOfWork, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The leader read the token before the revocation committed; a call that joins its flight after the
    revocation must not be answered with that read: it verifies again and is refused."""
    actor = await new_actor(cuow)
    token, row = await create_api_token(cuow, actor)
    gate = Gate(monkeypatch)
    read_before = asyncio.Event()
    real = gate.real

    async def reads_then_waits(uow: UnitOfWork, credential: str) -> Actor:
        gate.calls += 1
        found = await real(uow, credential)  # read while the token is valid
        read_before.set()
        await gate.release.wait()
        return found

    monkeypatch.setattr(callers_module, "authenticate_token", reads_then_waits)
    leader = asyncio.create_task(_answers(cuow, token))
    await read_before.wait()
    await revoke_token(cuow, row.id, actor)  # commits and invalidates the user in this process
    late = asyncio.create_task(_answers(cuow, token))
    await asyncio.sleep(0.01)
    gate.release.set()
    assert (await leader).id == actor.id  # the request in flight keeps its answer, as before
    with pytest.raises(AuthenticationFailed):
        await late
    assert gate.calls == 2
