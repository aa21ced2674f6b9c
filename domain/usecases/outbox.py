"""The outbox's health and its pruning: what /readyz and `todo-agent outbox status` report, and what retention
deletes. The relay that publishes the rows is runtime.relay."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from pydantic import BaseModel
from sqlmodel import col, func, select

from domain.models import OutboxEvent
from domain.uow import UnitOfWork


class OutboxStatus(BaseModel):
    """Health of the outbox for /readyz: how much is waiting, since when, and why."""

    pending: int
    oldest_pending_age_seconds: float | None
    failing: int  # pending rows that failed at least once
    last_error: str | None  # the error of the first failing row: the one holding the others back


async def outbox_status(uow: UnitOfWork) -> OutboxStatus:
    """Count the pending rows, the age of the oldest one and the failing ones, with the blocking error."""
    pending = col(OutboxEvent.sent_at).is_(None)
    failing = col(OutboxEvent.attempts) > 0
    async with uow.read() as tx:
        stmt = select(func.count(), func.min(OutboxEvent.created_at), func.count().filter(failing)).where(pending)
        count, oldest, failing_count = (await tx.session.exec(stmt)).one()
        first_error = select(OutboxEvent.last_error).where(pending, failing).order_by(col(OutboxEvent.seq)).limit(1)
        last_error = (await tx.session.exec(first_error)).first()
        now = tx.now
    age = max(0.0, (now - oldest).total_seconds()) if oldest is not None else None
    return OutboxStatus(
        pending=count, oldest_pending_age_seconds=age, failing=failing_count, last_error=last_error
    )


async def prune_outbox(uow: UnitOfWork, older_than: timedelta) -> int:
    """Delete rows sent more than `older_than` ago (unsent rows are always kept); returns how many."""
    async with uow.write() as tx:
        # sent_at is NULL on unsent rows, so they never compare as older.
        stmt = sa.delete(OutboxEvent).where(col(OutboxEvent.sent_at) < tx.now - older_than)
        return (await tx.session.exec(stmt)).rowcount
