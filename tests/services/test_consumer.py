"""The consumer runtime: inbox, effect and outgoing messages in one transaction; retry; poison to dead letters."""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

import pytest
from sqlmodel import select

from domain.events import REMINDER_DUE, TASK_CREATED, TASK_UPDATED, ReminderDueV1
from domain.models import OutboxEvent
from domain.uow import Tx, UnitOfWork
from services.consumer import Outcome, Poison, decode, deliver
from services.deadletters import list_dead_letters, replay
from services.subscriptions import Subscription
from services.tables import InboxRecord
from tests.conftest import Clock
from tests.services.conftest import T0, dead_letter


def an_event(**data: Any) -> dict[str, Any]:
    return {"specversion": "1.0", "id": str(uuid.uuid4()), "source": "test", "type": TASK_CREATED,
            "time": T0.isoformat(), "data": {"schema_version": 1, **data}}


class Counting:
    """A handler that counts its calls, emits one reminder event per call, and fails as told."""

    def __init__(self, fail: BaseException | None = None) -> None:
        self.calls = 0
        self.fail = fail

    async def __call__(self, tx: Tx, event: dict[str, Any]) -> None:
        self.calls += 1
        data = ReminderDueV1(user_id=0, task_id=self.calls, title=event["id"], due_at=T0, due_date=None,
                             offset_minutes=0, scheduled_for=T0)
        tx.emit(REMINDER_DUE, data, user_id=None, subject=event["id"])
        if self.fail is not None:
            raise self.fail


async def inbox_has(uow: UnitOfWork, group: str, event_id: str) -> bool:
    async with uow.read() as tx:
        stmt = select(InboxRecord).where(InboxRecord.consumer_group == group, InboxRecord.event_id == event_id)
        return (await tx.session.exec(stmt)).first() is not None


async def sent_for(uow: UnitOfWork, event_id: str) -> int:
    """How many outbox rows a Counting handler wrote for this event."""
    async with uow.read() as tx:
        rows = (await tx.session.exec(select(OutboxEvent).where(OutboxEvent.key == event_id))).all()
    return len(rows)


async def test_a_handled_event_leaves_its_inbox_row_and_its_outgoing_message(uow: UnitOfWork) -> None:
    handler, event = Counting(), an_event()
    assert await deliver(uow, "g1", handler, event) is Outcome.SUCCESS
    assert await inbox_has(uow, "g1", event["id"])
    assert await sent_for(uow, event["id"]) == 1


async def test_a_redelivered_event_succeeds_without_a_second_effect(uow: UnitOfWork) -> None:
    handler, event = Counting(), an_event()
    for _ in range(3):
        assert await deliver(uow, "g1", handler, event) is Outcome.SUCCESS
    assert handler.calls == 1
    assert await sent_for(uow, event["id"]) == 1


async def test_each_group_handles_an_event_once_of_its_own(uow: UnitOfWork) -> None:
    handler, event = Counting(), an_event()
    await deliver(uow, "g1", handler, event)
    await deliver(uow, "g2", handler, event)
    await deliver(uow, "g2", handler, event)
    assert handler.calls == 2


async def test_a_transient_failure_asks_for_a_retry_and_writes_nothing(uow: UnitOfWork) -> None:
    event = an_event()
    assert await deliver(uow, "g1", Counting(fail=ConnectionError("db blip")), event) is Outcome.RETRY
    assert not await inbox_has(uow, "g1", event["id"])
    assert await sent_for(uow, event["id"]) == 0
    handler = Counting()
    assert await deliver(uow, "g1", handler, event) is Outcome.SUCCESS
    assert handler.calls == 1 and await sent_for(uow, event["id"]) == 1


async def test_a_poison_message_is_dead_lettered_with_its_event_id_logged(
    uow: UnitOfWork, caplog: pytest.LogCaptureFixture
) -> None:
    event = an_event()
    with caplog.at_level(logging.ERROR, logger="services.consumer"):
        outcome = await deliver(uow, "g1", Counting(fail=Poison("no such field")), event)
    assert outcome is Outcome.DROP
    assert any(r.levelno == logging.ERROR and event["id"] in r.getMessage() for r in caplog.records)
    letter = await dead_letter(uow, "g1", event["id"])
    assert letter is not None
    assert (letter.topic, letter.event_type, letter.payload) == ("tasks", TASK_CREATED, event)
    assert "no such field" in letter.error and letter.replayed_at is None
    assert not await inbox_has(uow, "g1", event["id"])
    assert await sent_for(uow, event["id"]) == 0  # the handler's outgoing message was rolled back


async def test_a_message_without_an_id_is_poison(uow: UnitOfWork) -> None:
    assert await deliver(uow, "g-no-id", Counting(), {"type": TASK_CREATED, "data": {}}) is Outcome.DROP


async def test_a_subscription_calls_a_handler_only_for_the_event_types_routed_to_it(uow: UnitOfWork) -> None:
    group = f"g-{uuid.uuid4().hex[:8]}"
    created, updated = Counting(), Counting()
    sub = Subscription("test", "tasks", group, {TASK_CREATED: created, TASK_UPDATED: updated}, uow)
    assert await sub.deliver(an_event()) is Outcome.SUCCESS
    assert (created.calls, updated.calls) == (1, 0)


async def test_an_event_of_a_type_no_handler_takes_is_acknowledged_once_without_effect(uow: UnitOfWork) -> None:
    group, handler = f"g-{uuid.uuid4().hex[:8]}", Counting()
    sub = Subscription("test", "tasks", group, {TASK_UPDATED: handler}, uow)
    event = an_event()  # task.created
    assert await sub.deliver(event) is Outcome.SUCCESS
    assert handler.calls == 0 and await sent_for(uow, event["id"]) == 0
    assert await inbox_has(uow, group, event["id"])
    assert await sub.deliver({"type": TASK_CREATED, "data": {}}) is Outcome.DROP  # no id: poison all the same


@pytest.mark.parametrize("data", [
    {"schema_version": 2, "user_id": 1},
    {"user_id": 1},
    {"schema_version": 1, "user_id": "not a number"},
    "not an object",
])
def test_decoding_an_unknown_version_or_a_bad_payload_is_poison(data: Any) -> None:
    with pytest.raises(Poison):
        decode({"id": "x", "type": REMINDER_DUE, "data": data}, ReminderDueV1)


async def test_a_replayed_dead_letter_is_delivered_again_and_marked(uow: UnitOfWork, clock: Clock) -> None:
    group = f"g-{uuid.uuid4().hex[:8]}"
    event = an_event()
    await deliver(uow, group, Counting(fail=Poison("bad")), event)
    [letter] = await list_dead_letters(uow, group=group)

    still_bad = Subscription("test", "tasks", group, {TASK_CREATED: Counting(fail=Poison("still bad"))}, uow)
    [result] = await replay(uow, [letter.id], {group: still_bad})
    assert result.outcome == "DROP"
    [again] = await list_dead_letters(uow, group=group)
    assert (again.id, again.attempts, again.error) == (letter.id, 2, "still bad")

    fixed = Counting()
    [result] = await replay(uow, [letter.id], {group: Subscription("test", "tasks", group, {TASK_CREATED: fixed}, uow)})
    assert result.outcome == "SUCCESS" and fixed.calls == 1
    assert await list_dead_letters(uow, group=group) == []
    [done] = await list_dead_letters(uow, group=group, include_replayed=True)
    assert done.replayed_at is not None
    assert await inbox_has(uow, group, event["id"])


async def test_replaying_an_unknown_group_or_id_changes_nothing(uow: UnitOfWork) -> None:
    group = f"g-{uuid.uuid4().hex[:8]}"
    await deliver(uow, group, Counting(fail=Poison("bad")), an_event())
    [letter] = await list_dead_letters(uow, group=group)
    results = await replay(uow, [letter.id, 2**31 - 1], {})
    assert [r.outcome for r in results] == ["UNKNOWN_GROUP", "NOT_FOUND"]
    assert len(await list_dead_letters(uow, group=group)) == 1


async def test_dead_letters_list_oldest_first_and_hide_replayed_ones(uow: UnitOfWork) -> None:
    group = f"g-{uuid.uuid4().hex[:8]}"
    first, second = an_event(), an_event()
    for event in (first, second):
        await deliver(uow, group, Counting(fail=Poison("bad")), event)
    listed = await list_dead_letters(uow, group=group)
    assert [d.event_id for d in listed] == [first["id"], second["id"]]


async def test_concurrent_duplicates_have_one_effect(uow: UnitOfWork) -> None:
    calls = 0

    async def slow(tx: Tx, event: dict[str, Any]) -> None:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.05)  # hold the inbox row while the duplicate arrives

    event = an_event()
    outcomes = await asyncio.gather(*(deliver(uow, "g-concurrent", slow, event) for _ in range(3)))
    assert set(outcomes) == {Outcome.SUCCESS} and calls == 1


async def test_a_database_refusal_that_can_never_succeed_is_dead_lettered_not_retried(uow: UnitOfWork) -> None:
    """A value the database cannot store (here an integer out of range) is poison: DROP, once, to the dead letters."""
    from services.tables import Notification

    event = an_event()

    async def out_of_range(tx: Tx, _event: dict[str, Any]) -> None:
        tx.session.add(Notification(user_id=10**30, task_id=1, event_id=event["id"], title="x", due_at=None,
                                    due_date=None, offset_minutes=0, fire_at=T0, late=False, created_at=T0))
        await tx.session.flush()

    assert await deliver(uow, "g-data", out_of_range, event) is Outcome.DROP
    letter = await dead_letter(uow, "g-data", event["id"])
    assert letter is not None and not await inbox_has(uow, "g-data", event["id"])
