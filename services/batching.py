"""Batched delivery: a consumer group handles a batch of events in one transaction, or one by one if that fails.

`deliver_batch` answers one Outcome per event, as `services.consumer.deliver` would have for each in turn. With the
SQL inbox, the whole batch commits in one write transaction: the inbox rows of every distinct event id inserted in
one statement (which also tells the ids processed before: they are skipped), then the handlers' work in event
order. A handler with a batch form (`BatchHandler`) gets each run of consecutive events it handles at once; the
others are called per event inside the same transaction. If anything in that transaction fails (a poison event, a
transient error, a constraint), it is rolled back and the events are delivered one by one through `deliver`, so one
bad event gets the retry / dead-letter path alone and the others commit.

Order: one by one stops at the first RETRY and answers RETRY for the events after it without trying them, so an
event is never handled before an earlier one of the same batch (the transport delivers them again in order).
Another inbox (the Dapr state store) is taken one by one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from domain.uow import Tx, UnitOfWork
from services.consumer import BatchHandler, Event, Handler, Outcome, deliver, event_id_of
from services.inbox import SQL_INBOX, Inbox, SqlInbox, claim_many

logger = logging.getLogger(__name__)

HandlerOf = Callable[[Event], Handler]
BatchHandlerOf = Callable[[Event], BatchHandler | None]


def _no_batch(_event: Event) -> BatchHandler | None:
    return None


async def deliver_batch(
    uow: UnitOfWork, group: str, handler_of: HandlerOf, events: Sequence[Event], inbox: Inbox = SQL_INBOX,
    batch_of: BatchHandlerOf = _no_batch,
) -> list[Outcome]:
    """Handle `events` for `group`, in one transaction when the inbox is the SQL table; one Outcome per event."""
    if len(events) > 1 and isinstance(inbox, SqlInbox):
        try:
            await _in_one_transaction(uow, group, handler_of, batch_of, events)
        except Exception as exc:  # noqa: BLE001 - any failure: each event gets the one-by-one path
            logger.info("%s: a batch of %d events failed (%s: %s); delivering them one by one",
                        group, len(events), type(exc).__name__, exc)
        else:
            return [Outcome.SUCCESS] * len(events)
    return await one_by_one(uow, group, handler_of, events, inbox)


async def one_by_one(
    uow: UnitOfWork, group: str, handler_of: HandlerOf, events: Sequence[Event], inbox: Inbox = SQL_INBOX
) -> list[Outcome]:
    """`deliver` each event in turn, up to the first RETRY (the later ones are answered RETRY, not tried)."""
    outcomes: list[Outcome] = []
    for event in events:
        outcome = await deliver(uow, group, handler_of(event), event, inbox)
        outcomes.append(outcome)
        if outcome is Outcome.RETRY:
            break
    return outcomes + [Outcome.RETRY] * (len(events) - len(outcomes))


async def _in_one_transaction(
    uow: UnitOfWork, group: str, handler_of: HandlerOf, batch_of: BatchHandlerOf, events: Sequence[Event]
) -> None:
    ids = [event_id_of(event) for event in events]  # Poison: rolled back, one by one dead-letters it
    async with uow.write() as tx:
        fresh = await claim_many(tx, group, list(dict.fromkeys(ids)))
        todo: list[Event] = []
        for event_id, event in zip(ids, events, strict=True):
            if event_id in fresh:  # not processed before, and the first of its id in this batch
                fresh.discard(event_id)
                todo.append(event)
        skipped = len(events) - len(todo)
        if skipped:
            logger.debug("%s: %d events of the batch already processed", group, skipped)
        await _handle(tx, todo, handler_of, batch_of)


async def _handle(tx: Tx, events: list[Event], handler_of: HandlerOf, batch_of: BatchHandlerOf) -> None:
    """Run the handlers in event order: each run of consecutive events with the same batch form at once."""
    i = 0
    while i < len(events):
        batch = batch_of(events[i])
        if batch is None:
            await handler_of(events[i])(tx, events[i])
            i += 1
            continue
        j = i + 1
        while j < len(events) and batch_of(events[j]) is batch:
            j += 1
        await batch(tx, events[i:j])
        i = j

