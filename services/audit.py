"""The audit service's handlers: every task event (either version) and every project event becomes an audit entry
with the task (or project) before and after."""

from __future__ import annotations

from typing import Any

from domain.events import PROJECT_CREATED, TASK_CREATED, CloudEvent, ProjectChangedV1
from domain.uow import Tx
from services.consumer import Event, Poison, decode, decode_task_change
from services.tables import AuditEntry

# Fields the event does not say the old value of (they move with every change): left out of `before`.
UNKNOWN_BEFORE = ("updated_at", "version", "due_local")


async def on_task_event(tx: Tx, event: Event) -> None:
    """Append the event to the audit log."""
    envelope = _envelope(event)
    change = decode_task_change(event)
    after = change.task.model_dump(mode="json")
    tx.session.add(AuditEntry(
        event_id=envelope.id, type=envelope.type, user_id=change.user_id, task_id=change.task.id,
        actor=change.actor[:100], time=envelope.time,
        before=None if envelope.type == TASK_CREATED else before_of(after, change.changes),
        after=after, created_at=tx.now,
    ))


async def on_project_event(tx: Tx, event: Event) -> None:
    """Append the project event to the audit log (it names a project, no task)."""
    envelope = _envelope(event)
    change = decode(event, ProjectChangedV1)
    after = change.project.model_dump(mode="json")
    tx.session.add(AuditEntry(
        event_id=envelope.id, type=envelope.type, user_id=change.user_id, task_id=None,
        project_id=change.project.id, actor=change.actor[:100], time=envelope.time,
        before=None if envelope.type == PROJECT_CREATED else before_of(after, change.changes),
        after=after, created_at=tx.now,
    ))


def before_of(after: dict[str, Any], changes: dict[str, tuple[Any, Any]]) -> dict[str, Any]:
    """The snapshot before the change: the one after with each changed field's old value put back."""
    before = {k: v for k, v in after.items() if k not in UNKNOWN_BEFORE}
    for field, (old, _new) in changes.items():
        before[field] = old
    return before


def _envelope(event: Event) -> CloudEvent:
    try:
        return CloudEvent.model_validate(event)
    except ValueError as exc:
        raise Poison(f"not a CloudEvent: {exc}") from exc
