"""The one consumer runtime every transport calls: inbox, effect and outgoing messages in one transaction.

`deliver(uow, group, handler, event)` answers SUCCESS (done, or done before: the inbox remembers it), RETRY
(a transient failure: nothing was written; deliver it again later, with backoff) or DROP (poison: it is in the
dead letters; do not deliver it again). A value the database refuses outright (out of range, a broken constraint)
and an event for a user that does not exist are poison too: retrying them could never succeed.

The inbox is the SQL table by default (services.inbox); a service may keep it elsewhere (the Dapr state store),
and these answers stay the same.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from sqlalchemy.exc import DataError, IntegrityError
from sqlmodel import select

from domain.events import TASK_CHANGED_VERSIONS, TOPIC_OF, TaskChanged, read_task_change
from domain.models import User
from domain.uow import Tx, UnitOfWork
from domain.values import valid_id
from services.inbox import SQL_INBOX, Inbox, InboxBusy
from services.tables import EVENT_ID_LENGTH, DeadLetter

logger = logging.getLogger(__name__)

MAX_ERROR_LENGTH = 2000
# What the database raises for a value it can never store (PostgreSQL: DataError / IntegrityError; SQLite's
# driver: OverflowError for an integer beyond 64 bits); redelivering the same event would fail the same way.
NEVER_STORABLE = (DataError, IntegrityError, OverflowError)

Event = dict[str, Any]
Handler = Callable[[Tx, Event], Awaitable[None]]
BatchHandler = Callable[[Tx, list[Event]], Awaitable[None]]  # a handler's form taking several events at once
M = TypeVar("M", bound=BaseModel)


class Outcome(enum.StrEnum):
    """What a delivery came to (the strings are Dapr's subscriber answers)."""

    SUCCESS = "SUCCESS"
    RETRY = "RETRY"
    DROP = "DROP"


class Poison(Exception):
    """The message can never be handled (bad payload, unknown schema version): dead-letter it."""


async def deliver(
    uow: UnitOfWork, group: str, handler: Handler, event: Event, inbox: Inbox = SQL_INBOX
) -> Outcome:
    """Handle `event` once for `group` through `inbox`: the handler's effect and its outbox rows commit together
    (with the SQL inbox, the inbox row too)."""
    try:
        event_id = event_id_of(event)
    except Poison as exc:
        return await _drop(uow, group, event, exc)
    try:
        if not await inbox.once(uow, group, event_id, lambda tx: handler(tx, event)):
            logger.debug("%s: event %s already processed", group, event_id)
            return Outcome.SUCCESS
    except InboxBusy as exc:
        logger.warning("%s: event %s will be retried: %s", group, event_id, exc)
        return Outcome.RETRY
    except Poison as exc:
        return await _drop(uow, group, event, exc)
    except NEVER_STORABLE as exc:
        return await _drop(uow, group, event, Poison(f"the database refused it: {_first_line(exc)}"))
    except Exception:
        logger.warning("%s: event %s failed; it will be retried", group, event_id, exc_info=True)
        return Outcome.RETRY
    return Outcome.SUCCESS


def event_id_of(event: Event) -> str:
    """The CloudEvent id, or Poison when there is none."""
    event_id = event.get("id") if isinstance(event, dict) else None
    if not isinstance(event_id, str) or not 0 < len(event_id) <= EVENT_ID_LENGTH:
        raise Poison("the message has no CloudEvent id")
    return event_id


async def require_user(tx: Tx, user_id: int) -> None:
    """Poison unless the user exists: an event for an account that is gone (or never was) can never be handled."""
    if not valid_id(user_id) or await tx.session.get(User, user_id) is None:
        raise Poison(f"user {user_id} does not exist")


def _first_line(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None)  # a DBAPIError's driver error says it best
    text = str(orig if orig is not None else exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0] if text else ''}"


def decode(event: Event, model: type[M]) -> M:
    """The event's `data` as `model`; Poison for another schema version or a payload that does not fit."""
    data = event.get("data")
    if not isinstance(data, dict):
        raise Poison("the CloudEvent has no JSON object in 'data'")
    expected = model.model_fields["schema_version"].default
    if data.get("schema_version") != expected:
        raise Poison(f"unknown schema_version {data.get('schema_version')!r} for {event.get('type')} "
                     f"(this consumer reads {expected})")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise Poison(f"invalid {model.__name__}: {exc.error_count()} errors: {exc.errors()[0]['msg']}") from exc


def decode_task_change(event: Event) -> TaskChanged:
    """The `data` of a task event of any version still read (1 and 2); Poison for another version or a misfit."""
    data = event.get("data")
    if not isinstance(data, dict):
        raise Poison("the CloudEvent has no JSON object in 'data'")
    if data.get("schema_version") not in TASK_CHANGED_VERSIONS:
        raise Poison(f"unknown schema_version {data.get('schema_version')!r} for {event.get('type')} "
                     f"(this consumer reads {', '.join(map(str, TASK_CHANGED_VERSIONS))})")
    try:
        return read_task_change(data)
    except ValidationError as exc:
        raise Poison(f"invalid task event data: {exc.error_count()} errors: {exc.errors()[0]['msg']}") from exc


async def _drop(uow: UnitOfWork, group: str, event: Event, exc: Poison) -> Outcome:
    """DROP once the dead letter is stored; RETRY if even that fails (the database is down)."""
    payload = event if isinstance(event, dict) else {"raw": repr(event)}  # transports may hand over anything
    event_id = str(payload.get("id") or "")[:EVENT_ID_LENGTH]
    error = f"{exc}"[:MAX_ERROR_LENGTH]
    logger.error("%s: dropping poison event %s to the dead letters: %s", group, event_id or "<no id>", error,
                 extra={"event_id": event_id, "consumer_group": group})
    try:
        await _dead_letter(uow, group, event_id, payload, error)
    except Exception:
        logger.warning("%s: storing dead letter %s failed; it will be retried", group, event_id, exc_info=True)
        return Outcome.RETRY
    return Outcome.DROP


async def _dead_letter(uow: UnitOfWork, group: str, event_id: str, payload: Event, error: str) -> None:
    """Record the poison message (once per group and event id; a repeat updates the error and clears replayed)."""
    async with uow.write() as tx:
        existing = (await tx.session.exec(
            select(DeadLetter).where(DeadLetter.consumer_group == group, DeadLetter.event_id == event_id)
        )).first()
        if existing is not None:
            existing.error, existing.attempts, existing.replayed_at = error, existing.attempts + 1, None
            tx.session.add(existing)
            return
        tx.session.add(DeadLetter(
            consumer_group=group, topic=topic_of(payload), event_id=event_id,
            event_type=str(payload.get("type", ""))[:200], payload=payload, error=error, created_at=tx.now,
        ))


def topic_of(event: Event) -> str:
    """The topic an event travels on, from its type (unknown types: '?')."""
    return TOPIC_OF.get(str(event.get("type")), "?")
