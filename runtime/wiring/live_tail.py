"""The live stream across `todo-agent serve` workers: each worker's hub follows the outbox in the database.

With one worker the live hub is fed by the in-process bus, in the process whose relay delivers. With several,
only the lease holder's relay delivers, so every worker (the holder too: one path for all) tails what the relay
has sent: outbox rows whose `sent_at` is set, in the order they were sent. A task event goes to the task feed;
a reminder goes to the notification feed, which reads the notification the store kept while the relay delivered
it (so a row is only shown once it is sent). The hub drops an event it has shown already (web.live, by key).

The cursor is the newest `sent_at` seen. Rows are re-read from a little before it (`overlap`), because a relay
batch's `sent_at` is taken when its transaction starts and becomes visible when it commits; the event ids shown
within that window are remembered, so each event reaches the hub once. On PostgreSQL the outbox channel (NOTIFY
on every commit that writes events) wakes the tail; on SQLite it polls. While rows are waiting for the relay, the
tail looks again soon (10 ms, doubling up to the poll interval), so a change shows up just after it is sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlmodel import col, func, select

from domain.events import TOPIC_REMINDERS, TOPIC_TASKS
from domain.models import OutboxEvent
from domain.uow import UnitOfWork
from runtime.wiring.workers import Loop
from web.live import LiveHub
from web.live_feed import LiveHandler, notification_feed, task_changed_feed

if TYPE_CHECKING:
    from runtime.settings import Settings

logger = logging.getLogger(__name__)

OVERLAP = timedelta(seconds=2)  # how far before the cursor rows are looked at again
FIRST_FOLLOW_UP = 0.01  # seconds before looking again while rows wait for the relay
FETCH = 500  # payloads read per query

Listener = Callable[[Callable[[], None]], Coroutine[Any, Any, None]]  # calls its argument on each outbox notification


class LiveTail:
    """Feeds `hub` from the outbox rows the relay has sent since the tail started."""

    def __init__(
        self, uow: UnitOfWork, hub: LiveHub, *, poll_seconds: float = 0.2, idle_seconds: float | None = None,
        listen: Listener | None = None, overlap: timedelta = OVERLAP,
    ) -> None:
        self.uow = uow
        self.hub = hub
        self.poll_seconds = poll_seconds
        # With a listener the tail waits for a notification (or this long) when nothing is pending.
        self.idle_seconds = idle_seconds if idle_seconds is not None else (5.0 if listen else poll_seconds)
        self.listen = listen
        self.overlap = overlap
        self.feeds: dict[str, LiveHandler] = {
            TOPIC_TASKS: task_changed_feed(hub), TOPIC_REMINDERS: notification_feed(hub, uow),
        }
        self.since: datetime | None = None  # the newest sent_at seen (at first: when the tail started)
        self._shown: dict[str, datetime] = {}  # event id -> sent_at, for the rows in the overlap window
        self.pending = False  # whether rows were waiting for the relay at the last pass
        self._wakeup = asyncio.Event()

    def wake(self) -> None:
        """Look at the outbox now (the LISTEN loop calls this on every notification)."""
        self._wakeup.set()

    async def start(self) -> None:
        """Begin at the database's present: rows sent before are not news (a page that missed them resyncs)."""
        if self.since is None:
            async with self.uow.read() as tx:
                self.since = tx.now

    async def tail_once(self) -> int:
        """Feed the hub the rows sent since the cursor that it has not had yet; returns how many."""
        await self.start()
        assert self.since is not None
        floor = self.since - self.overlap
        sent_at = col(OutboxEvent.sent_at)
        async with self.uow.read() as tx:
            window = select(OutboxEvent.seq, OutboxEvent.event_id, OutboxEvent.sent_at).where(sent_at >= floor)
            recent = (await tx.session.exec(window.order_by(sent_at, col(OutboxEvent.seq)))).all()
            fresh = [(seq, event_id, at) for seq, event_id, at in recent if event_id not in self._shown]
            rows = await self._payloads(tx.session, [seq for seq, _, _ in fresh])
            waiting = select(func.min(OutboxEvent.seq)).where(sent_at.is_(None))
            self.pending = (await tx.session.exec(waiting)).one() is not None
        for _, event_id, at in fresh:
            assert at is not None
            self._shown[event_id] = at
            self.since = max(self.since, at)
        for seq, _, _ in fresh:
            topic, payload = rows[seq]
            await self._feed(topic, payload)
        floor = self.since - self.overlap
        self._shown = {event_id: at for event_id, at in self._shown.items() if at >= floor}
        return len(fresh)

    async def _payloads(self, session: Any, seqs: list[int | None]) -> dict[int | None, tuple[str, dict[str, Any]]]:
        found: dict[int | None, tuple[str, dict[str, Any]]] = {}
        for start in range(0, len(seqs), FETCH):
            chunk = seqs[start:start + FETCH]
            stmt = select(OutboxEvent.seq, OutboxEvent.topic, OutboxEvent.payload)
            stmt = stmt.where(col(OutboxEvent.seq).in_(chunk))
            for seq, topic, payload in (await session.exec(stmt)).all():
                found[seq] = (topic, payload)
        return found

    async def _feed(self, topic: str, event: dict[str, Any]) -> None:
        feed = self.feeds.get(topic)
        if feed is None:
            return
        try:
            await feed(event)
        except Exception:
            logger.exception("live tail: showing event %s failed", event.get("id"))

    async def run(self) -> None:
        """Tail until cancelled: after each wake-up, soon again while rows wait for the relay, else when idle."""
        async with asyncio.TaskGroup() as group:
            if self.listen is not None:
                group.create_task(self.listen(self.wake), name="live-tail-listener")
            group.create_task(self._loop(), name="live-tail")

    async def _loop(self) -> None:
        follow_up = FIRST_FOLLOW_UP
        while True:
            self._wakeup.clear()  # before the pass, so a notification during it triggers another one
            try:
                await self.tail_once()
            except Exception:
                logger.exception("live tail: reading the outbox failed")
                self.pending = False
            if self.pending:
                wait, follow_up = follow_up, min(follow_up * 2, self.poll_seconds)
            else:
                wait, follow_up = self.idle_seconds, FIRST_FOLLOW_UP
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait):
                    await self._wakeup.wait()


def live_tail_worker(settings: Settings, uow: UnitOfWork, hub: LiveHub) -> Loop:
    """The worker feeding `hub` from the outbox (woken by LISTEN on PostgreSQL, polling on SQLite)."""
    from runtime.wakeup import listen_for_outbox

    def listen(wake: Callable[[], None]) -> Coroutine[Any, Any, None]:
        return listen_for_outbox(settings.db_url, wake)

    tail = LiveTail(uow, hub, poll_seconds=settings.relay_poll_seconds,
                    listen=listen if uow.db.dialect == "postgresql" else None)
    return Loop("live-tail", tail.run)
