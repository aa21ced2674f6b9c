"""The web host's live feed on Kafka: a reminder shows on the user's stream once its notification is stored
(by this process or another), once, and a burst of reminders is looked up in a few batched queries."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import sqlalchemy as sa

from domain.events import TOPIC_REMINDERS
from domain.uow import UnitOfWork
from runtime.wiring import workers
from runtime.wiring.workers import LiveFeed
from services.subscriptions import Subscription
from tests.services.conftest import reminder_due, signed_in
from web.live import LiveEvent, LiveHub


class ShownHub(LiveHub):
    """The real hub, also keeping what it sent to pages (each event once: the hub drops repeats by key)."""

    def __init__(self) -> None:
        super().__init__()
        self.shown: list[tuple[str, dict[str, Any]]] = []

    def publish(self, user_id: int, event: str, data: dict[str, Any], *, key: str | None = None) -> LiveEvent | None:
        live = super().publish(user_id, event, data, key=key)
        if live is not None:
            self.shown.append((event, data))
        return live


@pytest.fixture
def notifications(groups: dict[str, Subscription]) -> Subscription:
    return groups["notifications"]


@contextmanager
def counting_notification_queries(uow: UnitOfWork) -> Iterator[list[str]]:
    seen: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "FROM notification" in statement:
            seen.append(statement)

    sa.event.listen(uow.db.engine.sync_engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        sa.event.remove(uow.db.engine.sync_engine, "before_cursor_execute", count)


async def until(check: Any, timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not check():
            await asyncio.sleep(0.01)


async def test_a_reminder_stored_by_another_process_shows_once(uow: UnitOfWork, notifications: Subscription) -> None:
    hub, user = ShownHub(), await signed_in(uow)
    feed = LiveFeed(hub, uow)
    event = reminder_due(user.id, title="Water the plants")
    try:
        await feed.on_message(TOPIC_REMINDERS, event)  # the broadcast arrives before the store has committed
        await feed.on_message(TOPIC_REMINDERS, event)  # and is redelivered
        await asyncio.sleep(0.2)
        assert feed.waiting == 1 and hub.shown == []
        await notifications.deliver(event)  # the store (in another process) commits
        await until(lambda: feed.waiting == 0)
        await asyncio.sleep(0.1)
        assert [(kind, data["title"]) for kind, data in hub.shown] == [("notification", "Water the plants")]
    finally:
        await feed.close()


async def test_a_burst_of_reminders_is_looked_up_in_batches(uow: UnitOfWork, notifications: Subscription) -> None:
    hub, user = ShownHub(), await signed_in(uow)
    feed = LiveFeed(hub, uow)
    events = [reminder_due(user.id, task_id=n, title=f"task {n}") for n in range(1, 301)]
    try:
        with counting_notification_queries(uow) as queries:
            for event in events:
                await feed.on_message(TOPIC_REMINDERS, event)
            await asyncio.sleep(0.3)  # six polls' worth of waiting
            waited = len(queries)
            for event in events:
                await notifications.deliver(event)
            await until(lambda: feed.waiting == 0)
        assert waited <= 12, f"{waited} lookups for 300 waiting reminders in 0.3 s"
        assert sorted(data["task_id"] for _, data in hub.shown) == list(range(1, 301))
    finally:
        await feed.close()


async def test_a_reminder_never_stored_is_given_up(
    uow: UnitOfWork, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(workers, "NOTIFICATION_WAIT_SECONDS", 0.2)
    hub, user = LiveHub(), await signed_in(uow)
    feed = LiveFeed(hub, uow)
    try:
        await feed.on_message(TOPIC_REMINDERS, reminder_due(user.id))  # dead-lettered: never stored
        assert feed.waiting == 1
        await until(lambda: feed.waiting == 0)
    finally:
        await feed.close()
