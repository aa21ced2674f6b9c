"""The embedded default: every consumer subscribed to the in-process bus of the process holding the lease."""

from __future__ import annotations

from domain.events import REMINDER_DUE, TOPIC_REMINDERS, TOPIC_TASKS
from domain.uow import UnitOfWork
from runtime.relay import Relay
from services.consumer import Event, Outcome
from services.notifications import notifications_of_events
from services.settings import ServiceSettings
from services.subscriptions import Subscription, subscriptions
from services.transport.inprocess import BatchFailed, InProcessBus
from services.transport.inprocess import BatchHandler as BusBatchHandler
from services.transport.inprocess import Handler as BusHandler
from web.live import LiveHub
from web.live_feed import notification_feed, show_notification, task_changed_feed

LIVE_GROUP = "live"


class RetryLater(Exception):
    """A consumer asked for the message again later; the relay retries it with backoff."""


def wire_inprocess(
    bus: InProcessBus, uow: UnitOfWork, hub: LiveHub, *, settings: ServiceSettings | None = None,
    live_feed: bool = True,
) -> list[Subscription]:
    """Subscribe the services, the task service, the notification store and (unless `live_feed` is False: serve
    with several workers tails the outbox instead, runtime.wiring.live_tail) the live hub; returns the services'."""
    subs = subscriptions(uow, settings)
    for sub in subs:
        bus.subscribe(sub.topic, bus_handler(sub), group=sub.group, batch=bus_batch_handler(sub))
    if not live_feed:
        return subs
    # After the notification store on `reminders`: the live feed shows what it stored.
    bus.subscribe(TOPIC_TASKS, task_changed_feed(hub), group=LIVE_GROUP)
    feed, batch_feed = notification_feed(hub, uow), notification_batch_feed(hub, uow)
    bus.subscribe(TOPIC_REMINDERS, feed, group=LIVE_GROUP, batch=batch_feed)
    return subs


def bus_handler(sub: Subscription) -> BusHandler:
    """The in-process face of a subscription: RETRY raises, so the relay delivers the message again later."""

    async def handle(event: Event) -> None:
        if await sub.deliver(event) is Outcome.RETRY:
            raise RetryLater(f"consumer group {sub.group!r} asks for event {event.get('id')} again")

    return handle


def bus_batch_handler(sub: Subscription) -> BusBatchHandler:
    """The subscription taking a relay batch in one transaction; the first RETRY stops the batch there."""

    async def handle(events: list[Event]) -> None:
        for done, outcome in enumerate(await sub.deliver_batch(events)):
            if outcome is Outcome.RETRY:
                retry = RetryLater(f"consumer group {sub.group!r} asks for event {events[done].get('id')} again")
                raise BatchFailed(done, retry)

    return handle


def notification_batch_feed(hub: LiveHub, uow: UnitOfWork) -> BusBatchHandler:
    """The live feed of stored notifications for a batch of reminders: one query for them all."""

    async def show(events: list[Event]) -> None:
        ids = [e["id"] for e in events if e.get("type") == REMINDER_DUE and isinstance(e.get("id"), str)]
        found = await notifications_of_events(uow, ids)
        for event_id in ids:
            if (stored := found.get(event_id)) is not None:  # not stored (dead-lettered): nothing to show
                show_notification(hub, event_id, *stored)

    return show


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
