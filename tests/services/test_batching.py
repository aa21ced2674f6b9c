"""Batched delivery (services.batching, the in-process bus's publish_batch): one transaction per consumer group for
a relay batch, one-by-one fallback for a batch that fails, duplicates once, order per key kept."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import event as sa_event
from sqlmodel import col, select

from domain.db import Database
from domain.events import TOPIC_TASKS
from domain.models import OutboxEvent
from domain.ports import OutboundMessage
from domain.schemas import TaskUpdate
from domain.uow import Tx, UnitOfWork
from domain.usecases import update_task
from runtime.relay import Relay
from runtime.wiring.inprocess import wire_inprocess
from services.consumer import Event, Outcome, Poison
from services.inbox import claim
from services.subscriptions import Subscription
from services.tables import AuditEntry, InboxRecord, ReminderSchedule, ReminderTaskState
from services.transport.inprocess import BatchFailed, InProcessBus
from tests.conftest import new_actor, new_task
from tests.infra import throwaway_database
from tests.services.conftest import T0, Outbox, dead_letter
from web.live import LiveHub


@contextmanager
def begins(db: Database) -> Iterator[list[int]]:
    """Counts the transactions begun on the database's connections meanwhile."""
    seen: list[int] = []

    def on_begin(_conn: Any) -> None:
        seen.append(1)

    sa_event.listen(db.engine.sync_engine, "begin", on_begin)
    try:
        yield seen
    finally:
        sa_event.remove(db.engine.sync_engine, "begin", on_begin)


async def audited(uow: UnitOfWork, event_ids: list[str]) -> list[str]:
    async with uow.read() as tx:
        rows = await tx.session.exec(select(AuditEntry.event_id).where(col(AuditEntry.event_id).in_(event_ids)))
        return list(rows.all())


async def two_users_events(uow: UnitOfWork, outbox: Outbox, per_user: int = 3) -> list[Event]:
    events: list[Event] = []
    for _ in range(2):
        actor = await new_actor(uow)
        task = await new_task(uow, actor, "Start", due_at=T0.replace(year=2030), reminders=[0, 60])
        for i in range(per_user - 1):
            await update_task(uow, actor, task.id, TaskUpdate(title=f"Step {i}"))
        events += await outbox.new(actor.id)
    return events


async def test_a_batch_across_two_users_takes_one_transaction_per_group(
    uow: UnitOfWork, outbox: Outbox, groups: dict[str, Subscription]
) -> None:
    events = await two_users_events(uow, outbox)
    for group in ("audit", "reminder", "recurrence"):
        with begins(uow.db) as seen:
            assert await groups[group].deliver_batch(events) == [Outcome.SUCCESS] * len(events)
        assert len(seen) == 1, group
    assert sorted(await audited(uow, [e["id"] for e in events])) == sorted(e["id"] for e in events)
    async with uow.read() as tx:
        task_ids = {e["data"]["task"]["id"] for e in events}
        states = (await tx.session.exec(
            select(ReminderTaskState).where(col(ReminderTaskState.task_id).in_(task_ids)))).all()
        pending = (await tx.session.exec(
            select(ReminderSchedule).where(col(ReminderSchedule.task_id).in_(task_ids)))).all()
    assert sorted(s.version for s in states) == [3, 3]  # each task's newest snapshot applied
    assert len(pending) == 4  # two offsets per task, scheduled once


def failing_audit(audit: Subscription, bad_id: str, error: Exception) -> Subscription:
    """The audit group, its handler raising `error` for one event."""
    real = audit.handlers

    async def handler(tx: Tx, event: Event) -> None:
        if event["id"] == bad_id:
            raise error
        await real[event["type"]](tx, event)

    return Subscription(audit.service, audit.topic, audit.group, dict.fromkeys(real, handler), audit.uow)


async def test_a_poison_event_in_a_batch_is_dead_lettered_alone_and_the_others_commit(
    uow: UnitOfWork, outbox: Outbox, groups: dict[str, Subscription]
) -> None:
    events = await two_users_events(uow, outbox, per_user=2)
    bad = events[1]["id"]
    audit = failing_audit(groups["audit"], bad, Poison("cannot be audited"))

    outcomes = await audit.deliver_batch(events)

    assert outcomes == [Outcome.SUCCESS, Outcome.DROP, Outcome.SUCCESS, Outcome.SUCCESS]
    assert sorted(await audited(uow, [e["id"] for e in events])) == sorted(e["id"] for e in events if e["id"] != bad)
    letter = await dead_letter(uow, "audit", bad)
    assert letter is not None and "cannot be audited" in letter.error


async def test_a_transient_failure_in_a_batch_stops_there_so_later_events_wait_in_order(
    uow: UnitOfWork, outbox: Outbox, groups: dict[str, Subscription]
) -> None:
    events = await two_users_events(uow, outbox, per_user=2)
    audit = failing_audit(groups["audit"], events[1]["id"], ConnectionError("database hiccup"))

    outcomes = await audit.deliver_batch(events)

    assert outcomes == [Outcome.SUCCESS, Outcome.RETRY, Outcome.RETRY, Outcome.RETRY]
    assert await audited(uow, [e["id"] for e in events]) == [events[0]["id"]]
    # Delivered again once the failure is gone: each event once.
    assert await groups["audit"].deliver_batch(events) == [Outcome.SUCCESS] * 4
    assert sorted(await audited(uow, [e["id"] for e in events])) == sorted(e["id"] for e in events)


async def test_duplicates_in_a_batch_and_events_processed_before_are_handled_once(
    uow: UnitOfWork, outbox: Outbox, groups: dict[str, Subscription]
) -> None:
    events = await two_users_events(uow, outbox, per_user=2)
    async with uow.write() as tx:  # processed before (by an earlier delivery), with no audit row: not redone
        assert await claim(tx, "audit", events[0]["id"])
    batch = [events[0], events[1], events[1], events[2], events[3], events[2]]

    assert await groups["audit"].deliver_batch(batch) == [Outcome.SUCCESS] * len(batch)

    assert sorted(await audited(uow, [e["id"] for e in events])) == sorted(e["id"] for e in events[1:])
    async with uow.read() as tx:
        rows = (await tx.session.exec(select(InboxRecord.event_id).where(
            InboxRecord.consumer_group == "audit", col(InboxRecord.event_id).in_([e["id"] for e in events])))).all()
    assert sorted(rows) == sorted(e["id"] for e in events)


async def test_each_group_sees_the_events_of_a_batch_in_order(
    uow: UnitOfWork, outbox: Outbox, groups: dict[str, Subscription]
) -> None:
    events = await two_users_events(uow, outbox, per_user=4)
    seen: list[tuple[int, int]] = []

    async def note(_tx: Tx, event: Event) -> None:
        seen.append((event["data"]["user_id"], event["data"]["task"]["version"]))

    audit = groups["audit"]
    recorder = Subscription(audit.service, audit.topic, "order-probe", dict.fromkeys(audit.handlers, note), audit.uow)
    assert await recorder.deliver_batch(events) == [Outcome.SUCCESS] * len(events)
    for user in {u for u, _ in seen}:
        assert [v for u, v in seen if u == user] == [1, 2, 3, 4]


def message(i: int, topic: str = TOPIC_TASKS) -> OutboundMessage:
    return OutboundMessage(topic=topic, key="k", event_id=f"e{i}", event={"id": f"e{i}"})


async def test_the_bus_hands_each_group_its_batch_and_reports_the_first_message_not_handled() -> None:
    bus = InProcessBus()
    got: dict[str, list[str]] = {"a": [], "b": [], "c": []}

    async def batch_a(events: list[dict[str, Any]]) -> None:
        got["a"].append(",".join(e["id"] for e in events))

    async def per_event_b(event: dict[str, Any]) -> None:
        if event["id"] == "e3":
            raise RuntimeError("b refuses e3")
        got["b"].append(event["id"])

    async def per_event_c(event: dict[str, Any]) -> None:
        got["c"].append(event["id"])

    bus.subscribe(TOPIC_TASKS, per_event_b, group="a", batch=batch_a)
    bus.subscribe(TOPIC_TASKS, per_event_b, group="b")
    bus.subscribe("reminders", per_event_c, group="c")
    messages = [message(0), message(1, "reminders"), message(2), message(3), message(4, "reminders")]

    with pytest.raises(BatchFailed) as failed:
        await bus.publish_batch(messages)

    assert failed.value.done == 3 and "b refuses e3" in str(failed.value.cause)
    assert got == {"a": ["e0,e2,e3"], "b": ["e0", "e2"], "c": ["e1"]}  # nothing past the failure on later topics


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
async def own_database(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Any:
    async with throwaway_database(request.param, Path(tmp_path_factory.mktemp("batching"))) as db:
        yield db


async def test_the_relay_delivers_a_burst_in_a_few_transactions(own_database: Database) -> None:
    uow = UnitOfWork(own_database)
    async with uow.write() as tx:
        await tx.session.exec(sa.delete(OutboxEvent))
    actors = [await new_actor(uow) for _ in range(2)]
    for actor in actors:
        task = await new_task(uow, actor, "Start", reminders=[0], due_at=T0.replace(year=2030))
        for i in range(9):
            await update_task(uow, actor, task.id, TaskUpdate(title=f"Step {i}"))
    bus = InProcessBus()
    wire_inprocess(bus, uow, LiveHub())
    relay = Relay(uow, bus)

    with begins(own_database) as seen:
        assert await relay.relay_once() == 20

    # The relay's read and its record, and one write per group on `tasks` (reminder, recurrence, audit).
    assert len(seen) == 5
    async with uow.read() as tx:
        rows = (await tx.session.exec(select(sa.func.count()).select_from(AuditEntry).where(
            col(AuditEntry.user_id).in_([a.id for a in actors])))).one()
    assert rows == 20
