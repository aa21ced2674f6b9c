"""Ports the domain depends on; adapters live in services/ and runtime/."""

from __future__ import annotations

import abc
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from domain.uow import Tx


@dataclass(frozen=True)
class OutboundMessage:
    """One CloudEvent on its way to a topic, keyed for partitioning (the user id)."""

    topic: str
    key: str
    event_id: str
    event: dict[str, Any]


class Publisher(abc.ABC):
    """Moves outbox messages to the event transport (in-process, Kafka, Dapr)."""

    @abc.abstractmethod
    async def publish(self, message: OutboundMessage) -> None:
        """Deliver one message or raise; the relay retries with backoff."""

    async def close(self) -> None:  # noqa: B027 - optional hook for adapters holding connections
        """Release connections; the default holds none."""


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    """The wall clock, in UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)


Pruner = Callable[["Tx", datetime], Awaitable[int]]
"""Deletes a table's rows older than the cutoff in the given transaction; returns how many (retention)."""
