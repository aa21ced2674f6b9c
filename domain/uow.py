"""The unit of work: one transaction per use case, with its events written to the outbox before commit."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from pydantic import BaseModel
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.db import Database
from domain.events import TOPIC_OF, make_event
from domain.models import OutboxEvent
from domain.ports import Clock, SystemClock

OUTBOX_CHANNEL = "todo_agent_outbox"  # write() notifies it with pg_notify() before committing events (PostgreSQL)


@dataclass
class Tx:
    """An open transaction: its session, its clock reading and the events it will publish."""

    session: AsyncSession
    now: datetime
    source: str
    operation_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    emitted: int = 0

    def emit(
        self, event_type: str, data: BaseModel, *, user_id: int | None, subject: str | None, undoable: bool = False
    ) -> OutboxEvent:
        """Add a CloudEvent to the outbox in this transaction."""
        cloud = make_event(event_type, data, source=self.source, subject=subject, time=self.now)
        row = OutboxEvent(
            event_id=cloud.id,
            topic=TOPIC_OF[event_type],
            key=str(user_id) if user_id is not None else (subject or cloud.id),
            type=event_type,
            user_id=user_id,
            operation_id=self.operation_id,
            undoable=undoable,
            payload=cloud.to_json(),
            created_at=self.now,
        )
        self.session.add(row)
        self.emitted += 1
        return row


class UnitOfWork:
    """Opens transactions on a database; after a commit that wrote events, wakes the relay."""

    def __init__(self, db: Database, clock: Clock | None = None, *, source: str = "todo-agent/web") -> None:
        self.db = db
        self.clock: Clock = clock or SystemClock()
        self.source = source
        self._listeners: list[Callable[[], None]] = []

    def on_events_committed(self, listener: Callable[[], None]) -> None:
        """Call `listener` after every commit that wrote outbox rows (the relay's wake-up)."""
        self._listeners.append(listener)

    @asynccontextmanager
    async def write(self) -> AsyncIterator[Tx]:
        """A write transaction (BEGIN IMMEDIATE on SQLite); commits on success, rolls back on any error."""
        async with self.db.writer() as session, session.begin():
            tx = Tx(session=session, now=self.clock.now(), source=self.source)
            yield tx
            if tx.emitted and self.db.dialect == "postgresql":
                # Delivered on commit to the relay's process, wherever it runs (runtime.wakeup LISTENs).
                await session.exec(select(sa.func.pg_notify(OUTBOX_CHANNEL, "")))
        if tx.emitted:
            for listener in self._listeners:
                listener()

    @asynccontextmanager
    async def read(self) -> AsyncIterator[Tx]:
        """A read-only transaction."""
        async with self.db.reader() as session, session.begin():
            yield Tx(session=session, now=self.clock.now(), source=self.source)
