"""Project use cases: list with open-task counts, get, create, rename, archive, unarchive, delete (its tasks to the
Inbox or the trash, undoable). Every user has an Inbox ("Inbox"): made with the user, the default project of new
tasks, never renamed, archived or deleted.

A project is named in inputs by id (a number) or by name (text, any case); another user's project, a deleted one
and an unknown one are all not found.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from sqlmodel import col, func, select

from domain.errors import (
    InboxProtected,
    InvalidInput,
    ProjectArchived,
    ProjectNameTaken,
    ProjectNotFound,
    VersionConflict,
)
from domain.events import (
    PROJECT_ARCHIVED,
    PROJECT_CREATED,
    PROJECT_DELETED,
    PROJECT_RENAMED,
    PROJECT_UNARCHIVED,
    PROJECT_UPDATED,
    ProjectChangedV1,
    ProjectSnapshot,
)
from domain.models import Project, Task
from domain.project_schemas import ProjectDeletion, ProjectUpdate, ProjectView
from domain.schemas import ProjectRef
from domain.uow import Tx, UnitOfWork
from domain.usecases.common import Actor
from domain.usecases.mutation import Draft, delete, mutate
from domain.values import INBOX_NAME, Status, check_colour, check_project_name, project_key, valid_id

DeletedTasks = Literal["inbox", "trash"]


def new_inbox(owner_id: int, now: datetime) -> Project:
    """The Inbox of a new user (create_user adds it in the user's transaction)."""
    return Project(owner_id=owner_id, name=INBOX_NAME, name_key=project_key(INBOX_NAME), is_inbox=True,
                   created_at=now, updated_at=now)


async def inbox_of(tx: Tx, owner_id: int) -> Project:
    """The user's Inbox (made now if missing: a user created before projects existed and not migrated)."""
    found = (await tx.session.exec(select(Project).where(Project.owner_id == owner_id,
                                                         col(Project.is_inbox).is_(True)))).first()
    if found is None:
        found = new_inbox(owner_id, tx.now)
        tx.session.add(found)
        await tx.session.flush()
    return found


async def find_project(tx: Tx, actor: Actor, ref: ProjectRef, *, field: str = "project",
                       for_update: bool = False) -> Project:
    """The actor's live project named by id or by name (any case); ProjectNotFound otherwise."""
    stmt = select(Project).where(Project.owner_id == actor.id, col(Project.deleted_at).is_(None))
    if isinstance(ref, int):
        if not valid_id(ref):
            raise ProjectNotFound(ref, field)
        stmt = stmt.where(Project.id == ref)
    else:
        stmt = stmt.where(Project.name_key == project_key(ref))
    if for_update:
        stmt = tx.for_update(stmt)
    found = (await tx.session.exec(stmt)).first()
    if found is None:
        raise ProjectNotFound(ref if isinstance(ref, int) else " ".join(ref.split()), field)
    return found


async def target_project(tx: Tx, actor: Actor, ref: ProjectRef | None, *, field: str = "project") -> Project:
    """The project a task is created in or moved into: the named one (not archived), or the Inbox."""
    project = await inbox_of(tx, actor.id) if ref is None else await find_project(tx, actor, ref, field=field)
    if project.archived_at is not None:
        raise ProjectArchived(project.name, field)
    return project


def project_snapshot(project: Project) -> ProjectSnapshot:
    return ProjectSnapshot.model_validate(project, from_attributes=True)


def to_project_view(project: Project, open_count: int) -> ProjectView:
    assert project.id is not None
    return ProjectView(
        id=project.id, name=project.name, colour=project.colour, is_inbox=project.is_inbox,
        archived=project.archived_at is not None, archived_at=project.archived_at, open_count=open_count,
        created_at=project.created_at, updated_at=project.updated_at, version=project.version,
    )


def emit_project_change(tx: Tx, actor: Actor, event_type: str, before: ProjectSnapshot | None,
                        project: Project) -> None:
    """Write the project event to the outbox (undoable: it records the before-state)."""
    after = project_snapshot(project)
    new, old = after.model_dump(mode="json"), before.model_dump(mode="json") if before else {}
    changes = {k: (old.get(k), v) for k, v in new.items() if k not in ("updated_at", "version") and old.get(k) != v}
    data = ProjectChangedV1(user_id=actor.id, actor=actor.name, operation_id=tx.operation_id, project=after,
                            changes=changes)
    tx.emit(event_type, data, user_id=actor.id, subject=f"project:{after.id}", undoable=True)


def touch_project(project: Project, now: datetime) -> None:
    project.updated_at = now
    project.version += 1


async def open_counts(tx: Tx, project_ids: list[int]) -> dict[int, int]:
    """Open tasks (not in the trash) of each project, in one query."""
    if not project_ids:
        return {}
    stmt = (select(Task.project_id, func.count()).where(col(Task.project_id).in_(project_ids),
                                                         col(Task.deleted_at).is_(None),
                                                         col(Task.status) == Status.OPEN.value)
            .group_by(col(Task.project_id)))
    return {project_id: int(count) for project_id, count in (await tx.session.exec(stmt)).all()}


async def project_view(tx: Tx, project: Project) -> ProjectView:
    assert project.id is not None
    return to_project_view(project, (await open_counts(tx, [project.id])).get(project.id, 0))


async def list_projects(uow: UnitOfWork, actor: Actor, *, include_archived: bool = False) -> list[ProjectView]:
    """The actor's projects with their open-task counts: the Inbox first, then by name; archived ones only when
    asked."""
    async with uow.read() as tx:
        stmt = select(Project).where(Project.owner_id == actor.id, col(Project.deleted_at).is_(None))
        if not include_archived:
            stmt = stmt.where(col(Project.archived_at).is_(None))
        stmt = stmt.order_by(col(Project.is_inbox).desc(), col(Project.name_key), col(Project.id))
        projects = list((await tx.session.exec(stmt)).all())
        counts = await open_counts(tx, [p.id for p in projects if p.id is not None])
    return [to_project_view(p, counts.get(p.id or 0, 0)) for p in projects]


async def get_project(uow: UnitOfWork, actor: Actor, project: ProjectRef) -> ProjectView:
    """One of the actor's projects, by id or name."""
    async with uow.read() as tx:
        return await project_view(tx, await find_project(tx, actor, project))


async def create_project(uow: UnitOfWork, actor: Actor, name: str, *, colour: str | None = None) -> ProjectView:
    """Create a project; its name (1..100 characters) must differ from the actor's other projects in any case."""
    name, colour = check_project_name(name), check_colour(colour)
    async with uow.write() as tx:
        await check_name_free(tx, actor, name)
        project = Project(owner_id=actor.id, name=name, name_key=project_key(name), colour=colour,
                          created_at=tx.now, updated_at=tx.now)
        tx.session.add(project)
        await tx.session.flush()
        emit_project_change(tx, actor, PROJECT_CREATED, None, project)
        return to_project_view(project, 0)


async def check_name_free(tx: Tx, actor: Actor, name: str, *, other_than: int | None = None) -> None:
    stmt = select(Project.id).where(Project.owner_id == actor.id, col(Project.deleted_at).is_(None),
                                    Project.name_key == project_key(name))
    if other_than is not None:
        stmt = stmt.where(Project.id != other_than)
    if (await tx.session.exec(stmt)).first() is not None:
        raise ProjectNameTaken(name)


def _check_version(project: Project, expected: int | None) -> None:
    if expected is not None and expected != project.version:
        assert project.id is not None
        raise VersionConflict(project.id, expected, project.version, noun="project")


async def update_project(uow: UnitOfWork, actor: Actor, project: ProjectRef, data: ProjectUpdate, *,
                         expected_version: int | None = None) -> ProjectView:
    """Change a project's name and/or colour (only the fields given; a null colour clears it)."""
    given = data.model_fields_set
    name = check_project_name(data.name or "") if "name" in given else None
    colour = check_colour(data.colour) if "colour" in given else None
    async with uow.write() as tx:
        found = await find_project(tx, actor, project, for_update=True)
        _check_version(found, expected_version)
        before = project_snapshot(found)
        if name is not None and name != found.name:
            if found.is_inbox:
                raise InboxProtected("renamed")
            await check_name_free(tx, actor, name, other_than=found.id)
            found.name, found.name_key = name, project_key(name)
        if "colour" in given:
            found.colour = colour
        if project_snapshot(found) == before:
            return await project_view(tx, found)
        touch_project(found, tx.now)
        tx.session.add(found)
        await tx.session.flush()
        emit_project_change(tx, actor, PROJECT_RENAMED if found.name != before.name else PROJECT_UPDATED,
                            before, found)
        return await project_view(tx, found)


async def rename_project(uow: UnitOfWork, actor: Actor, project: ProjectRef, name: str, *,
                         expected_version: int | None = None) -> ProjectView:
    """Rename a project (not the Inbox); the new name must be free in any case."""
    return await update_project(uow, actor, project, ProjectUpdate(name=name), expected_version=expected_version)


async def _set_archived(uow: UnitOfWork, actor: Actor, project: ProjectRef, archived: bool,
                        expected_version: int | None) -> ProjectView:
    async with uow.write() as tx:
        found = await find_project(tx, actor, project, for_update=True)
        _check_version(found, expected_version)
        if found.is_inbox:
            raise InboxProtected("archived")
        if (found.archived_at is not None) == archived:
            return await project_view(tx, found)
        before = project_snapshot(found)
        found.archived_at = tx.now if archived else None
        touch_project(found, tx.now)
        tx.session.add(found)
        emit_project_change(tx, actor, PROJECT_ARCHIVED if archived else PROJECT_UNARCHIVED, before, found)
        return await project_view(tx, found)


async def archive_project(uow: UnitOfWork, actor: Actor, project: ProjectRef, *,
                          expected_version: int | None = None) -> ProjectView:
    """Archive a project: it leaves the project list and takes no new tasks; its tasks stay where they are."""
    return await _set_archived(uow, actor, project, True, expected_version)


async def unarchive_project(uow: UnitOfWork, actor: Actor, project: ProjectRef, *,
                            expected_version: int | None = None) -> ProjectView:
    """Bring an archived project back to the list."""
    return await _set_archived(uow, actor, project, False, expected_version)


async def delete_project(uow: UnitOfWork, actor: Actor, project: ProjectRef, *, tasks: DeletedTasks = "inbox",
                         expected_version: int | None = None) -> ProjectDeletion:
    """Delete a project (not the Inbox) in one transaction: its tasks move to the Inbox (keeping their subtasks),
    or with tasks="trash" its live tasks go to the trash. undo_last_change brings the project and its tasks back."""
    if tasks not in ("inbox", "trash"):
        raise InvalidInput(f"tasks must be 'inbox' (move them to the Inbox) or 'trash' (got {tasks!r})",
                           field="tasks")
    async with uow.write() as tx:
        found = await find_project(tx, actor, project, for_update=True)
        _check_version(found, expected_version)
        if found.is_inbox:
            raise InboxProtected("deleted")
        before = project_snapshot(found)
        open_count = (await open_counts(tx, [found.id or 0])).get(found.id or 0, 0)
        stmt = select(Task.id).where(Task.project_id == found.id).order_by(col(Task.id))
        if tasks == "trash":
            stmt = stmt.where(col(Task.deleted_at).is_(None))
        task_ids = list((await tx.session.exec(stmt)).all())
        if tasks == "inbox":
            inbox_id = (await inbox_of(tx, actor.id)).id
            assert inbox_id is not None

            def into_inbox(draft: Draft) -> None:
                draft.task.project_id = inbox_id

            for task_id in task_ids:
                assert task_id is not None
                await mutate(tx, actor, task_id, into_inbox, include_deleted=True)
        else:
            for task_id in task_ids:
                assert task_id is not None
                await mutate(tx, actor, task_id, delete)
        found.deleted_at = tx.now
        touch_project(found, tx.now)
        tx.session.add(found)
        emit_project_change(tx, actor, PROJECT_DELETED, before, found)  # last: undo reverts it first
        view = to_project_view(found, open_count)
    moved = len(task_ids) if tasks == "inbox" else 0
    return ProjectDeletion(project=view, moved=moved, trashed=len(task_ids) - moved)


async def project_names(uow: UnitOfWork, actor: Actor) -> dict[str, str]:
    """The actor's live, unarchived projects as {case-folded name: name} (what quick add's `#name` may pick)."""
    async with uow.read() as tx:
        stmt = select(Project.name_key, Project.name).where(
            Project.owner_id == actor.id, col(Project.deleted_at).is_(None), col(Project.archived_at).is_(None))
        return dict((await tx.session.exec(stmt)).all())
