"""The embedded event transport: a publisher that awaits every handler subscribed to the message's topic."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from domain.ports import OutboundMessage, Publisher

Handler = Callable[[dict[str, Any]], Awaitable[None]]


class InProcessBus(Publisher):
    """Delivers each message to one handler per subscribed group, in subscription order.

    A handler's exception propagates, so the relay retries the whole message later: groups that had already
    succeeded see it again, which is why handlers are idempotent.
    """

    def __init__(self) -> None:
        self._subscribers: dict[str, list[tuple[str, Handler]]] = {}

    def subscribe(self, topic: str, handler: Handler, *, group: str) -> None:
        """Register `handler` as the consumer of `topic` for `group` (one handler per group and topic)."""
        subscribers = self._subscribers.setdefault(topic, [])
        if any(existing == group for existing, _ in subscribers):
            raise ValueError(f"group {group!r} already subscribes to topic {topic!r}")
        subscribers.append((group, handler))

    async def publish(self, message: OutboundMessage) -> None:
        """Await each subscribed handler of the message's topic in turn; the first failure propagates."""
        for group, handler in self._subscribers.get(message.topic, []):
            try:
                await handler(message.event)
            except Exception as exc:
                exc.add_note(f"in-process handler {group!r} of topic {message.topic!r}, event {message.event_id}")
                raise
