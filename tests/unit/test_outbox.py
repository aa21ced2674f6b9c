"""The transactional outbox and its relay, on SQLite and PostgreSQL.

Tests that count rows use a database of their own (emptied of outbox rows before each test); the others share
the suite's database and look only at rows of the users they created.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import col, select

from domain.db import Database
from domain.events import TASK_CREATED, TOPIC_TASKS
from domain.models import OutboxEvent
from domain.ports import OutboundMessage, Publisher
from domain.schemas import TaskCreate, TaskQuery
from domain.uow import UnitOfWork
from domain.usecases import Actor, create_task, list_tasks, outbox_status, prune_outbox
from domain.usecases.common import emit_change
from runtime.relay import Relay
from runtime.wakeup import listen_for_outbox
from services.transport import InProcessBus
from tests.conftest import new_actor
from tests.infra import (
    throwaway_database,
)

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


class Recorder(Publisher):
    """Keeps what it is given; refuses the first `failures` messages as a broker outage would."""

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.calls = 0
        self.messages: list[OutboundMessage] = []

    async def publish(self, message: OutboundMessage) -> None:
        self.calls += 1
        if self.failures > 0:
            self.failures -= 1
            raise ConnectionError("broker unreachable")
        self.messages.append(message)

    @property
    def ids(self) -> list[str]:
        return [m.event_id for m in self.messages]


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
async def own_database(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[
    Database
]:
    async with throwaway_database(request.param, Path(tmp_path_factory.mktemp("outbox"))) as db:
        yield db


@pytest.fixture
async def own_uow(own_database: Database, clock: Any) -> UnitOfWork:
    async with own_database.writer() as session, session.begin():
        await session.exec(sa.delete(OutboxEvent))
    return UnitOfWork(own_database, clock)


async def create_tasks(uow: UnitOfWork, actor: Actor, n: int) -> list[str]:
    """Create n tasks; the ids of their events, in order."""
    for i in range(n):
        await create_task(uow, actor, TaskCreate(title=f"task {i}"))
    return [row.event_id for row in await rows_of(uow, actor)]


async def rows_of(uow: UnitOfWork, actor: Actor) -> list[OutboxEvent]:
    async with uow.read() as tx:
        stmt = select(OutboxEvent).where(OutboxEvent.user_id == actor.id).order_by(col(OutboxEvent.seq))
        return list((await tx.session.exec(stmt)).all())


async def test_creating_a_task_writes_exactly_one_outbox_row_in_its_transaction(uow: UnitOfWork, actor: Actor) -> None:
    task = await create_task(uow, actor, TaskCreate(title="Buy milk"))

    [row] = await rows_of(uow, actor)
    assert (row.type, row.topic, row.key) == (TASK_CREATED, TOPIC_TASKS, str(actor.id))
    assert row.payload["subject"] == str(task.id) and row.payload["data"]["task"]["id"] == task.id
    assert row.created_at == task.created_at and row.sent_at is None and row.attempts == 0


async def test_a_use_case_failing_after_its_event_was_written_leaves_no_outbox_row(
    uow: UnitOfWork, actor: Actor, monkeypatch: pytest.MonkeyPatch
) -> None:
    def emit_then_fail(*args: Any, **kwargs: Any) -> None:
        emit_change(*args, **kwargs)
        raise RuntimeError("failure after the event was written")

    monkeypatch.setattr("domain.usecases.tasks.emit_change", emit_then_fail)
    with pytest.raises(RuntimeError):
        await create_task(uow, actor, TaskCreate(title="never"))

    assert await rows_of(uow, actor) == []
    assert (await list_tasks(uow, actor, TaskQuery())).count == 0


async def test_the_relay_publishes_pending_rows_in_order_and_marks_them_sent(own_uow: UnitOfWork, clock: Any) -> None:
    clock.set(T0)
    actor = await new_actor(own_uow)
    ids = await create_tasks(own_uow, actor, 3)
    publisher = Recorder()

    assert await Relay(own_uow, publisher).relay_once() == 3

    assert publisher.ids == ids
    assert all(m.topic == TOPIC_TASKS and m.key == str(actor.id) and m.event["id"] == m.event_id
               for m in publisher.messages)
    assert all(row.sent_at == T0 for row in await rows_of(own_uow, actor))
    assert await Relay(own_uow, publisher).relay_once() == 0
    assert publisher.ids == ids


async def test_a_relay_publishes_at_most_one_batch_per_pass(own_uow: UnitOfWork) -> None:
    actor = await new_actor(own_uow)
    ids = await create_tasks(own_uow, actor, 3)
    publisher = Recorder()
    relay = Relay(own_uow, publisher, batch=2)

    assert [await relay.relay_once(), await relay.relay_once()] == [2, 1]
    assert publisher.ids == ids


async def test_a_broker_outage_delays_events_with_growing_backoff_then_delivers_each_once_in_order(
    own_uow: UnitOfWork, clock: Any
) -> None:
    clock.set(T0)
    actor = await new_actor(own_uow)
    ids = await create_tasks(own_uow, actor, 3)
    publisher = Recorder(failures=3)
    relay = Relay(own_uow, publisher, base_backoff=1.0, max_backoff=30.0)

    delays = []
    for attempt in (1, 2, 3):
        assert await relay.relay_once() == 0
        first = (await rows_of(own_uow, actor))[0]
        assert first.attempts == attempt and first.last_error == "ConnectionError: broker unreachable"
        assert first.next_attempt_at is not None
        delays.append((first.next_attempt_at - clock.now()).total_seconds())
        calls = publisher.calls
        assert await relay.relay_once() == 0  # not due yet: neither it nor the rows behind it are tried
        assert publisher.calls == calls
        clock.set(first.next_attempt_at)

    assert all(base <= delay <= base * 1.1 for base, delay in zip([1.0, 2.0, 4.0], delays, strict=True)), delays
    assert await relay.relay_once() == 3
    assert await relay.relay_once() == 0
    assert publisher.ids == ids
    assert all(row.sent_at is not None for row in await rows_of(own_uow, actor))


async def test_the_retry_delay_never_exceeds_the_maximum_backoff(own_uow: UnitOfWork, clock: Any) -> None:
    clock.set(T0)
    actor = await new_actor(own_uow)
    await create_tasks(own_uow, actor, 1)
    relay = Relay(own_uow, Recorder(failures=10), base_backoff=1.0, max_backoff=5.0)

    for _ in range(5):
        await relay.relay_once()
        clock.advance(seconds=10)
    [row] = await rows_of(own_uow, actor)

    assert row.attempts == 5 and row.next_attempt_at == T0 + timedelta(seconds=40 + 5)


async def test_waking_the_relay_sends_a_committed_event_without_waiting_for_the_poll(own_uow: UnitOfWork) -> None:
    actor = await new_actor(own_uow)
    publisher = Recorder()
    relay = Relay(own_uow, publisher, poll_seconds=60)
    own_uow.on_events_committed(relay.wake)  # as build_runtime wires it
    running = asyncio.create_task(relay.run())
    try:
        await asyncio.sleep(0.1)  # the first pass finds nothing and waits for a wake-up
        [event_id] = await create_tasks(own_uow, actor, 1)
        async with asyncio.timeout(5):
            while publisher.ids != [event_id]:
                await asyncio.sleep(0.01)
    finally:
        running.cancel()
        with pytest.raises(asyncio.CancelledError):
            await running


async def test_on_postgresql_a_commit_in_another_process_wakes_the_relay(tmp_path: Path, clock: Any) -> None:
    """NOTIFY/LISTEN (SQLite has none: there the relay polls). The writer has a connection pool of its own, as
    another process would, and never calls the relay's wake()."""
    async with throwaway_database("postgres", tmp_path) as database:
        other = Database(database.url)
        publisher = Recorder()
        relay = Relay(UnitOfWork(database, clock), publisher, poll_seconds=60)
        woken = asyncio.Event()

        def wake() -> None:
            woken.set()
            relay.wake()

        tasks = [asyncio.create_task(relay.run()), asyncio.create_task(listen_for_outbox(database.url, wake))]
        try:
            async with asyncio.timeout(5):
                await woken.wait()  # listening (it wakes the relay once when it starts)
            await asyncio.sleep(0.1)
            writer = UnitOfWork(other, clock)
            [event_id] = await create_tasks(writer, await new_actor(writer), 1)
            async with asyncio.timeout(5):  # far less than the 60 s poll
                while publisher.ids != [event_id]:
                    await asyncio.sleep(0.01)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.wait(tasks)
            await other.dispose()


async def test_the_running_relay_carries_on_after_a_failed_pass(
    own_uow: UnitOfWork, caplog: pytest.LogCaptureFixture
) -> None:
    actor = await new_actor(own_uow)
    [event_id] = await create_tasks(own_uow, actor, 1)
    publisher = Recorder()
    checks = 0

    async def leader_check_fails_once() -> bool:
        nonlocal checks
        checks += 1
        if checks == 1:
            raise OSError("database unavailable")
        return True

    relay = Relay(own_uow, publisher, poll_seconds=0.01, still_leader=leader_check_fails_once)
    running = asyncio.create_task(relay.run())
    try:
        async with asyncio.timeout(5):
            while publisher.ids != [event_id]:
                await asyncio.sleep(0.01)
    finally:
        running.cancel()
        with pytest.raises(asyncio.CancelledError):
            await running
    assert "outbox relay pass failed (1 in a row)" in caplog.text


async def test_a_relay_that_is_no_longer_the_leader_publishes_nothing(own_uow: UnitOfWork) -> None:
    actor = await new_actor(own_uow)
    await create_tasks(own_uow, actor, 2)
    publisher = Recorder()

    async def not_leader() -> bool:
        return False

    assert await Relay(own_uow, publisher, still_leader=not_leader).relay_once() == 0
    assert publisher.calls == 0
    assert all(row.sent_at is None for row in await rows_of(own_uow, actor))


async def test_cancelling_the_relay_mid_batch_marks_what_was_already_published(own_uow: UnitOfWork) -> None:
    actor = await new_actor(own_uow)
    first, second = await create_tasks(own_uow, actor, 2)
    stalled = asyncio.Event()

    class StallsOnTheSecond(Recorder):
        async def publish(self, message: OutboundMessage) -> None:
            if self.messages:
                stalled.set()
                await asyncio.Event().wait()
            await super().publish(message)

    running = asyncio.create_task(Relay(own_uow, StallsOnTheSecond()).run())
    async with asyncio.timeout(5):
        await stalled.wait()
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running

    assert [row.sent_at is not None for row in await rows_of(own_uow, actor)] == [True, False]
    publisher = Recorder()
    assert await Relay(own_uow, publisher).relay_once() == 1
    assert publisher.ids == [second]


async def test_outbox_status_reports_pending_rows_their_age_and_the_blocking_error(
    own_uow: UnitOfWork, clock: Any
) -> None:
    clock.set(T0)
    actor = await new_actor(own_uow)
    await create_tasks(own_uow, actor, 2)
    clock.advance(seconds=90)

    status = await outbox_status(own_uow)
    assert (status.pending, status.oldest_pending_age_seconds, status.failing, status.last_error) == (2, 90, 0, None)

    await Relay(own_uow, Recorder(failures=1)).relay_once()
    status = await outbox_status(own_uow)
    assert (status.pending, status.failing, status.last_error) == (2, 1, "ConnectionError: broker unreachable")

    clock.advance(seconds=60)
    await Relay(own_uow, Recorder()).relay_once()
    status = await outbox_status(own_uow)
    assert (status.pending, status.oldest_pending_age_seconds, status.failing, status.last_error) == (0, None, 0, None)


async def test_pruning_removes_only_sent_rows_older_than_the_retention(own_uow: UnitOfWork, clock: Any) -> None:
    actor = await new_actor(own_uow)
    clock.set(T0)
    old_sent = await create_tasks(own_uow, actor, 2)
    await Relay(own_uow, Recorder()).relay_once()
    clock.set(T0 + timedelta(days=6))
    await create_tasks(own_uow, actor, 1)
    await Relay(own_uow, Recorder()).relay_once()
    clock.set(T0 - timedelta(days=1))
    await create_tasks(own_uow, actor, 1)  # written long ago and never sent
    clock.set(T0 + timedelta(days=8))

    assert await prune_outbox(own_uow, timedelta(days=7)) == 2

    remaining = await rows_of(own_uow, actor)
    assert len(remaining) == 2 and not {row.event_id for row in remaining} & set(old_sent)
    assert [row.sent_at for row in remaining] == [T0 + timedelta(days=6), None]


async def test_the_in_process_bus_hands_each_message_to_every_group_of_its_topic_in_order(
    own_uow: UnitOfWork,
) -> None:
    actor = await new_actor(own_uow)
    ids = await create_tasks(own_uow, actor, 2)
    seen: list[tuple[str, str]] = []
    bus = InProcessBus()
    for group in ("audit", "reminders"):
        bus.subscribe(TOPIC_TASKS, functools.partial(_note, seen, group), group=group)
    bus.subscribe("reminders", functools.partial(_note, seen, "other-topic"), group="web")

    assert await Relay(own_uow, bus).relay_once() == 2

    assert seen == [("audit", ids[0]), ("reminders", ids[0]), ("audit", ids[1]), ("reminders", ids[1])]


async def test_a_failing_in_process_handler_makes_the_relay_retry_the_whole_message(
    own_uow: UnitOfWork, clock: Any
) -> None:
    clock.set(T0)
    actor = await new_actor(own_uow)
    [event_id] = await create_tasks(own_uow, actor, 1)
    seen: list[tuple[str, str]] = []
    failures = [ConnectionError("audit store down")]

    async def flaky(event: dict[str, Any]) -> None:
        if failures:
            raise failures.pop()
        await _note(seen, "audit", event)

    bus = InProcessBus()
    bus.subscribe(TOPIC_TASKS, functools.partial(_note, seen, "reminders"), group="reminders")
    bus.subscribe(TOPIC_TASKS, flaky, group="audit")
    relay = Relay(own_uow, bus)

    assert await relay.relay_once() == 0
    [row] = await rows_of(own_uow, actor)
    assert row.last_error == "ConnectionError: audit store down"
    clock.advance(seconds=1)
    assert await relay.relay_once() == 1
    assert seen == [("reminders", event_id), ("reminders", event_id), ("audit", event_id)]


def test_a_group_subscribes_to_a_topic_only_once() -> None:
    bus = InProcessBus()
    bus.subscribe(TOPIC_TASKS, _ignore, group="audit")
    bus.subscribe("reminders", _ignore, group="audit")
    with pytest.raises(ValueError, match="already subscribes"):
        bus.subscribe(TOPIC_TASKS, _ignore, group="audit")


async def _note(seen: list[tuple[str, str]], group: str, event: dict[str, Any]) -> None:
    seen.append((group, event["id"]))


async def _ignore(event: dict[str, Any]) -> None:
    return None
