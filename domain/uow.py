"""The unit of work: one transaction per use case, with its events written to the outbox before commit."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

import sqlalchemy as sa
from pydantic import BaseModel
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.db import Database
from domain.events import TOPIC_OF, make_event
from domain.models import OutboxEvent
from domain.ports import Clock, SystemClock

OUTBOX_CHANNEL = "todo_agent_outbox"  # write() notifies it with pg_notify() before committing events (PostgreSQL)

S = TypeVar("S", bound=sa.Select[Any])


@dataclass
class Tx:
    """An open transaction: its session, its clock reading and the events it will publish."""

    session: AsyncSession
    now: datetime
    source: str
    dialect: str  # the database's (Database.dialect): "sqlite" or "postgresql"
    operation_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    emitted: int = 0

    def for_update(self, stmt: S, *, read: bool = False, skip_locked: bool = False) -> S:
        """Lock the selected rows on PostgreSQL (SQLite's write transactions are serial already)."""
        if self.dialect == "postgresql":
            return stmt.with_for_update(read=read, skip_locked=skip_locked)
        return stmt

    def insert(self, table: type[Any]) -> postgresql.Insert | sqlite.Insert:
        """The dialect's INSERT for `table`, which offers `on_conflict_do_nothing()`."""
        return (postgresql.insert if self.dialect == "postgresql" else sqlite.insert)(table)

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
        self._open: Tx | None = None  # set on a joined unit of work: its transactions are this one

    def joined(self, tx: Tx) -> UnitOfWork:
        """A unit of work whose write() and read() are `tx`, already open and committed or rolled back by its
        owner: a use case called by a message handler joins the delivering transaction, so its effect, its
        events and the inbox row commit together."""
        joined = UnitOfWork(self.db, self.clock, source=self.source)
        joined._open = tx
        return joined

    def on_events_committed(self, listener: Callable[[], None]) -> None:
        """Call `listener` after every commit that wrote outbox rows (the relay's wake-up), made by this or any other
        unit of work on the same database."""
        self.db.events_committed.append(listener)

    @asynccontextmanager
    async def write(self) -> AsyncIterator[Tx]:
        """A write transaction (BEGIN IMMEDIATE on SQLite); commits on success, rolls back on any error."""
        if self._open is not None:
            yield self._open
            return
        async with self.db.writer() as session, session.begin():
            tx = Tx(session=session, now=self.clock.now(), source=self.source, dialect=self.db.dialect)
            yield tx
            if tx.emitted and tx.dialect == "postgresql":
                # Delivered on commit to the relay's process, wherever it runs (runtime.wakeup LISTENs).
                await session.exec(select(sa.func.pg_notify(OUTBOX_CHANNEL, "")))
        if tx.emitted:
            for listener in self.db.events_committed:
                listener()

    @asynccontextmanager
    async def read(self, *, consistent: bool = False) -> AsyncIterator[Tx]:
        """A read-only unit of work. On SQLite a (deferred) transaction: one snapshot for all its statements. On
        PostgreSQL plain reads run in autocommit, with no BEGIN/COMMIT round trips: each statement sees the data
        committed when it starts (as it did in a READ COMMITTED transaction), so a page and its count may come from
        two moments, which a list tolerates. `consistent=True` gives every statement one snapshot (a REPEATABLE
        READ transaction on PostgreSQL) for reads whose statements must agree with each other."""
        if self._open is not None:
            yield self._open
            return
        maker = self.db.snapshot_reader if consistent else self.db.reader
        async with maker() as session, session.begin():
            yield Tx(session=session, now=self.clock.now(), source=self.source, dialect=self.db.dialect)
