"""The runtime lease, on SQLite and PostgreSQL: each test uses a lease name of its own."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import col, select

from domain.models import Lease
from domain.uow import UnitOfWork
from runtime.lease import PRIORITY_CLIENT, PRIORITY_WEB, LeaseKeeper

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def name() -> str:
    return f"lease-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def keeper(uow: UnitOfWork, name: str) -> Callable[..., LeaseKeeper]:
    def make(holder: str, priority: int = PRIORITY_CLIENT, **timing: float) -> LeaseKeeper:
        return LeaseKeeper(uow, name, holder=holder, priority=priority, **timing)

    return make


async def lease_row(uow: UnitOfWork, name: str) -> Lease:
    async with uow.read() as tx:
        return (await tx.session.exec(select(Lease).where(Lease.name == name))).one()


async def test_a_free_lease_is_acquired_renewed_and_released(
    uow: UnitOfWork, name: str, keeper: Callable[..., LeaseKeeper], clock: Any
) -> None:
    clock.set(T0)
    web = keeper("web")

    assert await web.try_acquire() and (web.held, web.epoch) == (True, 1)
    clock.advance(seconds=5)
    assert await web.renew() and await web.still_held()
    assert (await lease_row(uow, name)).expires_at == T0 + timedelta(seconds=20)

    await web.release()
    assert not web.held and not await web.still_held()
    assert (await lease_row(uow, name)).expires_at == T0 + timedelta(seconds=5)


async def test_a_second_process_cannot_take_a_live_lease(keeper: Callable[..., LeaseKeeper], clock: Any) -> None:
    clock.set(T0)
    chat, mcp = keeper("chat"), keeper("mcp")
    await chat.try_acquire()
    clock.advance(seconds=14)

    assert not await mcp.try_acquire() and not mcp.held
    assert await chat.renew() and chat.held


async def test_an_expired_lease_is_taken_over_with_the_next_epoch(
    keeper: Callable[..., LeaseKeeper], clock: Any
) -> None:
    clock.set(T0)
    chat, mcp = keeper("chat"), keeper("mcp")
    await chat.try_acquire()
    clock.advance(seconds=15.001)

    assert await mcp.try_acquire() and mcp.epoch == 2
    assert not await chat.renew() and not chat.held and not await chat.still_held()
    assert not await chat.try_acquire()


async def test_a_released_lease_can_be_taken_at_once(keeper: Callable[..., LeaseKeeper], clock: Any) -> None:
    clock.set(T0)
    chat, mcp = keeper("chat"), keeper("mcp")
    await chat.try_acquire()
    await chat.release()

    assert await mcp.try_acquire() and mcp.epoch == 2


async def test_the_first_of_several_processes_starting_together_is_the_only_holder(
    keeper: Callable[..., LeaseKeeper],
) -> None:
    keepers = [keeper(f"process-{i}") for i in range(5)]

    taken = await asyncio.gather(*(k.try_acquire() for k in keepers))

    assert sorted(taken) == [False] * 4 + [True]
    assert [k.epoch for k in keepers if k.held] == [1]


async def test_a_higher_priority_process_takes_the_lease_from_a_lower_one_without_overlap(
    uow: UnitOfWork, name: str, keeper: Callable[..., LeaseKeeper], clock: Any
) -> None:
    clock.set(T0)
    chat, web, mcp = keeper("chat"), keeper("web", PRIORITY_WEB), keeper("mcp")
    await chat.try_acquire()

    assert not await web.try_acquire()  # asks chat to yield
    assert (await lease_row(uow, name)).wanted_by == "web"
    assert not await chat.renew()  # sees the request: stops its work, then releases
    assert not await web.try_acquire()  # not before chat has released
    await chat.release()
    assert not await mcp.try_acquire()  # reserved for web
    assert not await chat.try_acquire()

    assert await web.try_acquire() and web.epoch == 2
    row = await lease_row(uow, name)
    assert (row.holder, row.priority, row.wanted_by) == ("web", PRIORITY_WEB, None)
    assert [k.held for k in (chat, web, mcp)] == [False, True, False]


async def test_a_lower_priority_process_never_asks_a_higher_one_to_yield(
    uow: UnitOfWork, name: str, keeper: Callable[..., LeaseKeeper], clock: Any
) -> None:
    clock.set(T0)
    web, chat = keeper("web", PRIORITY_WEB), keeper("chat")
    await web.try_acquire()

    assert not await chat.try_acquire()
    assert (await lease_row(uow, name)).wanted_by is None
    assert await web.renew()


async def test_a_request_from_a_process_that_vanished_lapses_one_ttl_after_the_release(
    keeper: Callable[..., LeaseKeeper], clock: Any
) -> None:
    clock.set(T0)
    chat, web = keeper("chat"), keeper("web", PRIORITY_WEB)
    await chat.try_acquire()
    await web.try_acquire()  # then web dies
    assert not await chat.renew()
    await chat.release()

    clock.advance(seconds=14)
    assert not await chat.try_acquire()
    clock.advance(seconds=1)
    assert await chat.try_acquire() and chat.epoch == 2
    assert await chat.renew()


class Work:
    """Work that runs until cancelled, recording whether the lease was still ours when it stopped."""

    def __init__(self, keeper: LeaseKeeper, active: list[str] | None = None) -> None:
        self.keeper = keeper
        self.active = active if active is not None else []
        self.started = asyncio.Event()
        self.stopped = asyncio.Event()
        self.overlapped = False

    async def __call__(self) -> None:
        self.overlapped = self.overlapped or bool(self.active)
        self.active.append(self.keeper.holder)
        self.started.set()
        try:
            await asyncio.Event().wait()
        finally:
            self.active.remove(self.keeper.holder)
            self.stopped.set()


async def within(seconds: float, awaitable: Awaitable[Any]) -> None:
    async with asyncio.timeout(seconds):
        await awaitable


async def stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_run_while_leader_starts_the_work_on_acquiring_and_cancels_it_when_the_lease_is_lost(
    uow: UnitOfWork, name: str, keeper: Callable[..., LeaseKeeper]
) -> None:
    chat = keeper("chat", ttl=1.5, renew_every=0.05)
    work = Work(chat)
    running = asyncio.create_task(chat.run_while_leader(work))
    try:
        await within(3, work.started.wait())
        async with uow.write() as tx:  # another process takes the lease (as after a long pause of ours)
            steal = sa.update(Lease).where(col(Lease.name) == name)
            await tx.session.exec(steal.values(holder="intruder", epoch=Lease.epoch + 1,
                                               expires_at=tx.now + timedelta(minutes=1)))
        await within(3, work.stopped.wait())
        assert not chat.held
    finally:
        await stop(running)
    assert (await lease_row(uow, name)).holder == "intruder"


async def test_cancelling_run_while_leader_stops_the_work_and_then_releases_the_lease(
    uow: UnitOfWork, name: str, keeper: Callable[..., LeaseKeeper], clock: Any
) -> None:
    chat = keeper("chat", ttl=1.5, renew_every=0.05)
    held_when_work_stopped: list[bool] = []

    async def work() -> None:
        try:
            await asyncio.Event().wait()
        finally:
            held_when_work_stopped.append((await lease_row(uow, name)).expires_at > clock.now())

    running = asyncio.create_task(chat.run_while_leader(work))
    await within(3, _until(lambda: chat.held))
    await asyncio.sleep(0.1)
    await stop(running)

    assert held_when_work_stopped == [True]
    assert not chat.held and (await lease_row(uow, name)).expires_at <= clock.now()


async def test_a_renewal_that_cannot_finish_within_a_third_of_the_ttl_counts_as_a_loss(
    keeper: Callable[..., LeaseKeeper], monkeypatch: pytest.MonkeyPatch
) -> None:
    chat = keeper("chat", ttl=0.9, renew_every=0.05)
    work = Work(chat)
    running = asyncio.create_task(chat.run_while_leader(work))
    try:
        await within(3, work.started.wait())

        async def hangs() -> bool:
            await asyncio.sleep(60)
            return True

        monkeypatch.setattr(chat, "renew", hangs)
        await within(0.05 + 0.3 + 1, work.stopped.wait())
        assert not chat.held
    finally:
        await stop(running)


async def test_work_that_ends_by_itself_ends_the_run_and_releases_the_lease(
    uow: UnitOfWork, name: str, keeper: Callable[..., LeaseKeeper], clock: Any
) -> None:
    chat = keeper("chat", ttl=1.5, renew_every=0.05)

    async def short_work() -> None:
        await asyncio.sleep(0.1)

    await within(3, chat.run_while_leader(short_work))

    assert not chat.held and (await lease_row(uow, name)).expires_at <= clock.now()


async def test_a_higher_priority_runner_takes_over_from_a_lower_one_and_their_work_never_overlaps(
    keeper: Callable[..., LeaseKeeper],
) -> None:
    active: list[str] = []
    chat, web = keeper("chat", ttl=1.5, renew_every=0.05), keeper("web", PRIORITY_WEB, ttl=1.5, renew_every=0.05)
    chat_work, web_work = Work(chat, active), Work(web, active)
    chat_running = asyncio.create_task(chat.run_while_leader(chat_work))
    web_running = None
    try:
        await within(3, chat_work.started.wait())
        web_running = asyncio.create_task(web.run_while_leader(web_work))
        await within(3, web_work.started.wait())

        assert chat_work.stopped.is_set() and not web_work.overlapped and active == ["web"]
        await asyncio.sleep(0.3)
        assert web.held and not chat.held and active == ["web"]
    finally:
        await stop(chat_running)
        if web_running is not None:
            await stop(web_running)


async def _until(condition: Callable[[], bool]) -> None:
    while not condition():
        await asyncio.sleep(0.01)
