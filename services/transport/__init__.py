"""Event transports behind the domain's Publisher port; heavier adapters (Kafka, Dapr) are imported by path.

`services.transport.kafka` and `.kafka_consumer` (aiokafka) and `services.transport.dapr` (the sidecar's HTTP API
and a FastAPI subscription app) are imported only by the processes that use them, so the embedded default starts fast.
"""

from collections.abc import Awaitable, Callable
from typing import Any

from services.consumer import Outcome  # the one Outcome (SUCCESS/RETRY/DROP) of the consumer runtime
from services.transport.inprocess import Handler, InProcessBus

EventHandler = Callable[[str, dict[str, Any]], Awaitable[Outcome]]
"""A transport-independent consumer: `await handler(topic, cloud_event)` -> Outcome."""

DLQ_SUFFIX = "-dlq"


def dead_letter_topic(topic: str) -> str:
    """Where the poison messages of `topic` go."""
    return f"{topic}{DLQ_SUFFIX}"


__all__ = ["DLQ_SUFFIX", "EventHandler", "Handler", "InProcessBus", "Outcome", "dead_letter_topic"]
