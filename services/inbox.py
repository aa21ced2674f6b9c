"""The inbox port: run a consumer's effect at most once per (consumer group, event id).

The consumer runtime (services.consumer.deliver) asks an Inbox to run the handler's effect for one event. The
Inbox answers True when it ran the effect and committed it, False when the event was processed before (a
redelivery: no second effect), and raises InboxBusy when it cannot tell now (another consumer has the event in
hand, or the store that remembers processed events is unreachable), so the event is delivered again later.

SqlInbox, the default, keeps the processed event ids in the `inbox_record` table and inserts the row in the same
transaction as the effect: both commit or neither does. services.transport.dapr_state.DaprStateInbox keeps them
in a Dapr state store instead (the reminder and recurrence services on Kubernetes).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

from sqlmodel import col

from domain.uow import Tx, UnitOfWork
from services.tables import InboxRecord

Work = Callable[[Tx], Awaitable[None]]
"""The effect of one event, written in the transaction it is given."""


class InboxBusy(Exception):
    """The inbox cannot take the event now (claimed by another consumer, or its store is down): retry later."""


class Inbox(Protocol):
    """Remembers which events a consumer group has processed."""

    async def once(self, uow: UnitOfWork, group: str, event_id: str, work: Work) -> bool:
        """Run `work` in a write transaction of `uow` unless `group` has processed `event_id`; False if it had.

        Raises InboxBusy when it cannot tell now, and whatever `work` raises (then nothing is recorded)."""
        ...


class SqlInbox:
    """The inbox table in the same database as the effect: the row and the effect commit in one transaction."""

    async def once(self, uow: UnitOfWork, group: str, event_id: str, work: Work) -> bool:
        async with uow.write() as tx:
            if not await claim(tx, group, event_id):
                return False
            await work(tx)
        return True


SQL_INBOX = SqlInbox()  # it holds no state, so every subscription may share it


async def claim(tx: Tx, group: str, event_id: str) -> bool:
    """Insert the inbox row; False if it exists (on PostgreSQL a concurrent duplicate waits for the first)."""
    stmt = tx.insert(InboxRecord).values(consumer_group=group, event_id=event_id, processed_at=tx.now)
    inserted = await tx.session.exec(stmt.on_conflict_do_nothing().returning(col(InboxRecord.event_id)))
    return inserted.first() is not None


async def claim_many(tx: Tx, group: str, event_ids: Sequence[str]) -> set[str]:
    """Insert the inbox rows of distinct `event_ids` in one statement; returns the ids inserted (those not
    processed before)."""
    if not event_ids:
        return set()
    rows = [{"consumer_group": group, "event_id": event_id, "processed_at": tx.now} for event_id in event_ids]
    stmt = tx.insert(InboxRecord).values(rows).on_conflict_do_nothing().returning(col(InboxRecord.event_id))
    return set((await tx.session.exec(stmt)).scalars().all())
