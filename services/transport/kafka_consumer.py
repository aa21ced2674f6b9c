"""The Kafka consumer group runner: one group per service, handing each event to a transport-free handler.

It commits an offset only after the handler has finished with the message (SUCCESS, or DROP once the message is
safely on the dead-letter topic); a RETRY rewinds that partition and pauses it for a growing backoff while the
other partitions go on. Delivery is therefore at least once, and handlers are idempotent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import IllegalStateError, KafkaError

from services.transport import EventHandler, Outcome, dead_letter_topic
from services.transport.kafka import KafkaPublisher, decode_event, ensure_topics, header_value

logger = logging.getLogger(__name__)


@dataclass
class _Retry:
    attempts: int = 0
    resume_at: float = 0.0


class KafkaConsumer:
    """Runs one consumer group (one per service) over `topics`, handing each event to `on_message`.

    `on_message(topic, event)` returns an Outcome; an exception counts as RETRY (and is logged). A value that
    is not a JSON object is dropped without calling it. Dropped messages are produced, unchanged, to
    `<topic>-dlq` with `dlq_*` headers saying where they came from; if that fails the message is retried
    instead, so nothing is lost. With `max_attempts`, a message still asking for RETRY after that many tries
    is dropped too (None: retry for as long as it takes).

    The settings for speed: `fetch_max_wait_ms` bounds the delivery latency when the topic is idle, and
    `session_timeout_ms`/`heartbeat_interval_ms` bound how long a group (re)join takes (1000/200 in tests;
    production keeps Kafka's usual 10 s session).
    """

    def __init__(
        self,
        bootstrap: str,
        group: str,
        topics: Sequence[str],
        on_message: EventHandler,
        *,
        client_id: str | None = None,
        fetch_max_wait_ms: int = 50,
        session_timeout_ms: int = 10_000,
        heartbeat_interval_ms: int = 3_000,
        max_poll_records: int = 100,
        retry_backoff: float = 0.2,
        max_retry_backoff: float = 30.0,
        max_attempts: int | None = None,
        create_topics: bool = True,
        partitions: int = 3,
        poll_interval: float = 0.1,
        dead_letters: KafkaPublisher | None = None,
        **consumer_options: Any,
    ) -> None:
        self.bootstrap = bootstrap
        self.group = group
        self.topics = list(topics)
        self.on_message = on_message
        self.retry_backoff = retry_backoff
        self.max_retry_backoff = max_retry_backoff
        self.max_attempts = max_attempts
        self.create_topics = create_topics
        self.partitions = partitions
        self.poll_interval = poll_interval
        self._options: dict[str, Any] = {
            "bootstrap_servers": bootstrap,
            "group_id": group,
            "client_id": client_id or group,
            "auto_offset_reset": "earliest",
            "enable_auto_commit": False,
            "fetch_max_wait_ms": fetch_max_wait_ms,
            "session_timeout_ms": session_timeout_ms,
            "heartbeat_interval_ms": heartbeat_interval_ms,
            "max_poll_records": max_poll_records,
            **consumer_options,
        }
        self._dead_letters = dead_letters or KafkaPublisher(bootstrap, client_id=f"{client_id or group}-dlq")
        self._owns_dead_letters = dead_letters is None
        self._consumer: AIOKafkaConsumer | None = None
        self._retries: dict[tuple[TopicPartition, int], _Retry] = {}
        self._paused: dict[TopicPartition, float] = {}  # partition -> when to resume (monotonic)
        self._stopping = asyncio.Event()
        self._stopped = asyncio.Event()
        self._running = False
        self.ready = asyncio.Event()  # set once the group has assigned this consumer its partitions

    async def run(self) -> None:
        """Consume until stop() (or cancellation); commits what was handled and leaves the group on the way out."""
        if self._running:
            raise RuntimeError("this consumer is already running")
        self._running = True
        self._stopped.clear()
        try:
            consumer = await self._start()
            if consumer is None:
                return
            self._consumer = consumer
            try:
                await self._loop(consumer)
            finally:
                self._consumer = None
                await consumer.stop()
        finally:
            try:
                if self._owns_dead_letters:
                    await self._dead_letters.close()
            finally:
                self._running = False
                self._stopped.set()

    async def _start(self) -> AIOKafkaConsumer | None:
        """Create the topics if asked, join the group; while the broker is unreachable, retry with backoff.

        None if stop() came first.
        """
        delay = self.retry_backoff
        while not self._stopping.is_set():
            consumer = None
            try:
                if self.create_topics:
                    topics = [*self.topics, *(dead_letter_topic(t) for t in self.topics)]
                    await ensure_topics(self.bootstrap, topics, partitions=self.partitions)
                consumer = AIOKafkaConsumer(**self._options)
                consumer.subscribe(self.topics, listener=_Listener(self))
                await consumer.start()
                return consumer
            except KafkaError as exc:
                if consumer is not None:
                    with contextlib.suppress(Exception):
                        await consumer.stop()
                logger.warning("kafka consumer %s: cannot start (%s); retrying in %.1fs", self.group, exc, delay)
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(delay):
                        await self._stopping.wait()
                delay = min(self.max_retry_backoff, delay * 2)
        return None

    async def stop(self) -> None:
        """Finish the message in hand, commit, leave the group; returns once run() has ended."""
        self._stopping.set()
        if self._running:
            await self._stopped.wait()

    async def _loop(self, consumer: AIOKafkaConsumer) -> None:
        while not self._stopping.is_set():
            self._resume_due(consumer)
            try:
                batch = await consumer.getmany(timeout_ms=int(self._poll_timeout() * 1000))
            except KafkaError as exc:
                logger.warning("kafka consumer %s: fetching failed: %s", self.group, exc)
                await asyncio.sleep(self.poll_interval)
                continue
            if not batch:
                continue
            done: dict[TopicPartition, int] = {}
            try:
                for tp, records in batch.items():
                    await self._handle_partition(consumer, tp, records, done)
                    if self._stopping.is_set():
                        break
            finally:
                if done:
                    await self._commit(consumer, done)

    async def _handle_partition(
        self, consumer: AIOKafkaConsumer, tp: TopicPartition, records: list[Any], done: dict[TopicPartition, int]
    ) -> None:
        for record in records:
            if self._stopping.is_set():
                return
            outcome = await self._handle(record)
            if outcome is Outcome.RETRY:
                self._schedule_retry(consumer, tp, record.offset)
                return
            self._retries.pop((tp, record.offset), None)
            done[tp] = record.offset + 1

    async def _handle(self, record: Any) -> Outcome:
        event = decode_event(record.value)
        if event is None:
            logger.error(
                "kafka consumer %s: dropping a malformed message at %s[%d]@%d (event %s)",
                self.group, record.topic, record.partition, record.offset, header_value(record, "ce_id"),
            )
            return await self._drop(record, "malformed")
        try:
            outcome = Outcome(await self.on_message(record.topic, event))
        except Exception:
            logger.exception(
                "kafka consumer %s: handler failed on event %s; retrying", self.group, event.get("id"),
                extra={"event_id": event.get("id"), "topic": record.topic},
            )
            outcome = Outcome.RETRY
        if outcome is Outcome.RETRY and self.max_attempts is not None:
            tp = TopicPartition(record.topic, record.partition)
            attempts = self._retries.get((tp, record.offset), _Retry()).attempts + 1
            if attempts >= self.max_attempts:
                logger.error("kafka consumer %s: event %s failed %d times", self.group, event.get("id"), attempts)
                return await self._drop(record, f"failed {attempts} times")
        if outcome is Outcome.DROP:
            logger.warning(
                "kafka consumer %s: event %s of type %s dropped to %s",
                self.group, event.get("id"), event.get("type"), dead_letter_topic(record.topic),
                extra={"event_id": event.get("id"), "topic": record.topic},
            )
            return await self._drop(record, "dropped by the handler")
        return outcome

    async def _drop(self, record: Any, reason: str) -> Outcome:
        """Forward the message to its dead-letter topic; DROP once it is there, RETRY if that failed."""
        headers = [
            *(record.headers or ()),
            ("dlq_topic", record.topic.encode()),
            ("dlq_partition", str(record.partition).encode()),
            ("dlq_offset", str(record.offset).encode()),
            ("dlq_group", self.group.encode()),
            ("dlq_reason", reason.encode()),
        ]
        try:
            await self._dead_letters.produce(
                dead_letter_topic(record.topic), record.value, key=record.key, headers=headers
            )
        except Exception:
            logger.exception("kafka consumer %s: could not dead-letter %s@%d", self.group, record.topic, record.offset)
            return Outcome.RETRY
        return Outcome.DROP

    def _schedule_retry(self, consumer: AIOKafkaConsumer, tp: TopicPartition, offset: int) -> None:
        """Rewind the partition to the failed message and pause it for the next backoff step."""
        retry = self._retries.setdefault((tp, offset), _Retry())
        retry.attempts += 1
        delay = min(self.max_retry_backoff, self.retry_backoff * 2 ** (retry.attempts - 1))
        retry.resume_at = time.monotonic() + delay
        try:
            consumer.seek(tp, offset)
            consumer.pause(tp)
        except IllegalStateError:  # revoked meanwhile: the new owner starts from the committed offset
            return
        self._paused[tp] = retry.resume_at

    def _resume_due(self, consumer: AIOKafkaConsumer) -> None:
        if not self._paused:
            return
        now = time.monotonic()
        assigned = consumer.assignment()
        for tp, when in list(self._paused.items()):
            if tp not in assigned:
                del self._paused[tp]
            elif when <= now:
                del self._paused[tp]
                consumer.resume(tp)

    def _poll_timeout(self) -> float:
        if not self._paused:
            return self.poll_interval
        return max(0.0, min(self.poll_interval, min(self._paused.values()) - time.monotonic()))

    async def _commit(self, consumer: AIOKafkaConsumer, offsets: dict[TopicPartition, int]) -> None:
        try:
            await consumer.commit(offsets)
        except KafkaError as exc:  # e.g. a rebalance took the partition: the new owner sees these messages again
            logger.warning("kafka consumer %s: commit of %s failed: %s", self.group, offsets, exc)

    def _forget(self, partitions: Iterable[TopicPartition]) -> None:
        gone = set(partitions)
        for tp in gone:
            self._paused.pop(tp, None)
        for key in [k for k in self._retries if k[0] in gone]:
            del self._retries[key]


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, owner: KafkaConsumer) -> None:
        self.owner = owner

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        self.owner._forget(revoked)

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        if assigned:
            self.owner.ready.set()
