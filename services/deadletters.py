"""Dead letters: listing the poison messages of every consumer group and replaying them through `deliver`."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from pydantic import BaseModel
from sqlmodel import col, select

from domain.uow import UnitOfWork
from services.consumer import Outcome
from services.subscriptions import Subscription
from services.tables import DeadLetter


class DeadLetterView(BaseModel):
    id: int
    consumer_group: str
    topic: str
    event_id: str
    event_type: str
    error: str
    attempts: int
    created_at: datetime
    replayed_at: datetime | None


class Replayed(BaseModel):
    id: int
    event_id: str
    outcome: str  # SUCCESS, RETRY, DROP, or UNKNOWN_GROUP / NOT_FOUND


async def list_dead_letters(
    uow: UnitOfWork, *, include_replayed: bool = False, group: str | None = None, limit: int = 100
) -> list[DeadLetterView]:
    """Dead letters, oldest first: those not replayed yet unless `include_replayed`."""
    stmt = select(DeadLetter).order_by(col(DeadLetter.id)).limit(limit)
    if not include_replayed:
        stmt = stmt.where(col(DeadLetter.replayed_at).is_(None))
    if group is not None:
        stmt = stmt.where(DeadLetter.consumer_group == group)
    async with uow.read() as tx:
        rows = (await tx.session.exec(stmt)).all()
    return [DeadLetterView.model_validate(r, from_attributes=True) for r in rows]


async def replay(uow: UnitOfWork, ids: list[int], groups: Mapping[str, Subscription]) -> list[Replayed]:
    """Deliver each dead letter again to its group; SUCCESS marks it replayed, DROP keeps it (with the new error)."""
    results = []
    for dead_id in ids:
        async with uow.read() as tx:
            row = await tx.session.get(DeadLetter, dead_id)
        if row is None or row.id is None:
            results.append(Replayed(id=dead_id, event_id="", outcome="NOT_FOUND"))
            continue
        subscription = groups.get(row.consumer_group)
        if subscription is None:
            results.append(Replayed(id=row.id, event_id=row.event_id, outcome="UNKNOWN_GROUP"))
            continue
        outcome = await subscription.deliver(row.payload)
        if outcome is Outcome.SUCCESS:
            async with uow.write() as tx:
                fresh = await tx.session.get(DeadLetter, row.id)
                if fresh is not None:
                    fresh.replayed_at = tx.now
                    tx.session.add(fresh)
        results.append(Replayed(id=row.id, event_id=row.event_id, outcome=outcome.value))
    return results
