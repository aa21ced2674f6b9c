"""The embedded default: every consumer subscribed to the in-process bus of the process holding the lease."""

from __future__ import annotations

from domain.events import TOPIC_REMINDERS, TOPIC_TASKS
from domain.uow import UnitOfWork
from runtime.relay import Relay
from services.consumer import Event, Outcome
from services.settings import ServiceSettings
from services.subscriptions import Subscription, subscriptions
from services.transport.inprocess import Handler as BusHandler
from services.transport.inprocess import InProcessBus
from web.live import LiveHub
from web.live_feed import notification_feed, task_changed_feed

LIVE_GROUP = "live"


class RetryLater(Exception):
    """A consumer asked for the message again later; the relay retries it with backoff."""


def wire_inprocess(
    bus: InProcessBus, uow: UnitOfWork, hub: LiveHub, *, settings: ServiceSettings | None = None
) -> list[Subscription]:
    """Subscribe the services, the task service, the notification store and the live hub; returns the services'."""
    subs = subscriptions(uow, settings)
    for sub in subs:
        bus.subscribe(sub.topic, bus_handler(sub), group=sub.group)
    # After the notification store on `reminders`: the live feed shows what it stored.
    bus.subscribe(TOPIC_TASKS, task_changed_feed(hub), group=LIVE_GROUP)
    bus.subscribe(TOPIC_REMINDERS, notification_feed(hub, uow), group=LIVE_GROUP)
    return subs


def bus_handler(sub: Subscription) -> BusHandler:
    """The in-process face of a subscription: RETRY raises, so the relay delivers the message again later."""

    async def handle(event: Event) -> None:
        if await sub.deliver(event) is Outcome.RETRY:
            raise RetryLater(f"consumer group {sub.group!r} asks for event {event.get('id')} again")

    return handle


async def run_services_until_idle(uow: UnitOfWork, *, settings: ServiceSettings | None = None) -> int:
    """Relay the pending outbox events to the in-process consumers until none is left (or one asks to be retried
    later); returns how many went out. What the embedded runtime does in the background, done at once: the evals
    judge a turn's state after the services (a recurring task's next occurrence, reminders, audit) have reacted."""
    bus = InProcessBus()
    wire_inprocess(bus, uow, LiveHub(), settings=settings)
    relay = Relay(uow, bus)
    total = 0
    while sent := await relay.relay_once():
        total += sent
    return total
