"""Undo: revert the actor's latest operation from the before-state its events recorded (task events of either
version, and project events: a deleted project comes back before its tasks return to it)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import col, func, select

from domain.errors import Conflict, NotFound, NothingToUndo
from domain.events import (
    PROJECT_ARCHIVED,
    PROJECT_CREATED,
    PROJECT_DELETED,
    PROJECT_EVENT_TYPES,
    PROJECT_RENAMED,
    PROJECT_RESTORED,
    PROJECT_UNARCHIVED,
    PROJECT_UPDATED,
    TASK_COMPLETED,
    TASK_CREATED,
    TASK_DELETED,
    TASK_EVENT_TYPES,
    TASK_REOPENED,
    TASK_RESTORED,
    TASK_UPDATED,
    ProjectChangedV1,
    TaskChanged,
    read_task_change,
)
from domain.models import OutboxEvent, Project, Task
from domain.project_schemas import ProjectView
from domain.schemas import UndoResult
from domain.uow import Tx, UnitOfWork
from domain.usecases.common import Actor, load_task
from domain.usecases.mutation import Apply, Draft, mutate
from domain.usecases.projects import check_name_free, emit_project_change, project_snapshot, project_view, touch_project
from domain.usecases.task_fields import FIELDS, as_datetime
from domain.values import Status, project_key


async def undo_last_change(uow: UnitOfWork, actor: Actor) -> UndoResult:
    """Revert the actor's latest change (every task of it, e.g. a bulk request); undo again to go further back."""
    async with uow.write() as tx:
        rows = await _latest_operation(tx, actor)
        if not rows:
            raise NothingToUndo("there is no change to undo")
        tasks, projects = [], []
        for row in rows:  # newest first
            if row.type in PROJECT_EVENT_TYPES:
                change = ProjectChangedV1.model_validate(row.payload["data"])
                known = await _known_version(tx, actor, row, change.project.version)
                projects.append(await _undo_project_event(tx, actor, row.type, change, known))
                continue
            event = read_task_change(row.payload["data"])
            await _check_unchanged(tx, actor, row, event)
            tasks.append(await mutate(tx, actor, event.task.id, _reverter(row.type, event), include_deleted=True))
        undone = {rows[0].operation_id, tx.operation_id}
        await tx.session.exec(
            sa.update(OutboxEvent).where(col(OutboxEvent.operation_id).in_(undone)).values(undoable=False)
        )
    return UndoResult(undone=_describe(rows), tasks=tasks, projects=projects)


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


async def _check_unchanged(tx: Tx, actor: Actor, row: OutboxEvent, event: TaskChanged) -> None:
    try:
        task = await load_task(tx, actor, event.task.id, include_deleted=True)
    except NotFound:
        raise Conflict(f"task {event.task.id} no longer exists; nothing to undo", field="id") from None
    if task.version != await _known_version(tx, actor, row, event.task.version):
        raise Conflict(
            f"task {event.task.id} changed after that change (now version {task.version}); undo refused "
            "so the later change is not lost",
            field="version",
        )


async def _known_version(tx: Tx, actor: Actor, row: OutboxEvent, version: int) -> int:
    """The task's (or project's) version after this change and the later ones already undone (with their undos).

    Every later event of the user is one of those (they are no longer undoable), so undoing again goes
    further back; a task whose version differs was changed by a write the log does not know about.
    """
    kinds = PROJECT_EVENT_TYPES if row.type in PROJECT_EVENT_TYPES else TASK_EVENT_TYPES
    later = (
        select(OutboxEvent)
        .where(OutboxEvent.user_id == actor.id, col(OutboxEvent.seq) > row.seq,
               col(OutboxEvent.undoable).is_(False), col(OutboxEvent.type).in_(kinds))
        .order_by(col(OutboxEvent.seq))
    )
    subject = row.payload.get("subject")
    for other in (await tx.session.exec(later)).all():
        if other.payload.get("subject") == subject:
            data = other.payload["data"]
            version = int((data.get("task") or data["project"])["version"])
    return version


def _reverter(event_type: str, event: TaskChanged) -> Apply:
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
        if "project_id" in old:
            task.project_id = old["project_id"]
        if "parent_id" in old:
            task.parent_id = old["parent_id"]
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
             TASK_REOPENED: "reopening", TASK_DELETED: "deletion", TASK_RESTORED: "restore",
             PROJECT_CREATED: "creation", PROJECT_RENAMED: "renaming", PROJECT_UPDATED: "update",
             PROJECT_ARCHIVED: "archiving", PROJECT_UNARCHIVED: "unarchiving", PROJECT_DELETED: "deletion"}
    parts = []
    project_rows = [r for r in rows if r.type in PROJECT_EVENT_TYPES]
    task_rows = [r for r in rows if r.type not in PROJECT_EVENT_TYPES]
    for noun, group in (("project", project_rows), ("task", task_rows)):
        if not group:
            continue
        names = sorted({kinds.get(r.type, r.type) for r in group})
        ids = sorted(int(str(r.payload["subject"]).removeprefix("project:")) for r in group)
        parts.append(f"{' and '.join(names)} of {noun}{'s' if len(ids) > 1 else ''} {', '.join(map(str, ids))}")
    return "; ".join(parts)


async def _undo_project_event(
    tx: Tx, actor: Actor, event_type: str, event: ProjectChangedV1, known_version: int
) -> ProjectView:
    """Revert one project event of the operation being undone (its events come newest first, so a deleted project
    is back before its tasks return to it)."""
    project = (await tx.session.exec(tx.for_update(select(Project).where(
        Project.id == event.project.id, Project.owner_id == actor.id)))).first()
    if project is None:
        raise Conflict(f"project {event.project.id} no longer exists; nothing to undo", field="id")
    if project.version != known_version:
        raise Conflict(f"project {project.name!r} changed after that change (now version {project.version}); undo "
                       "refused so the later change is not lost", field="version")
    before = project_snapshot(project)
    old = {name: pair[0] for name, pair in event.changes.items()}
    if event_type in (PROJECT_CREATED, PROJECT_RESTORED):  # delete it again, if nothing moved into it since
        await _check_empty(tx, project)
        project.deleted_at, event_type = tx.now, PROJECT_DELETED
    elif event_type == PROJECT_DELETED:
        await check_name_free(tx, actor, project.name, other_than=project.id)
        project.deleted_at, event_type = None, PROJECT_RESTORED
    elif event_type in (PROJECT_ARCHIVED, PROJECT_UNARCHIVED):
        project.archived_at = as_datetime(old.get("archived_at"))
        event_type = PROJECT_ARCHIVED if project.archived_at else PROJECT_UNARCHIVED
    else:  # renamed or updated
        if "name" in old:
            await check_name_free(tx, actor, old["name"], other_than=project.id)
            project.name, project.name_key = old["name"], project_key(old["name"])
        if "colour" in old:
            project.colour = old["colour"]
    touch_project(project, tx.now)
    tx.session.add(project)
    await tx.session.flush()
    emit_project_change(tx, actor, event_type, before, project)
    return await project_view(tx, project)


async def _check_empty(tx: Tx, project: Project) -> None:
    held = (await tx.session.exec(select(func.count()).select_from(Task).where(
        Task.project_id == project.id, col(Task.deleted_at).is_(None)))).one()
    if held:
        raise Conflict(f"project {project.name!r} holds {held} task(s) now; move or delete them before undoing its "
                       "creation", field="project")
