"""The Kafka-protocol transport (Apache Kafka, Redpanda, Tansu): the aiokafka publisher and topic creation; the
consumer group runner is services.transport.kafka_consumer.

Messages are CloudEvents in structured mode: the value is the event's JSON, the key is the partition key (the
user id, so one user's events keep their order), and the headers `ce_id`, `ce_type` and `content-type` let
tools route without parsing the value.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Iterable, Sequence
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError

from domain.ports import OutboundMessage, Publisher

logger = logging.getLogger(__name__)

CONTENT_TYPE = b"application/cloudevents+json"
_TOPIC_ALREADY_EXISTS = 36  # Kafka error code


def event_headers(event_id: str, event_type: str) -> list[tuple[str, bytes]]:
    """The Kafka headers every published event carries."""
    return [("ce_id", event_id.encode()), ("ce_type", event_type.encode()), ("content-type", CONTENT_TYPE)]


def encode_event(event: dict[str, Any]) -> bytes:
    return json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode()


def decode_event(value: bytes | None) -> dict[str, Any] | None:
    """A record's value as a JSON object, or None (a poison message)."""
    if value is None:
        return None
    try:
        event = json.loads(value)
    except (ValueError, UnicodeDecodeError):
        return None
    return event if isinstance(event, dict) else None


def header_value(record: Any, name: str) -> str | None:
    """A record header as text, or None."""
    for key, value in record.headers or ():
        if key == name:
            return bytes(value).decode(errors="replace")
    return None


class KafkaPublisher(Publisher):
    """Publishes outbox messages with an aiokafka producer, started on the first publish (not at construction).

    `enable_idempotence` stays False by default: Tansu refuses idempotent producers, and consumers deduplicate
    by event id anyway. A publish that cannot reach the broker fails after about `request_timeout_ms`, and the
    relay retries it later; a producer that failed to start is discarded and started anew next time.
    """

    def __init__(
        self,
        bootstrap: str,
        *,
        client_id: str = "todo-agent",
        enable_idempotence: bool = False,
        acks: int | str = "all",
        request_timeout_ms: int = 10_000,
        linger_ms: int = 0,
        **producer_options: Any,
    ) -> None:
        self.bootstrap = bootstrap
        self._options: dict[str, Any] = {
            "bootstrap_servers": bootstrap,
            "client_id": client_id,
            "enable_idempotence": enable_idempotence,
            "acks": acks,
            "request_timeout_ms": request_timeout_ms,
            "linger_ms": linger_ms,
            **producer_options,
        }
        self._producer: AIOKafkaProducer | None = None
        self._lock = asyncio.Lock()

    async def _started(self) -> AIOKafkaProducer:
        if self._producer is not None:
            return self._producer
        async with self._lock:
            if self._producer is None:
                producer = AIOKafkaProducer(**self._options)
                try:
                    await producer.start()
                except BaseException:
                    with contextlib.suppress(Exception):
                        await producer.stop()
                    raise
                self._producer = producer
            return self._producer

    async def publish(self, message: OutboundMessage) -> None:
        """Send one CloudEvent to `message.topic`, keyed by `message.key`, and wait for the broker's ack."""
        event_type = str(message.event.get("type", ""))
        await self.produce(
            message.topic,
            encode_event(message.event),
            key=message.key.encode(),
            headers=event_headers(message.event_id, event_type),
        )

    async def produce(
        self, topic: str, value: bytes, *, key: bytes | None, headers: Sequence[tuple[str, bytes]] = ()
    ) -> None:
        """Send raw bytes (the dead-letter path forwards messages that may not even be JSON)."""
        producer = await self._started()
        await producer.send_and_wait(topic, value, key=key, headers=list(headers))

    async def close(self) -> None:
        """Flush and stop the producer, if it was ever started."""
        async with self._lock:
            producer, self._producer = self._producer, None
        if producer is not None:
            await producer.stop()


async def ensure_topics(
    bootstrap: str, topics: Iterable[str], *, partitions: int = 3, replication_factor: int = 1
) -> None:
    """Create the topics that do not exist yet (brokers with auto-creation switched off need this)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        wanted = sorted(set(topics))
        existing = set(await admin.list_topics())
        missing = [NewTopic(t, partitions, replication_factor) for t in wanted if t not in existing]
        if not missing:
            return
        response = await admin.create_topics(missing)
        for topic, code, *rest in response.topic_errors:
            if code not in (0, _TOPIC_ALREADY_EXISTS):
                detail = rest[0] if rest else None
                raise KafkaError(f"creating topic {topic!r} failed with error {code}: {detail}")
    finally:
        await admin.close()


