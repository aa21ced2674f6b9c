"""Which consumer group handles which event types of which topic with which handler: the one table every
transport reads."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from domain.events import (
    NEXT_OCCURRENCE_REQUESTED,
    PROJECT_EVENT_TYPES,
    REMINDER_DUE,
    TASK_COMPLETED,
    TASK_EVENT_TYPES,
    TOPIC_REMINDERS,
    TOPIC_TASK_COMMANDS,
    TOPIC_TASKS,
)
from domain.uow import Tx, UnitOfWork
from services import audit, notifications, recurrence, reminder, task_commands
from services.batching import deliver_batch
from services.consumer import BatchHandler, Event, Handler, Outcome, deliver
from services.inbox import SQL_INBOX, Inbox
from services.settings import ServiceSettings

REMINDER, RECURRENCE, AUDIT, WEB = "reminder", "recurrence", "audit", "web"
SERVICES = (REMINDER, RECURRENCE, AUDIT, WEB)  # WEB: the consumers living in the web host
# The services whose inbox may live outside the effect's transaction (the Dapr state store): their effects are
# harmless to repeat (services.transport.dapr_state says why). The others keep the SQL inbox.
STATE_INBOX_SERVICES = (REMINDER, RECURRENCE)


@dataclass(frozen=True)
class Subscription:
    """A consumer group of a service on a topic, and the transport-free handler of each event type it handles."""

    service: str
    topic: str
    group: str
    handlers: Mapping[str, Handler]  # event type -> handler; the group acknowledges other types unhandled
    uow: UnitOfWork  # whose source names the service on the events the handler sends
    inbox: Inbox = field(default=SQL_INBOX)  # where the processed event ids are kept
    batch_handlers: Mapping[str, BatchHandler] = field(default_factory=dict)  # event type -> its batch form

    async def deliver(self, event: Event) -> Outcome:
        """Deliver one CloudEvent (a JSON object) through the consumer runtime: SUCCESS, RETRY or DROP."""
        return await deliver(self.uow, self.group, self._handler(event), event, self.inbox)

    async def deliver_batch(self, events: Sequence[Event]) -> list[Outcome]:
        """Deliver several CloudEvents in one transaction (services.batching); one Outcome per event."""
        return await deliver_batch(self.uow, self.group, self._handler, events, self.inbox, self._batch_handler)

    def _handler(self, event: Event) -> Handler:
        kind = event.get("type") if isinstance(event, dict) else None
        return self.handlers.get(kind, _acknowledge) if isinstance(kind, str) else _acknowledge

    def _batch_handler(self, event: Event) -> BatchHandler | None:
        kind = event.get("type") if isinstance(event, dict) else None
        return self.batch_handlers.get(kind) if isinstance(kind, str) else None


async def _acknowledge(_tx: Tx, _event: Event) -> None:
    """An event of a type the group does not handle: taken through the inbox like any other, with no effect."""


def service_uow(uow: UnitOfWork, service: str) -> UnitOfWork:
    """A unit of work on the same database and clock whose events carry the source `todo-agent/<service>`."""
    return UnitOfWork(uow.db, uow.clock, source=f"todo-agent/{service}")


def subscriptions(uow: UnitOfWork, settings: ServiceSettings | None = None) -> list[Subscription]:
    """Every service's subscriptions, their handlers bound to their ports."""
    settings = settings or ServiceSettings()
    units = {name: service_uow(uow, name) for name in SERVICES}
    on_reminder = functools.partial(reminder.on_task_event, all_day_at=settings.all_day_reminder_time)
    on_command = functools.partial(task_commands.on_next_occurrence_requested, uow=units[WEB])
    table: list[tuple[str, str, str, Iterable[str], Handler]] = [
        # service, topic, consumer group, the event types it handles, handler
        (REMINDER, TOPIC_TASKS, "reminder", TASK_EVENT_TYPES, on_reminder),
        (RECURRENCE, TOPIC_TASKS, "recurrence", [TASK_COMPLETED], recurrence.on_task_completed),
        (AUDIT, TOPIC_TASKS, "audit", TASK_EVENT_TYPES, audit.on_task_event),
        (AUDIT, TOPIC_TASKS, "audit", PROJECT_EVENT_TYPES, audit.on_project_event),
        (WEB, TOPIC_TASK_COMMANDS, "task-service", [NEXT_OCCURRENCE_REQUESTED], on_command),
        (WEB, TOPIC_REMINDERS, "notifications", [REMINDER_DUE], notifications.on_reminder_due),
    ]
    # The handlers with a form for a batch of events (services.batching); the others run per event in its transaction.
    batch_forms: dict[str, BatchHandler] = {
        "reminder": functools.partial(reminder.on_task_events, all_day_at=settings.all_day_reminder_time),
    }
    handlers: dict[tuple[str, str, str], dict[str, Handler]] = {}  # a group may name several rows (audit)
    for service, topic, group, types, handler in table:
        handlers.setdefault((service, topic, group), {}).update(dict.fromkeys(types, handler))
    return [
        Subscription(service, topic, group, by_type, units[service],
                     batch_handlers=dict.fromkeys(by_type, batch_forms[group]) if group in batch_forms else {})
        for (service, topic, group), by_type in handlers.items()
    ]


def of_service(subs: list[Subscription], service: str) -> list[Subscription]:
    """The subscriptions one service process runs."""
    return [s for s in subs if s.service == service]


def by_group(subs: list[Subscription]) -> dict[str, Subscription]:
    """Subscriptions keyed by consumer group (for replaying dead letters)."""
    return {s.group: s for s in subs}
