"""The live tail (runtime.wiring.live_tail): every `serve` worker's hub follows what the relay sent, on SQLite and
PostgreSQL. A database of the module's own: its outbox holds only these tests' events."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import col

from domain.db import Database
from domain.events import REMINDER_DUE, TASK_CREATED, ReminderDueV1
from domain.models import OutboxEvent
from domain.uow import UnitOfWork
from runtime.bootstrap import build_runtime, close_runtime
from runtime.lease import PRIORITY_WEB
from runtime.relay import Relay
from runtime.settings import Settings
from runtime.wiring.inprocess import LIVE_GROUP, wire_inprocess
from runtime.wiring.live_tail import LiveTail
from services.transport import InProcessBus
from services.transport.inprocess import Handler as BusHandler
from tests.conftest import new_actor, new_task
from tests.infra import throwaway_database
from web.live import NOTIFICATION, TASK_CHANGED, LiveEvent, LiveHub, LiveSubscription


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
async def own_database(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[
    Database
]:
    async with throwaway_database(request.param, Path(tmp_path_factory.mktemp("tail"))) as db:
        yield db


@pytest.fixture
def own_uow(own_database: Database) -> UnitOfWork:
    return UnitOfWork(own_database)


def relay_of(uow: UnitOfWork) -> Relay:
    """The lease holder's relay over the in-process services (the notification store among them), without the
    in-process live feed: the tails feed the hubs."""
    bus = InProcessBus()
    wire_inprocess(bus, uow, LiveHub(), live_feed=False)
    return Relay(uow, bus)


async def drain(subscription: LiveSubscription) -> list[LiveEvent]:
    """What the subscription holds now (it is ended to read it)."""
    subscription.end()
    return [event async for event in subscription]


async def test_a_task_event_reaches_the_hub_once_it_is_sent_and_only_once(own_uow: UnitOfWork) -> None:
    actor = await new_actor(own_uow)
    hub = LiveHub()
    tail = LiveTail(own_uow, hub)
    await tail.start()
    page = hub.subscribe(actor.id)
    task = await new_task(own_uow, actor, "Water the plants")
    assert await tail.tail_once() == 0 and tail.pending  # written, not yet sent: not shown
    assert await relay_of(own_uow).relay_once() >= 1
    assert await tail.tail_once() >= 1 and not tail.pending
    assert await tail.tail_once() == 0  # read again within the overlap, not shown again
    [event] = await drain(page)
    assert (event.event, event.data["id"], event.data["type"]) == (TASK_CHANGED, task.id, TASK_CREATED)


async def test_every_workers_tail_sees_every_event(own_uow: UnitOfWork) -> None:
    actor = await new_actor(own_uow)
    hubs = [LiveHub(), LiveHub()]
    tails = [LiveTail(own_uow, hub) for hub in hubs]
    for tail in tails:
        await tail.start()
    pages = [hub.subscribe(actor.id) for hub in hubs]
    tasks = [await new_task(own_uow, actor, f"Task {n}") for n in range(3)]
    await relay_of(own_uow).relay_once()
    for tail in tails:
        await tail.tail_once()
    for page in pages:
        assert [event.data["id"] for event in await drain(page)] == [task.id for task in tasks]


async def test_a_reminder_shows_the_notification_the_store_kept(own_uow: UnitOfWork) -> None:
    actor = await new_actor(own_uow)
    hub = LiveHub()
    tail = LiveTail(own_uow, hub)
    await tail.start()
    page = hub.subscribe(actor.id)
    due = datetime.now(UTC) + timedelta(minutes=15)
    data = ReminderDueV1(user_id=actor.id, task_id=41, title="Call mum", due_at=due, due_date=None,
                         offset_minutes=15, scheduled_for=due - timedelta(minutes=15), late=False)
    async with own_uow.write() as tx:
        tx.emit(REMINDER_DUE, data, user_id=actor.id, subject="41")
    await relay_of(own_uow).relay_once()
    await tail.tail_once()
    [event] = await drain(page)
    assert event.event == NOTIFICATION
    assert (event.data["task_id"], event.data["title"], event.data["offset_minutes"]) == (41, "Call mum", 15)


async def test_rows_sent_before_the_tail_started_are_not_news(own_uow: UnitOfWork) -> None:
    actor = await new_actor(own_uow)
    await new_task(own_uow, actor)
    await relay_of(own_uow).relay_once()
    hub = LiveHub()
    tail = LiveTail(own_uow, hub, overlap=timedelta(0))
    page = hub.subscribe(actor.id)
    await tail.start()
    assert await tail.tail_once() == 0
    assert await drain(page) == []


async def test_a_batch_that_commits_after_a_later_one_is_still_shown(own_uow: UnitOfWork) -> None:
    """A relay batch's sent_at is taken when its transaction starts: a row may become visible with a sent_at
    before the cursor. Within the overlap it is shown (and the rows shown already are not shown again)."""
    actor = await new_actor(own_uow)
    hub = LiveHub()
    tail = LiveTail(own_uow, hub)
    await tail.start()
    page = hub.subscribe(actor.id)
    first = await new_task(own_uow, actor, "First")
    await relay_of(own_uow).relay_once()
    await tail.tail_once()
    cursor = tail.since
    assert cursor is not None
    late = await new_task(own_uow, actor, "Late")
    async with own_uow.write() as tx:  # sent "before" the first, as a batch committing late would be
        stmt = sa.update(OutboxEvent).where(col(OutboxEvent.sent_at).is_(None))
        await tx.session.exec(stmt.values(sent_at=cursor - timedelta(seconds=1)))
    assert await tail.tail_once() == 1
    assert [event.data["id"] for event in await drain(page)] == [first.id, late.id]


class GroupsBus(InProcessBus):
    """The in-process bus, noting the consumer groups subscribed."""

    def __init__(self) -> None:
        super().__init__()
        self.groups: list[str] = []

    def subscribe(self, topic: str, handler: BusHandler, **options: Any) -> None:
        self.groups.append(options["group"])
        super().subscribe(topic, handler, **options)


@pytest.mark.parametrize("live_feed", [True, False])
def test_without_the_live_feed_the_bus_has_no_live_consumers(own_uow: UnitOfWork, live_feed: bool) -> None:
    bus = GroupsBus()
    wire_inprocess(bus, own_uow, LiveHub(), live_feed=live_feed)
    assert (LIVE_GROUP in bus.groups) is live_feed
    assert "audit" in bus.groups  # the services are there either way


async def test_serve_with_several_workers_runs_a_live_tail(own_database: Database, tmp_path: Path) -> None:
    base = Settings(database_url=own_database.url, data_dir=tmp_path, secret_key="s" * 40)
    for workers, tailed in ((1, False), (2, True)):
        rt = build_runtime(base.model_copy(update={"web_workers": workers}), role="web", priority=PRIORITY_WEB)
        try:
            assert ("live-tail" in [getattr(w, "name", None) for w in rt.workers]) is tailed
        finally:
            await close_runtime(rt)


def test_workers_default_to_one_and_to_every_core_in_production(tmp_path: Path) -> None:
    assert Settings(data_dir=tmp_path).worker_count == 1
    assert Settings(data_dir=tmp_path, env="test").worker_count == 1
    assert Settings(data_dir=tmp_path, env="production").worker_count == len(os.sched_getaffinity(0))
    assert Settings(data_dir=tmp_path, env="production", web_workers=3).worker_count == 3
    assert Settings(data_dir=tmp_path, env="production", bus="dapr").worker_count == 1
    assert Settings(data_dir=tmp_path, web_workers=2).worker_count == 2
