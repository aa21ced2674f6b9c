"""Projects: an Inbox per user, unique names in any case, colours, archive, delete with its tasks (to the Inbox or
the trash) and its undo, project events in the outbox; another user's project is not found."""

from __future__ import annotations

import jsonschema
import pytest
from sqlmodel import col, select

from domain.errors import (
    Conflict,
    InboxProtected,
    InvalidInput,
    ProjectArchived,
    ProjectNameTaken,
    ProjectNotFound,
    TaskNotFound,
    VersionConflict,
)
from domain.events import (
    PROJECT_ARCHIVED,
    PROJECT_CREATED,
    PROJECT_DELETED,
    PROJECT_RENAMED,
    PROJECT_RESTORED,
    PROJECT_UNARCHIVED,
    PROJECT_UPDATED,
    TASK_DELETED,
    TASK_UPDATED,
    event_schemas,
)
from domain.models import OutboxEvent
from domain.project_schemas import ProjectUpdate
from domain.schemas import TaskCreate, TaskMove, TaskQuery, TaskUpdate
from domain.usecases import (
    archive_project,
    complete_task,
    create_project,
    create_task,
    delete_project,
    get_project,
    get_task,
    list_projects,
    list_tasks,
    move_task,
    rename_project,
    restore_task,
    unarchive_project,
    undo_last_change,
    update_project,
    update_task,
)
from tests.conftest import new_task


async def _events(uow, actor, *types):
    async with uow.read() as tx:
        stmt = select(OutboxEvent).where(OutboxEvent.user_id == actor.id).order_by(col(OutboxEvent.seq))
        return [r for r in (await tx.session.exec(stmt)).all() if not types or r.type in types]


async def _inbox(uow, actor):
    [inbox] = [p for p in await list_projects(uow, actor) if p.is_inbox]
    return inbox


async def test_a_new_user_has_an_inbox_that_new_tasks_go_to(uow, actor):
    [inbox] = await list_projects(uow, actor)
    assert inbox.name == "Inbox" and inbox.is_inbox and not inbox.archived and inbox.open_count == 0
    task = await new_task(uow, actor, "Buy milk")
    assert task.project_id == inbox.id and task.parent_id is None
    assert (await get_project(uow, actor, "inbox")).open_count == 1


async def test_creating_a_project_trims_the_name_and_stores_the_colour_lower_case(uow, actor):
    project = await create_project(uow, actor, "  Home   projects ", colour="#3B82F6")
    assert project.name == "Home projects" and project.colour == "#3b82f6" and not project.is_inbox
    assert project.version == 1 and project.open_count == 0
    assert await get_project(uow, actor, project.id) == project
    assert await get_project(uow, actor, "HOME PROJECTS") == project


@pytest.mark.parametrize("name", ["Shopping", "shopping", "SHOPPING", " shopping "])
async def test_a_duplicate_name_in_any_case_is_a_conflict_that_says_what_to_do(uow, actor, name):
    await create_project(uow, actor, "Shopping")
    with pytest.raises(ProjectNameTaken) as err:
        await create_project(uow, actor, name)
    assert isinstance(err.value, Conflict) and err.value.field == "name" and "choose another name" in err.value.message
    assert [p.name for p in await list_projects(uow, actor)] == ["Inbox", "Shopping"]


async def test_two_users_may_have_projects_of_the_same_name(uow, actor, other):
    mine = await create_project(uow, actor, "Work")
    theirs = await create_project(uow, other, "work")
    assert mine.id != theirs.id


@pytest.mark.parametrize(("name", "colour", "field"), [
    ("", None, "name"), ("   ", None, "name"), ("x" * 101, None, "name"),
    ("Ok", "blue", "colour"), ("Ok", "#abc", "colour"), ("Ok", "#12345g", "colour"), ("Ok", "3b82f6", "colour"),
])
async def test_bad_names_and_colours_are_refused_with_the_field(uow, actor, name, colour, field):
    with pytest.raises(InvalidInput) as err:
        await create_project(uow, actor, name, colour=colour)
    assert err.value.field == field
    assert len(await list_projects(uow, actor)) == 1


async def test_a_name_of_100_characters_is_accepted(uow, actor):
    assert len((await create_project(uow, actor, "n" * 100)).name) == 100


async def test_another_users_project_is_not_found_everywhere(uow, actor, other):
    theirs = await create_project(uow, other, "Secret")
    calls = [
        lambda: get_project(uow, actor, theirs.id),
        lambda: get_project(uow, actor, "Secret"),
        lambda: rename_project(uow, actor, theirs.id, "Mine"),
        lambda: archive_project(uow, actor, theirs.id),
        lambda: delete_project(uow, actor, theirs.id),
        lambda: create_task(uow, actor, TaskCreate(title="x", project=theirs.id)),
        lambda: list_tasks(uow, actor, TaskQuery(project=[theirs.id])),
    ]
    for call in calls:
        with pytest.raises(ProjectNotFound) as err:
            await call()
        assert err.value.field == "project" and "list_projects" in err.value.message
    assert await get_project(uow, other, theirs.id) == theirs


@pytest.mark.parametrize("ref", [0, -1, 2**40, "Nope"])
async def test_an_unknown_project_is_not_found(uow, actor, ref):
    with pytest.raises(ProjectNotFound):
        await create_task(uow, actor, TaskCreate(title="x", project=ref))


async def test_the_inbox_cannot_be_renamed_archived_or_deleted(uow, actor):
    inbox = await _inbox(uow, actor)
    for call, verb in [(rename_project(uow, actor, inbox.id, "Other"), "renamed"),
                       (archive_project(uow, actor, "Inbox"), "archived"),
                       (delete_project(uow, actor, inbox.id), "deleted")]:
        with pytest.raises(InboxProtected) as err:
            await call
        assert err.value.field == "project" and f"cannot be {verb}" in err.value.message
    assert await _inbox(uow, actor) == inbox
    coloured = await update_project(uow, actor, inbox.id, ProjectUpdate(colour="#ff0000"))
    assert coloured.colour == "#ff0000" and coloured.name == "Inbox"


async def test_renaming_checks_the_name_and_keeps_case_changes(uow, actor):
    home = await create_project(uow, actor, "home")
    await create_project(uow, actor, "Work")
    with pytest.raises(ProjectNameTaken):
        await rename_project(uow, actor, home.id, "WORK")
    renamed = await rename_project(uow, actor, "HOME", "Home")
    assert renamed.name == "Home" and renamed.version == 2
    with pytest.raises(VersionConflict):
        await rename_project(uow, actor, home.id, "House", expected_version=1)


async def test_an_archived_project_refuses_new_tasks_and_moves_until_unarchived(uow, actor):
    trip = await create_project(uow, actor, "Trip")
    kept = await new_task(uow, actor, "Pack", project="Trip")
    archived = await archive_project(uow, actor, trip.id)
    assert archived.archived and archived.archived_at is not None and archived.open_count == 1
    assert [p.name for p in await list_projects(uow, actor)] == ["Inbox"]
    assert [p.name for p in await list_projects(uow, actor, include_archived=True)] == ["Inbox", "Trip"]
    loose = await new_task(uow, actor, "Loose")
    for call in [create_task(uow, actor, TaskCreate(title="Book", project="trip")),
                 move_task(uow, actor, loose.id, TaskMove(project=trip.id)),
                 update_task(uow, actor, loose.id, TaskUpdate(project="Trip")),
                 create_task(uow, actor, TaskCreate(title="Sub", parent_id=kept.id))]:
        with pytest.raises(ProjectArchived) as err:
            await call
        assert "unarchive it first" in err.value.message and err.value.field == "project"
    assert (await get_task(uow, actor, kept.id)).project_id == trip.id  # its tasks stay
    await unarchive_project(uow, actor, "trip")
    moved = await move_task(uow, actor, loose.id, TaskMove(project="Trip"))
    assert moved.project_id == trip.id


async def test_open_counts_count_open_live_tasks_per_project(uow, actor):
    work = await create_project(uow, actor, "Work")
    a = await new_task(uow, actor, "a", project=work.id)
    await new_task(uow, actor, "b", project="work")
    c = await new_task(uow, actor, "c", project="Work")
    await new_task(uow, actor, "inbox one")
    await complete_task(uow, actor, a.id)
    await update_task(uow, actor, c.id, TaskUpdate(title="c2"))
    from domain.usecases import delete_task

    await delete_task(uow, actor, c.id)
    counts = {p.name: p.open_count for p in await list_projects(uow, actor)}
    assert counts == {"Inbox": 1, "Work": 1}


async def test_deleting_a_project_moves_its_tasks_to_the_inbox_keeping_their_subtasks(uow, actor):
    work = await create_project(uow, actor, "Work")
    parent = await new_task(uow, actor, "Report", project=work.id)
    child = await new_task(uow, actor, "Draft", parent_id=parent.id)
    deletion = await delete_project(uow, actor, "work")
    inbox = await _inbox(uow, actor)
    assert deletion.moved == 2 and deletion.trashed == 0 and deletion.project.id == work.id
    assert (await get_task(uow, actor, parent.id)).project_id == inbox.id
    moved_child = await get_task(uow, actor, child.id)
    assert moved_child.project_id == inbox.id and moved_child.parent_id == parent.id
    with pytest.raises(ProjectNotFound):
        await get_project(uow, actor, work.id)
    assert [p.name for p in await list_projects(uow, actor, include_archived=True)] == ["Inbox"]
    again = await create_project(uow, actor, "Work")  # the name is free again
    assert again.id != work.id


async def test_deleting_a_project_with_tasks_trash_moves_its_live_tasks_to_the_trash(uow, actor):
    errands = await create_project(uow, actor, "Errands")
    a = await new_task(uow, actor, "Post office", project=errands.id)
    b = await new_task(uow, actor, "Bank", project=errands.id)
    deletion = await delete_project(uow, actor, errands.id, tasks="trash")
    assert deletion.trashed == 2 and deletion.moved == 0
    for task_id in (a.id, b.id):
        with pytest.raises(TaskNotFound):
            await get_task(uow, actor, task_id)
    restored = await restore_task(uow, actor, a.id)  # its project is gone: back into the Inbox
    assert restored.project_id == (await _inbox(uow, actor)).id and restored.deleted_at is None


async def test_deleting_with_an_unknown_tasks_choice_is_refused(uow, actor):
    await create_project(uow, actor, "Keep")
    with pytest.raises(InvalidInput) as err:
        await delete_project(uow, actor, "Keep", tasks="elsewhere")  # type: ignore[arg-type]
    assert err.value.field == "tasks"
    assert (await get_project(uow, actor, "Keep")).name == "Keep"


@pytest.mark.parametrize("tasks", ["inbox", "trash"])
async def test_undo_of_a_project_deletion_brings_it_back_with_its_tasks_where_they_were(uow, actor, tasks):
    home = await create_project(uow, actor, "Home", colour="#00ff00")
    parent = await new_task(uow, actor, "Clean", project=home.id)
    child = await new_task(uow, actor, "Kitchen", parent_id=parent.id)
    await delete_project(uow, actor, home.id, tasks=tasks)
    result = await undo_last_change(uow, actor)
    assert [p.id for p in result.projects] == [home.id] and "project" in result.undone
    back = await get_project(uow, actor, "home")
    assert back.id == home.id and back.colour == "#00ff00" and back.open_count == 2
    assert (await get_task(uow, actor, parent.id)).project_id == home.id
    again = await get_task(uow, actor, child.id)
    assert again.project_id == home.id and again.parent_id == parent.id and again.deleted_at is None
    assert [r.type for r in await _events(uow, actor, PROJECT_RESTORED)] == [PROJECT_RESTORED]


async def test_undo_goes_back_through_a_new_project_of_the_name_to_the_deletion_before_it(uow, actor):
    old = await create_project(uow, actor, "Garden")
    await delete_project(uow, actor, old.id)
    await create_project(uow, actor, "garden")
    await undo_last_change(uow, actor)  # undoes the creation of the new one
    with pytest.raises(ProjectNotFound):
        await get_project(uow, actor, "garden")
    result = await undo_last_change(uow, actor)  # now the deletion: the name is free
    assert result.projects[0].id == old.id and (await get_project(uow, actor, "GARDEN")).id == old.id


async def test_undo_of_a_creation_is_refused_while_the_project_holds_tasks_the_log_cannot_undo(uow, actor, clock):
    from domain.usecases import create_successor

    project = await create_project(uow, actor, "Chores")
    task = await new_task(uow, actor, "Bins", due_at="2026-06-01T08:00:00Z", recurrence={"rule": "weekly"})
    await move_task(uow, actor, task.id, TaskMove(project=project.id))
    await undo_last_change(uow, actor)  # the move
    await move_task(uow, actor, task.id, TaskMove(project=project.id))
    await complete_task(uow, actor, task.id)
    successor = await create_successor(uow, actor, task.id)  # a system change: not undoable
    assert successor is not None and successor.project_id == project.id
    await undo_last_change(uow, actor)  # the completion
    await undo_last_change(uow, actor)  # the move
    await undo_last_change(uow, actor)  # the undo of the first move is not undoable; next: the task's creation
    with pytest.raises(Conflict) as err:
        await undo_last_change(uow, actor)  # the project's creation: the successor is still in it
    assert "holds 1 task" in err.value.message


async def test_undo_reverts_a_rename_and_an_archive(uow, actor):
    project = await create_project(uow, actor, "Draft")
    await rename_project(uow, actor, project.id, "Final")
    await archive_project(uow, actor, project.id)
    await undo_last_change(uow, actor)
    assert not (await get_project(uow, actor, "Final")).archived
    await undo_last_change(uow, actor)
    assert (await get_project(uow, actor, project.id)).name == "Draft"


async def test_project_events_are_written_with_snapshot_and_changes(uow, actor):
    project = await create_project(uow, actor, "Books")
    await rename_project(uow, actor, project.id, "Reading")
    await update_project(uow, actor, project.id, ProjectUpdate(colour="#112233"))
    await archive_project(uow, actor, project.id)
    await unarchive_project(uow, actor, project.id)
    task = await new_task(uow, actor, "Dune", project=project.id)
    await delete_project(uow, actor, project.id, tasks="trash")
    rows = await _events(uow, actor)
    project_rows = [r for r in rows if r.type.startswith("com.todoagent.project.")]
    assert [r.type for r in project_rows] == [PROJECT_CREATED, PROJECT_RENAMED, PROJECT_UPDATED, PROJECT_ARCHIVED,
                                              PROJECT_UNARCHIVED, PROJECT_DELETED]
    for row in project_rows:
        event = row.payload
        assert row.topic == "tasks" and row.key == str(actor.id) and event["subject"] == f"project:{project.id}"
        assert event["data"]["schema_version"] == 1 and event["data"]["project"]["id"] == project.id
        jsonschema.validate(event["data"], event_schemas()[f"{row.type}.v1"])
    assert project_rows[1].payload["data"]["changes"]["name"] == ["Books", "Reading"]
    assert project_rows[2].payload["data"]["changes"] == {"colour": [None, "#112233"]}
    deleted_task = [r for r in rows if r.type == TASK_DELETED]
    assert [r.payload["subject"] for r in deleted_task] == [str(task.id)]
    assert rows[-1].type == PROJECT_DELETED  # after its tasks: undo reverts it first
    assert len({r.operation_id for r in rows[-2:]}) == 1


async def test_moving_tasks_to_the_inbox_on_delete_records_each_move(uow, actor):
    project = await create_project(uow, actor, "Moving")
    task = await new_task(uow, actor, "Box", project=project.id)
    inbox = await _inbox(uow, actor)
    await delete_project(uow, actor, project.id)
    [move] = await _events(uow, actor, TASK_UPDATED)
    assert move.payload["subject"] == str(task.id)
    assert move.payload["data"]["changes"] == {"project_id": [project.id, inbox.id]}
