"""The outbox relay: publishes pending outbox rows in seq order with retry and backoff, and marks them sent."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import random
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import KW_ONLY, dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import col, select

from domain.models import OutboxEvent
from domain.ports import OutboundMessage, Publisher
from domain.uow import UnitOfWork
from runtime.tasks import wait_through_cancellation
from services.transport.inprocess import BatchFailed, InProcessBus

logger = logging.getLogger(__name__)

MAX_ERROR_LENGTH = 500
JITTER = 0.1  # up to +10% on a retry delay, so relays restarted together do not retry in lockstep


@dataclass(frozen=True)
class _Failure:
    seq: int
    attempts: int
    error: str
    next_attempt_at: datetime


@dataclass(eq=False)
class Relay:
    """Moves outbox rows to a publisher in seq order; a row waiting for its retry holds back the rows after it.
    `still_leader` is the lease's fence: the relay never publishes after losing it."""

    uow: UnitOfWork
    publisher: Publisher
    _: KW_ONLY
    batch: int = 100
    poll_seconds: float = 0.2
    base_backoff: float = 0.5  # seconds before a failed row's first retry; doubled per attempt up to max_backoff
    max_backoff: float = 30.0
    still_leader: Callable[[], Awaitable[bool]] | None = None
    # After a wake-up, wait this long before the pass: the commits of a burst are taken in one pass, not one each.
    linger_seconds: float = 0.002
    _wakeup: asyncio.Event = field(default_factory=asyncio.Event, init=False, repr=False)

    def wake(self) -> None:
        """Make the running relay look at the outbox now: the composition root registers it to run after each local
        commit that wrote events (UnitOfWork.on_events_committed), and the PostgreSQL LISTEN loop calls it too."""
        self._wakeup.set()

    async def run(self) -> None:
        """Relay until cancelled, after every wake() and every poll_seconds; a batch in flight is completed."""
        failures = 0  # consecutive failed passes (database unavailable): poll less often meanwhile
        while True:
            self._wakeup.clear()  # before the pass, so a commit during the pass triggers another one
            try:
                sent = await self.relay_once()
                failures = 0
            except Exception:
                failures += 1
                logger.exception("outbox relay pass failed (%d in a row)", failures)
                sent = 0
            if sent < self.batch:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(min(self.max_backoff, self.poll_seconds * 2**failures)):
                        await self._wakeup.wait()
                        if self.linger_seconds > 0:
                            await asyncio.sleep(self.linger_seconds)

    async def relay_once(self) -> int:
        """Publish the due pending rows (up to `batch`) in seq order and mark them sent; returns how many."""
        rows = await self._due_rows()
        if not rows or (self.still_leader is not None and not await self.still_leader()):
            return 0
        published: list[int] = []
        failure: _Failure | None = None
        try:
            failure = await self._publish(rows, published)
        finally:
            # Even when cancelled mid-batch: record what went out, or it would be published twice.
            await _finish(self._record(published, failure))
        return len(published)

    async def _due_rows(self) -> list[OutboxEvent]:
        async with self.uow.read() as tx:
            stmt = (
                select(OutboxEvent)
                .where(col(OutboxEvent.sent_at).is_(None))
                .order_by(col(OutboxEvent.seq))
                .limit(self.batch)
            )
            rows = (await tx.session.exec(stmt)).all()
            now = tx.now
        # The first row still waiting for its retry holds back every later one: order is kept.
        return list(itertools.takewhile(lambda r: r.next_attempt_at is None or r.next_attempt_at <= now, rows))

    async def _publish(self, rows: Sequence[OutboxEvent], published: list[int]) -> _Failure | None:
        if isinstance(self.publisher, InProcessBus) and len(rows) > 1:
            return await self._publish_batch(self.publisher, rows, published)
        for row in rows:
            assert row.seq is not None
            message = OutboundMessage(topic=row.topic, key=row.key, event_id=row.event_id, event=row.payload)
            try:
                await self.publisher.publish(message)
            except Exception as exc:
                return self._failure(row, exc)
            published.append(row.seq)
        return None

    async def _publish_batch(
        self, publisher: InProcessBus, rows: Sequence[OutboxEvent], published: list[int]
    ) -> _Failure | None:
        """Hand the in-process bus all the rows at once (each consumer group takes them in one transaction)."""
        messages = [OutboundMessage(topic=r.topic, key=r.key, event_id=r.event_id, event=r.payload) for r in rows]
        seqs = [r.seq for r in rows if r.seq is not None]
        try:
            await publisher.publish_batch(messages)
        except BatchFailed as exc:
            published.extend(seqs[: exc.done])
            return self._failure(rows[exc.done], exc.cause if isinstance(exc.cause, Exception) else exc)
        except Exception as exc:
            return self._failure(rows[0], exc)
        published.extend(seqs)
        return None

    def _failure(self, row: OutboxEvent, exc: Exception) -> _Failure:
        assert row.seq is not None
        delay = min(self.max_backoff, self.base_backoff * 2**row.attempts * (1 + random.uniform(0, JITTER)))
        error = f"{type(exc).__name__}: {exc}"[:MAX_ERROR_LENGTH]
        attempts = row.attempts + 1
        logger.warning(
            "publishing outbox event %s failed (attempt %d), next try in %.2fs: %s",
            row.event_id, attempts, delay, error,
            extra={"event_id": row.event_id, "attempts": attempts, "topic": row.topic},
        )
        next_at = self.uow.clock.now() + timedelta(seconds=delay)
        return _Failure(seq=row.seq, attempts=attempts, error=error, next_attempt_at=next_at)

    async def _record(self, published: list[int], failure: _Failure | None) -> None:
        if not published and failure is None:
            return
        async with self.uow.write() as tx:
            if published:
                sent = col(OutboxEvent.seq).in_(published), col(OutboxEvent.sent_at).is_(None)
                await tx.session.exec(sa.update(OutboxEvent).where(*sent).values(sent_at=tx.now))
            if failure is not None:
                stmt = sa.update(OutboxEvent).where(col(OutboxEvent.seq) == failure.seq)
                await tx.session.exec(
                    stmt.values(
                        attempts=failure.attempts, last_error=failure.error, next_attempt_at=failure.next_attempt_at
                    )
                )


async def _finish(coro: Coroutine[Any, Any, None]) -> None:
    """Run `coro` to its end even if we are cancelled meanwhile; then let our cancellation through."""
    task = asyncio.ensure_future(coro)
    if (interrupted := await wait_through_cancellation(task)) is not None:
        if not task.cancelled() and (error := task.exception()) is not None:
            logger.error("outbox: recording a batch failed during shutdown", exc_info=error)
        raise interrupted
    task.result()
