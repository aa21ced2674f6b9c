"""The embedded event transport: a publisher that awaits every handler subscribed to the message's topic."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from domain.ports import OutboundMessage, Publisher

Handler = Callable[[dict[str, Any]], Awaitable[None]]
BatchHandler = Callable[[list[dict[str, Any]]], Awaitable[None]]
"""Handles several events of its topic in order; raises BatchFailed(done) when only the first `done` were handled."""


class BatchFailed(Exception):
    """Only the first `done` messages of a batch were handled (by every group); `cause` is why the next one was not."""

    def __init__(self, done: int, cause: BaseException) -> None:
        super().__init__(f"{type(cause).__name__}: {cause}")
        self.done = done
        self.cause = cause


class InProcessBus(Publisher):
    """Delivers each message to one handler per subscribed group, in subscription order.

    A handler's exception propagates, so the relay retries the whole message later: groups that had already
    succeeded see it again, which is why handlers are idempotent. `publish_batch` hands each group all the batch's
    messages of its topic at once (its batch handler, if it has one: e.g. one transaction for them all).
    """

    def __init__(self) -> None:
        self._subscribers: dict[str, list[tuple[str, Handler, BatchHandler | None]]] = {}

    def subscribe(self, topic: str, handler: Handler, *, group: str, batch: BatchHandler | None = None) -> None:
        """Register `handler` as the consumer of `topic` for `group` (one handler per group and topic), and `batch`
        as its form for several messages (without one, a batch is handed to `handler` one message at a time)."""
        subscribers = self._subscribers.setdefault(topic, [])
        if any(existing == group for existing, _, _ in subscribers):
            raise ValueError(f"group {group!r} already subscribes to topic {topic!r}")
        subscribers.append((group, handler, batch))

    async def publish(self, message: OutboundMessage) -> None:
        """Await each subscribed handler of the message's topic in turn; the first failure propagates."""
        for group, handler, _ in self._subscribers.get(message.topic, []):
            try:
                await handler(message.event)
            except Exception as exc:
                exc.add_note(f"in-process handler {group!r} of topic {message.topic!r}, event {message.event_id}")
                raise

    async def publish_batch(self, messages: Sequence[OutboundMessage]) -> None:
        """Deliver `messages` (in order) to every group of their topics, a group's messages all at once.

        Raises BatchFailed(done) when a group could not handle message `done` (the first such, over all groups):
        the messages before it were handled by every group; from it on, they are to be published again. When no
        group has a batch form, each message goes to every group in turn (as `publish` does), nothing being gained."""
        if not any(batch for subscribers in self._subscribers.values() for _, _, batch in subscribers):
            for done, message in enumerate(messages):
                try:
                    await self.publish(message)
                except Exception as exc:
                    raise BatchFailed(done, exc) from exc
            return
        limit, failure = len(messages), None
        for topic, subscribers in self._subscribers.items():
            for group, handler, batch in subscribers:
                indices = [i for i in range(limit) if messages[i].topic == topic]
                if not indices:
                    break
                events = [messages[i].event for i in indices]
                try:
                    await _run(handler, batch, events)
                except BatchFailed as exc:
                    failed = indices[min(exc.done, len(indices) - 1)]
                    exc.cause.add_note(f"in-process handler {group!r} of topic {topic!r}, "
                                       f"event {messages[failed].event_id}")
                    limit, failure = failed, exc.cause
        if failure is not None:
            raise BatchFailed(limit, failure)


async def _run(handler: Handler, batch: BatchHandler | None, events: list[dict[str, Any]]) -> None:
    if batch is not None:
        try:
            await batch(events)
        except BatchFailed:
            raise
        except Exception as exc:
            raise BatchFailed(0, exc) from exc
        return
    for done, event in enumerate(events):
        try:
            await handler(event)
        except Exception as exc:
            raise BatchFailed(done, exc) from exc
