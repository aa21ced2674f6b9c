"""Undo: revert the actor's latest operation from the before-state its events recorded."""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import col, select

from domain.errors import Conflict, NotFound, NothingToUndo
from domain.events import (
    TASK_COMPLETED,
    TASK_CREATED,
    TASK_DELETED,
    TASK_EVENT_TYPES,
    TASK_REOPENED,
    TASK_RESTORED,
    TASK_UPDATED,
    TaskChangedV1,
)
from domain.models import OutboxEvent
from domain.schemas import UndoResult
from domain.uow import Tx, UnitOfWork
from domain.usecases.common import Actor, load_task
from domain.usecases.mutation import Apply, Draft, mutate
from domain.usecases.task_fields import FIELDS, as_datetime
from domain.values import Status


async def undo_last_change(uow: UnitOfWork, actor: Actor) -> UndoResult:
    """Revert the actor's latest change (every task of it, e.g. a bulk request); undo again to go further back."""
    async with uow.write() as tx:
        rows = await _latest_operation(tx, actor)
        if not rows:
            raise NothingToUndo("there is no change to undo")
        tasks = []
        for row in rows:
            event = TaskChangedV1.model_validate(row.payload["data"])
            await _check_unchanged(tx, actor, row, event)
            tasks.append(await mutate(tx, actor, event.task.id, _reverter(row.type, event), include_deleted=True))
        undone = {rows[0].operation_id, tx.operation_id}
        await tx.session.exec(
            sa.update(OutboxEvent).where(col(OutboxEvent.operation_id).in_(undone)).values(undoable=False)
        )
    return UndoResult(undone=_describe(rows), tasks=tasks)


async def _latest_operation(tx: Tx, actor: Actor) -> list[OutboxEvent]:
    latest = (
        select(OutboxEvent.operation_id)
        .where(OutboxEvent.user_id == actor.id, col(OutboxEvent.undoable).is_(True))
        .order_by(col(OutboxEvent.seq).desc())
        .limit(1)
        .scalar_subquery()
    )
    stmt = select(OutboxEvent).where(OutboxEvent.operation_id == latest).order_by(col(OutboxEvent.seq).desc())
    return list((await tx.session.exec(stmt)).all())


async def _check_unchanged(tx: Tx, actor: Actor, row: OutboxEvent, event: TaskChangedV1) -> None:
    try:
        task = await load_task(tx, actor, event.task.id, include_deleted=True)
    except NotFound:
        raise Conflict(f"task {event.task.id} no longer exists; nothing to undo", field="id") from None
    if task.version != await _known_version(tx, actor, row, event):
        raise Conflict(
            f"task {event.task.id} changed after that change (now version {task.version}); undo refused "
            "so the later change is not lost",
            field="version",
        )


async def _known_version(tx: Tx, actor: Actor, row: OutboxEvent, event: TaskChangedV1) -> int:
    """The task's version after this change and the later ones already undone (with their undos).

    Every later event of the user is one of those (they are no longer undoable), so undoing again goes
    further back; a task whose version differs was changed by a write the log does not know about.
    """
    later = (
        select(OutboxEvent)
        .where(OutboxEvent.user_id == actor.id, col(OutboxEvent.seq) > row.seq,
               col(OutboxEvent.undoable).is_(False), col(OutboxEvent.type).in_(TASK_EVENT_TYPES))
        .order_by(col(OutboxEvent.seq))
    )
    version = event.task.version
    for other in (await tx.session.exec(later)).all():
        if other.payload.get("subject") == str(event.task.id):
            version = int(other.payload["data"]["task"]["version"])
    return version


def _reverter(event_type: str, event: TaskChangedV1) -> Apply:
    """The change back to the before-state: each changed field from the table, then the life-cycle step back."""
    old = {name: pair[0] for name, pair in event.changes.items()}
    before = {**event.task.model_dump(mode="json"), **old}

    def apply(draft: Draft) -> str | None:
        task = draft.task
        if event_type == TASK_CREATED:
            return task.delete(draft.now)
        for field in FIELDS:
            if field.shown_as & old.keys():
                field.revert(draft, before)
        step: str | None = None
        if "status" in old:
            completed_at = as_datetime(before["completed_at"]) or draft.now
            step = task.complete(completed_at) if before["status"] == Status.COMPLETED else task.reopen()
        if "deleted_at" in old:
            deleted_at = as_datetime(before["deleted_at"])
            step = task.delete(deleted_at) if deleted_at else task.restore()
        return step

    return apply


def _describe(rows: list[OutboxEvent]) -> str:
    kinds = {TASK_CREATED: "creation", TASK_UPDATED: "update", TASK_COMPLETED: "completion",
             TASK_REOPENED: "reopening", TASK_DELETED: "deletion", TASK_RESTORED: "restore"}
    names = sorted({kinds.get(r.type, r.type) for r in rows})
    ids = sorted(int(r.payload["subject"]) for r in rows)
    return f"{' and '.join(names)} of task{'s' if len(ids) > 1 else ''} {', '.join(map(str, ids))}"
