"""Event transports behind the domain's Publisher port; heavier adapters (Kafka, Dapr) are imported by path."""

from services.transport.inprocess import Handler, InProcessBus

__all__ = ["Handler", "InProcessBus"]
