"""The live hub: per-user fan-out of `task.changed`, `project.changed` and `notification` events to open pages,
with replay.

Event ids grow monotonically, across restarts too (they start at the start time in microseconds), so a page can
resume with `Last-Event-ID`. Each user keeps a bounded replay buffer; a page that asks to resume from before what
the hub still holds (evicted, or before this process started) gets one `resync` event and should reload.
The hub lives in one process: it sees the events that process's transport hands it (with `serve --workers N`,
every worker's hub follows the outbox: runtime.wiring.live_tail). Each hub also marks its ids with a random tag
(the id modulo ID_TAGS), so a page that reconnects to another worker with an id of the first one gets `resync`
instead of a replay computed against another hub's numbering (which could silently skip events).

Limits: a user has at most `per_user` open subscriptions; one more ends the oldest, which gets a last `closed`
event saying why (the page reconnects later). The process holds at most `max_streams`: beyond that `admit` raises
StreamsFull (the route answers 503 with Retry-After), so one account cannot exhaust the file descriptors.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections import OrderedDict, deque
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from services.settings import ServiceSettings

TASK_CHANGED = "task.changed"
PROJECT_CHANGED = "project.changed"
NOTIFICATION = "notification"
RESYNC = "resync"
CLOSED = "closed"
FULL_RETRY_SECONDS = 30  # what a refused stream is told to wait
ID_TAGS = 4096  # an id is (n * ID_TAGS + the hub's tag): start time in microseconds * 4096 stays below 2**63


class StreamsFull(Exception):
    """The process holds as many open streams as it may."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"this server holds its maximum of {limit} live streams; try again in {FULL_RETRY_SECONDS} s")
        self.retry_after = FULL_RETRY_SECONDS


@dataclass(frozen=True)
class LiveEvent:
    """One event for one user's pages."""

    id: int
    event: str
    data: dict[str, Any]


class LiveHub:
    """Publishes events to the subscriptions of their user and keeps the last `buffer` per user for resuming."""

    def __init__(
        self, *, buffer: int = 200, queue: int = 1000, ping_seconds: float = 15.0, max_users: int = 10_000,
        per_user: int = 10, max_streams: int = 2000,
    ) -> None:
        self.per_user = per_user
        self.max_streams = max_streams
        self._open = 0
        self.buffer = buffer
        self.queue = queue
        self.ping_seconds = ping_seconds
        self.max_users = max_users
        self.closed = False
        self.tag = secrets.randbelow(ID_TAGS)  # which hub made an id (1 in 4096 that two workers share one)
        self._start = (time.time_ns() // 1000) * ID_TAGS + self.tag
        self._last = self._start - ID_TAGS
        self._buffers: OrderedDict[int, deque[LiveEvent]] = OrderedDict()
        self._evicted: dict[int, int] = {}  # user -> id of the newest event dropped from their buffer
        self._subscriptions: dict[int, dict[LiveSubscription, None]] = {}  # per user, oldest first
        self._seen: OrderedDict[str, None] = OrderedDict()  # keys published recently: redelivery is not news

    def publish(self, user_id: int, event: str, data: dict[str, Any], *, key: str | None = None) -> LiveEvent | None:
        """Send an event to the user's open pages; None if `key` was published already (a redelivery)."""
        if key is not None and not self._first_time(f"{event}:{key}"):
            return None
        self._last += ID_TAGS
        live = LiveEvent(id=self._last, event=event, data=data)
        self._remember(user_id, live)
        for subscription in list(self._subscriptions.get(user_id, ())):
            subscription.push(live)
        return live

    @classmethod
    def from_settings(cls, settings: ServiceSettings) -> LiveHub:
        """A hub with the buffer, heartbeat and stream limits of the services' settings."""
        return cls(buffer=settings.live_buffer, ping_seconds=settings.stream_ping_seconds,
                   per_user=settings.streams_per_user, max_streams=settings.streams_max)

    def admit(self) -> None:
        """Raise StreamsFull when the process may open no more streams (checked before a stream's response)."""
        if self._open >= self.max_streams:
            raise StreamsFull(self.max_streams)

    def subscribe(self, user_id: int, *, last_event_id: int | None = None) -> LiveSubscription:
        """A subscription to the user's events after `last_event_id` (None: only new events); the user's oldest
        subscription is closed when this one is over `per_user`."""
        subscription = LiveSubscription(self, user_id, self._backlog(user_id, last_event_id))
        if self.closed:
            subscription.end()
            return subscription
        if self._open >= self.max_streams:  # full after `admit`: opened concurrently
            subscription.finish(self._closed_event("this server holds its maximum of live streams"))
            return subscription
        mine = self._subscriptions.setdefault(user_id, {})
        while len(mine) >= self.per_user:
            oldest = next(iter(mine))
            oldest.finish(self._closed_event(f"more than {self.per_user} live streams are open; this was the oldest"))
        self._subscriptions.setdefault(user_id, mine)[subscription] = None  # evicting may have dropped `mine`
        self._open += 1
        return subscription

    def _closed_event(self, reason: str) -> LiveEvent:
        return LiveEvent(id=self._last, event=CLOSED, data={"reason": reason})

    def close(self) -> None:
        """End every subscription (server shutdown); later subscriptions end at once."""
        self.closed = True
        for subscriptions in list(self._subscriptions.values()):
            for subscription in list(subscriptions):
                subscription.end()

    def subscribers(self, user_id: int) -> int:
        """How many pages of the user are listening."""
        return len(self._subscriptions.get(user_id, ()))

    def streams(self) -> int:
        """How many subscriptions are open in the process."""
        return self._open

    def _backlog(self, user_id: int, last_event_id: int | None) -> list[LiveEvent]:
        if last_event_id is None or last_event_id == self._last:
            return []
        foreign = last_event_id % ID_TAGS != self.tag or last_event_id > self._last  # another hub's, or a worker's
        if foreign or last_event_id < max(self._start - ID_TAGS, self._evicted.get(user_id, 0)):
            return [LiveEvent(id=self._last, event=RESYNC, data={"reason": "events were missed; reload"})]
        return [e for e in self._buffers.get(user_id, ()) if e.id > last_event_id]

    def _remember(self, user_id: int, live: LiveEvent) -> None:
        buffer = self._buffers.get(user_id)
        if buffer is None:
            buffer = self._buffers[user_id] = deque()
            if len(self._buffers) > self.max_users:  # forget the user idle longest: they will resync
                gone, dropped = self._buffers.popitem(last=False)
                if dropped:
                    self._evicted[gone] = dropped[-1].id
        self._buffers.move_to_end(user_id)
        buffer.append(live)
        if len(buffer) > self.buffer:
            self._evicted[user_id] = buffer.popleft().id

    def _first_time(self, key: str) -> bool:
        if key in self._seen:
            return False
        self._seen[key] = None
        if len(self._seen) > 10 * self.buffer + 1000:
            self._seen.popitem(last=False)
        return True

    def unsubscribe(self, subscription: LiveSubscription) -> None:
        """Stop sending to a subscription."""
        subscriptions = self._subscriptions.get(subscription.user_id)
        if subscriptions is not None and subscription in subscriptions:
            del subscriptions[subscription]
            self._open -= 1
            if not subscriptions:
                del self._subscriptions[subscription.user_id]


class LiveSubscription:
    """One page's queue of events; iterating ends when the hub closes, the page goes or it falls too far behind."""

    def __init__(self, hub: LiveHub, user_id: int, backlog: list[LiveEvent]) -> None:
        self.hub = hub
        self.user_id = user_id
        self._items: deque[LiveEvent] = deque(backlog)
        self._ready = asyncio.Event()
        self._ended = False
        if backlog:
            self._ready.set()

    def push(self, live: LiveEvent) -> None:
        """Queue an event; a page too far behind is ended (it resumes from its Last-Event-ID)."""
        if self._ended:
            return
        if len(self._items) >= self.hub.queue:
            self.end()
            return
        self._items.append(live)
        self._ready.set()

    def finish(self, last: LiveEvent) -> None:
        """Stop after the queued events and `last` (which says why)."""
        if not self._ended:
            self._items.append(last)
        self.end()

    def end(self) -> None:
        """Stop after the queued events."""
        self._ended = True
        self._ready.set()
        self.hub.unsubscribe(self)

    def close(self) -> None:
        """Stop now and drop what is queued (the page went away)."""
        self._items.clear()
        self.end()

    def __aiter__(self) -> AsyncIterator[LiveEvent]:
        return self._events()

    async def _events(self) -> AsyncIterator[LiveEvent]:
        while True:
            while self._items:
                yield self._items.popleft()
            if self._ended:
                return
            self._ready.clear()
            await self._ready.wait()
