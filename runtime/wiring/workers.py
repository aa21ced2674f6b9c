"""The consumers of separate processes on the Kafka and Dapr transports (the embedded default is
runtime.wiring.inprocess).

- A service process (`todo-agent service reminder|recurrence|audit`) runs a Kafka consumer per subscription of
  its service (group = the subscription's group), or Dapr subscription routes on its HTTP app; the reminder
  service also runs the scheduler.
- The web host consumes `task-commands` (the task service) and `reminders` (the notification store) the same
  way, and feeds its live hub from a broadcast consumer of its own: a consumer group unique to the process,
  starting at the end of the topics, so every web process sees every event (the hub drops redeliveries by
  event id).

Everything here is a Worker (run() until stop()), which the runtime starts in its lifespan and stops before it
closes the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from domain.events import TOPIC_REMINDERS, TOPIC_TASKS
from domain.uow import UnitOfWork
from services.consumer import Event, Outcome
from services.notifications import notifications_of_events
from services.subscriptions import Subscription
from web.live import LiveHub
from web.live_feed import notification_feed, show_notification, task_changed_feed

if TYPE_CHECKING:
    from runtime.settings import Settings
    from services.transport import EventHandler
    from services.transport.dapr import Subscription as DaprRoute
    from services.transport.kafka_consumer import KafkaConsumer

logger = logging.getLogger(__name__)

LIVE_GROUP_PREFIX = "live-"
LIVE_ROUTE = "/events/live"  # the web host's live feed on Dapr
NOTIFICATION_WAIT_SECONDS = 5.0  # how long the live feed waits for the notification store to commit
NOTIFICATION_POLL_SECONDS = 0.05  # how often it looks for the notifications it waits for
NOTIFICATION_POLL_BATCH = 500  # at most this many per look


class Worker(Protocol):
    """Something a process runs for its whole life: run() until stop()."""

    async def run(self) -> None: ...

    async def stop(self) -> None: ...

    def is_ready(self) -> bool: ...


class Loop:
    """A coroutine (e.g. the reminder scheduler) run as a Worker: stop() cancels it."""

    def __init__(self, name: str, work: Callable[[], Awaitable[None]]) -> None:
        self.name = name
        self.work = work
        self._task: asyncio.Task[None] | None = None

    async def run(self) -> None:
        self._task = asyncio.current_task()
        with contextlib.suppress(asyncio.CancelledError):
            await self.work()

    async def stop(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()

    def is_ready(self) -> bool:
        return self._task is not None and not self._task.done()


class KafkaWorker:
    """A KafkaConsumer as a Worker: ready once its group has assigned it partitions."""

    def __init__(self, consumer: KafkaConsumer) -> None:
        self.consumer = consumer
        self.name = consumer.group

    async def run(self) -> None:
        await self.consumer.run()

    async def stop(self) -> None:
        await self.consumer.stop()

    def is_ready(self) -> bool:
        return self.consumer.ready.is_set()


def kafka_options(settings: Settings) -> dict[str, Any]:
    """The consumer settings that bound delivery latency and group (re)join time."""
    return {
        "fetch_max_wait_ms": settings.kafka_fetch_max_wait_ms,
        "session_timeout_ms": settings.kafka_session_timeout_ms,
        "heartbeat_interval_ms": settings.kafka_heartbeat_interval_ms,
    }


def delivering(sub: Subscription, after: Callable[[Event], Awaitable[None]] | None = None) -> EventHandler:
    """A transport's handler for `sub`: deliver through the consumer runtime, then (on SUCCESS) `after`."""

    async def handle(_topic: str, event: dict[str, Any]) -> Outcome:
        outcome = await sub.deliver(event)
        if outcome is Outcome.SUCCESS and after is not None:
            try:
                await after(event)
            except Exception:
                logger.warning("after delivering event %s to %s", event.get("id"), sub.group, exc_info=True)
        return outcome

    return handle


def kafka_workers(subs: Sequence[Subscription], settings: Settings) -> list[Worker]:
    """A consumer per subscription, in the subscription's group."""
    from services.transport.kafka_consumer import KafkaConsumer

    workers: list[Worker] = []
    for sub in subs:
        consumer = KafkaConsumer(settings.kafka_bootstrap, sub.group, [sub.topic], delivering(sub),
                                 **kafka_options(settings))
        workers.append(KafkaWorker(consumer))
    return workers


class LiveFeed:
    """Feeds one process's live hub from `tasks` and `reminders` (each event once, whoever delivers it).

    A notification is shown once the notification store has committed it. When the store runs in this process it
    says so (`stored`); otherwise one background waiter looks up every reminder still waiting in one query per
    NOTIFICATION_POLL_SECONDS, for up to NOTIFICATION_WAIT_SECONDS each (a burst of reminders costs one query per
    poll, not one per reminder).
    """

    def __init__(self, hub: LiveHub, uow: UnitOfWork) -> None:
        self.hub = hub
        self.uow = uow
        self._tasks = task_changed_feed(hub)
        self._notifications = notification_feed(hub, uow)
        self._waiting: dict[str, float] = {}  # reminder event id -> when to stop waiting (loop time)
        self._waiter: asyncio.Task[None] | None = None

    async def on_message(self, topic: str, event: dict[str, Any]) -> Outcome:
        """A broadcast consumer's handler: never asks for a retry (the live feed is best effort)."""
        try:
            if topic == TOPIC_TASKS:
                await self._tasks(event)
            elif topic == TOPIC_REMINDERS and isinstance(event_id := event.get("id"), str):
                self._wait_for(event_id)
        except Exception:
            logger.warning("live feed: event %s not shown", event.get("id"), exc_info=True)
        return Outcome.SUCCESS

    async def stored(self, event: Event) -> None:
        """Show a notification the store in this process has just committed."""
        await self._notifications(event)
        self._waiting.pop(str(event.get("id")), None)

    @property
    def waiting(self) -> int:
        """Reminders whose notification has not been seen yet."""
        return len(self._waiting)

    def _wait_for(self, event_id: str) -> None:
        loop = asyncio.get_running_loop()
        self._waiting.setdefault(event_id, loop.time() + NOTIFICATION_WAIT_SECONDS)
        if self._waiter is None or self._waiter.done():
            self._waiter = asyncio.create_task(self._wait())

    async def _wait(self) -> None:
        loop = asyncio.get_running_loop()
        while self._waiting:
            try:
                found = await notifications_of_events(self.uow, list(self._waiting)[:NOTIFICATION_POLL_BATCH])
                for event_id, (user_id, view) in found.items():
                    show_notification(self.hub, event_id, user_id, view)
                    self._waiting.pop(event_id, None)
            except Exception:
                logger.warning("live feed: could not look up stored notifications", exc_info=True)
            now = loop.time()
            for event_id, deadline in list(self._waiting.items()):
                if now > deadline:  # dead-lettered, or the store lags far behind: the page's next load shows it
                    del self._waiting[event_id]
            if self._waiting:
                await asyncio.sleep(NOTIFICATION_POLL_SECONDS)

    async def close(self) -> None:
        self._waiting.clear()
        if self._waiter is not None:
            self._waiter.cancel()
            await asyncio.wait([self._waiter])


class _LiveWorker(KafkaWorker):
    def __init__(self, consumer: KafkaConsumer, feed: LiveFeed) -> None:
        super().__init__(consumer)
        self.feed = feed

    async def stop(self) -> None:
        try:
            await super().stop()
        finally:
            await self.feed.close()


def web_host_kafka_workers(
    subs: Sequence[Subscription], settings: Settings, hub: LiveHub, uow: UnitOfWork
) -> list[Worker]:
    """The web host on Kafka: the task service, the notification store, and this process's live broadcast."""
    from services.subscriptions import WEB, of_service
    from services.transport.kafka_consumer import KafkaConsumer

    feed = LiveFeed(hub, uow)
    workers: list[Worker] = []
    for sub in of_service(list(subs), WEB):
        after = feed.stored if sub.topic == TOPIC_REMINDERS else None
        consumer = KafkaConsumer(settings.kafka_bootstrap, sub.group, [sub.topic], delivering(sub, after),
                                 **kafka_options(settings))
        workers.append(KafkaWorker(consumer))
    group = f"{LIVE_GROUP_PREFIX}{uuid.uuid4().hex[:12]}"
    # "latest": a new page wants what happens from now on (committing keeps a rejoin from replaying much).
    live = KafkaConsumer(settings.kafka_bootstrap, group, [TOPIC_TASKS, TOPIC_REMINDERS], feed.on_message,
                         auto_offset_reset="latest", **kafka_options(settings))
    workers.append(_LiveWorker(live, feed))
    return workers


def dapr_app_token(settings: Settings) -> str | None:
    """The app API token every Dapr delivery route of this process demands (APP_API_TOKEN); raises
    UnprotectedDelivery in production when there is none, and warns in development."""
    from services.transport.dapr import delivery_token

    token = settings.dapr_app_token.get_secret_value() if settings.dapr_app_token is not None else None
    return delivery_token(token, production=settings.env == "production")


def dapr_routes(subs: Sequence[Subscription]) -> list[DaprRoute]:
    """The Dapr subscription routes of `subs`: `/events/<group>` per subscription."""
    return [(sub.topic, f"/events/{sub.group}", delivering(sub)) for sub in subs]


def web_host_dapr_routes(subs: Sequence[Subscription], hub: LiveHub, uow: UnitOfWork) -> list[DaprRoute]:
    """The web host on Dapr: the task service, the notification store (which also shows what it stored) and the
    task-change feed at LIVE_ROUTE. Dapr delivers each message of a component to one replica of the app; for the
    feed to reach every replica, subscribe it through a component whose consumer group is the pod
    (TODO_AGENT_DAPR_LIVE_PUBSUB; the Helm chart's `pubsub-live`, consumerGroup "{podName}")."""
    from services.subscriptions import WEB, of_service

    feed = LiveFeed(hub, uow)
    routes: list[DaprRoute] = []
    for sub in of_service(list(subs), WEB):
        after = feed.stored if sub.topic == TOPIC_REMINDERS else None
        routes.append((sub.topic, f"/events/{sub.group}", delivering(sub, after)))
    routes.append((TOPIC_TASKS, LIVE_ROUTE, feed.on_message))
    return routes


async def run_workers(workers: Sequence[Worker]) -> list[asyncio.Task[None]]:
    """Start each worker as a task (a worker that fails is logged; the process keeps serving)."""
    tasks = []
    for worker in workers:
        task = asyncio.create_task(worker.run(), name=f"worker-{getattr(worker, 'name', type(worker).__name__)}")
        task.add_done_callback(_log_failure)
        tasks.append(task)
    await asyncio.sleep(0)
    return tasks


async def stop_workers(workers: Sequence[Worker], tasks: Sequence[asyncio.Task[None]]) -> None:
    """Stop every worker (consumers finish the message in hand and commit), then wait for their tasks."""
    results = await asyncio.gather(*(w.stop() for w in workers), return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            logger.warning("stopping a worker failed: %s", result)
    if tasks:
        _, still = await asyncio.wait(tasks, timeout=15)
        for task in still:
            task.cancel()
        if still:
            await asyncio.wait(still)


def _log_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and (exc := task.exception()) is not None:
        logger.error("%s stopped: %s", task.get_name(), exc, exc_info=exc)
