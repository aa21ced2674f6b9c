"""Subtasks: same project as the parent, at most three levels, no cycles; moving a subtree; completing a parent
(refuse or complete all); deleting and restoring a subtree; a recurring parent's successor; bulk requests; list
filters and counts; quick add's `#project`."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlmodel import col, select

from domain.errors import InvalidInput, OpenSubtasks, ProjectNotFound, TaskNotFound
from domain.models import Task
from domain.schemas import TaskCreate, TaskMove, TaskQuery, TaskUpdate
from domain.usecases import (
    archive_project,
    bulk_complete,
    bulk_delete,
    complete_task,
    create_project,
    create_successor,
    create_task,
    delete_task,
    get_task,
    list_projects,
    list_tasks,
    move_task,
    preview_quick_add,
    quick_add,
    restore_task,
    search_tasks,
    task_query,
    undo_last_change,
    update_task,
)
from tests.conftest import new_task

T0 = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)


async def _chain(uow, actor, depth, **fields):
    """A task with `depth` - 1 levels of subtasks under it, one per level: [top, child, grandchild, ...]."""
    tasks = [await new_task(uow, actor, "level 1", **fields)]
    for level in range(2, depth + 1):
        tasks.append(await new_task(uow, actor, f"level {level}", parent_id=tasks[-1].id))
    return tasks


async def test_a_subtask_goes_into_its_parents_project(uow, actor):
    work = await create_project(uow, actor, "Work")
    parent = await new_task(uow, actor, "Plan trip", project=work.id)
    child = await new_task(uow, actor, "Book flights", parent_id=parent.id)
    assert child.parent_id == parent.id and child.project_id == work.id
    same = await new_task(uow, actor, "Book hotel", parent_id=parent.id, project="work")
    assert same.project_id == work.id


async def test_a_parent_in_another_project_is_refused_on_create(uow, actor):
    work = await create_project(uow, actor, "Work")
    await create_project(uow, actor, "Home")
    parent = await new_task(uow, actor, "Report", project=work.id)
    with pytest.raises(InvalidInput) as err:
        await create_task(uow, actor, TaskCreate(title="x", parent_id=parent.id, project="Home"))
    assert err.value.field == "parent_id" and "another project" in err.value.message


@pytest.mark.parametrize("parent_id", [0, 999_999_999, 2**40])
async def test_an_unknown_parent_is_refused_naming_the_field(uow, actor, parent_id):
    with pytest.raises(InvalidInput) as err:
        await create_task(uow, actor, TaskCreate(title="x", parent_id=parent_id))
    assert err.value.field == "parent_id" and "not found" in err.value.message


async def test_another_users_task_or_a_trashed_one_cannot_be_a_parent(uow, actor, other):
    theirs = await new_task(uow, other, "Theirs")
    trashed = await new_task(uow, actor, "Old")
    await delete_task(uow, actor, trashed.id)
    for parent_id in (theirs.id, trashed.id):
        with pytest.raises(InvalidInput) as err:
            await create_task(uow, actor, TaskCreate(title="x", parent_id=parent_id))
        assert err.value.field == "parent_id"
    assert (await list_tasks(uow, actor)).count == 0


async def test_three_levels_are_allowed_and_a_fourth_is_refused(uow, actor):
    top, child, grandchild = await _chain(uow, actor, 3)
    with pytest.raises(InvalidInput) as err:
        await create_task(uow, actor, TaskCreate(title="level 4", parent_id=grandchild.id))
    assert err.value.field == "parent_id" and "at most 3 levels" in err.value.message
    loose = await new_task(uow, actor, "Loose")
    with pytest.raises(InvalidInput) as err:
        await move_task(uow, actor, loose.id, TaskMove(parent_id=grandchild.id))
    assert err.value.field == "parent_id"
    two = await _chain(uow, actor, 2)
    with pytest.raises(InvalidInput) as err:  # two levels under a second-level task would make four
        await move_task(uow, actor, two[0].id, TaskMove(parent_id=child.id))
    assert "deeper than 3" in err.value.message
    assert (await get_task(uow, actor, two[0].id)).parent_id is None


async def test_a_task_cannot_go_under_itself_or_its_descendant(uow, actor):
    top, child, grandchild = await _chain(uow, actor, 3)
    for parent_id in (top.id, child.id, grandchild.id):
        with pytest.raises(InvalidInput) as err:
            await move_task(uow, actor, top.id, TaskMove(parent_id=parent_id))
        assert err.value.field == "parent_id" and "cycle" in err.value.message
    with pytest.raises(InvalidInput):
        await update_task(uow, actor, child.id, TaskUpdate(parent_id=grandchild.id))
    assert (await get_task(uow, actor, top.id)).parent_id is None


async def test_moving_a_parent_to_a_project_moves_its_whole_subtree(uow, actor):
    home = await create_project(uow, actor, "Home")
    top, child, grandchild = await _chain(uow, actor, 3)
    moved = await move_task(uow, actor, top.id, TaskMove(project="home"))
    assert moved.project_id == home.id and moved.parent_id is None
    for task in (child, grandchild):
        again = await get_task(uow, actor, task.id)
        assert again.project_id == home.id and again.parent_id == task.parent_id
    await undo_last_change(uow, actor)  # one operation: all of it goes back
    assert {(await get_task(uow, actor, t.id)).project_id for t in (top, child, grandchild)} == {top.project_id}


async def test_moving_a_subtask_to_another_project_makes_it_top_level_there(uow, actor):
    home = await create_project(uow, actor, "Home")
    top, child = await _chain(uow, actor, 2)
    moved = await move_task(uow, actor, child.id, TaskMove(project=home.id))
    assert moved.project_id == home.id and moved.parent_id is None


async def test_putting_a_task_under_a_parent_puts_it_in_the_parents_project(uow, actor):
    home = await create_project(uow, actor, "Home")
    parent = await new_task(uow, actor, "Clean", project=home.id)
    loose = await new_task(uow, actor, "Windows")
    with_child = await new_task(uow, actor, "Floors")
    under = await new_task(uow, actor, "Mop", parent_id=with_child.id)
    moved = await update_task(uow, actor, loose.id, TaskUpdate(parent_id=parent.id, title="Wash windows"))
    assert moved.parent_id == parent.id and moved.project_id == home.id and moved.title == "Wash windows"
    assert moved.version == loose.version + 1  # one change, one event
    await move_task(uow, actor, with_child.id, TaskMove(parent_id=parent.id))
    assert (await get_task(uow, actor, under.id)).project_id == home.id
    top = await move_task(uow, actor, loose.id, TaskMove(parent_id=None))
    assert top.parent_id is None and top.project_id == home.id
    with pytest.raises(InvalidInput) as err:
        await move_task(uow, actor, loose.id, TaskMove(parent_id=parent.id, project="Inbox"))
    assert err.value.field == "parent_id"


async def test_a_move_into_an_unknown_project_is_not_found(uow, actor):
    task = await new_task(uow, actor, "x")
    with pytest.raises(ProjectNotFound):
        await move_task(uow, actor, task.id, TaskMove(project="Nowhere"))
    with pytest.raises(TaskNotFound):
        await move_task(uow, actor, 2**31 - 1, TaskMove(project="Inbox"))


async def test_completing_a_parent_with_open_subtasks_is_refused_unless_asked(uow, actor):
    top, child, grandchild = await _chain(uow, actor, 3)
    with pytest.raises(OpenSubtasks) as err:
        await complete_task(uow, actor, top.id)
    assert err.value.count == 2 and "subtasks='complete'" in err.value.message and err.value.field == "subtasks"
    assert (await get_task(uow, actor, top.id)).status == "open"
    with pytest.raises(InvalidInput):
        await complete_task(uow, actor, top.id, subtasks="maybe")  # type: ignore[arg-type]
    done = await complete_task(uow, actor, top.id, subtasks="complete")
    assert done.status == "completed" and done.open_subtask_count == 0 and done.subtask_count == 1
    assert {(await get_task(uow, actor, t.id)).status for t in (child, grandchild)} == {"completed"}
    await undo_last_change(uow, actor)
    assert {(await get_task(uow, actor, t.id)).status for t in (top, child, grandchild)} == {"open"}


async def test_a_parent_whose_subtasks_are_done_completes_without_a_choice(uow, actor):
    top, child = await _chain(uow, actor, 2)
    await complete_task(uow, actor, child.id)
    assert (await complete_task(uow, actor, top.id)).status == "completed"


async def test_deleting_a_parent_trashes_its_subtree_and_restore_brings_back_only_those(uow, actor, clock):
    clock.set(T0)
    top, child, grandchild = await _chain(uow, actor, 3)
    sibling = await new_task(uow, actor, "sibling", parent_id=top.id)
    clock.advance(minutes=1)
    await delete_task(uow, actor, sibling.id)  # trashed earlier, on its own
    clock.advance(minutes=1)
    await delete_task(uow, actor, top.id)
    for task in (top, child, grandchild):
        with pytest.raises(TaskNotFound):
            await get_task(uow, actor, task.id)
    trash = await list_tasks(uow, actor, task_query(status=["deleted"]))
    assert {t.id for t in trash.data} == {top.id, child.id, grandchild.id, sibling.id}
    clock.advance(minutes=1)
    restored = await restore_task(uow, actor, top.id)
    assert restored.deleted_at is None and restored.subtask_count == 1
    assert (await get_task(uow, actor, grandchild.id)).parent_id == child.id
    with pytest.raises(TaskNotFound):
        await get_task(uow, actor, sibling.id)


async def test_a_subtask_cannot_be_restored_while_its_parent_is_in_the_trash(uow, actor):
    top, child = await _chain(uow, actor, 2)
    await delete_task(uow, actor, top.id)
    with pytest.raises(InvalidInput) as err:
        await restore_task(uow, actor, child.id)
    assert "restore the parent" in err.value.message


async def test_get_task_lists_the_direct_subtasks_with_their_counts(uow, actor):
    top, child, grandchild = await _chain(uow, actor, 3)
    other = await new_task(uow, actor, "second child", parent_id=top.id)
    await complete_task(uow, actor, other.id)
    view = await get_task(uow, actor, top.id)
    assert view.subtask_count == 2 and view.open_subtask_count == 1
    assert view.subtasks is not None
    assert [(s.id, s.title, s.status, s.subtask_count, s.open_subtask_count) for s in view.subtasks] == [
        (child.id, "level 2", "open", 1, 1), (other.id, "second child", "completed", 0, 0)]
    assert (await get_task(uow, actor, grandchild.id)).subtasks is None


async def test_lists_filter_by_project_parent_and_top_level_with_counts(uow, actor):
    work = await create_project(uow, actor, "Work")
    await create_project(uow, actor, "Home")
    top = await new_task(uow, actor, "Report", project=work.id)
    child = await new_task(uow, actor, "Figures", parent_id=top.id)
    await new_task(uow, actor, "Text", parent_id=top.id)
    home_task = await new_task(uow, actor, "Dishes", project="Home")
    inbox_task = await new_task(uow, actor, "Misc")

    async def ids(**filters):
        return [t.id for t in (await list_tasks(uow, actor, task_query(sort="created", order="asc", **filters))).data]

    assert await ids(project=["work"]) == [top.id, child.id, child.id + 1]
    assert await ids(project=[work.id, "HOME"]) == [top.id, child.id, child.id + 1, home_task.id]
    assert await ids(project=["Inbox"]) == [inbox_task.id]
    assert await ids(parent_id=top.id) == [child.id, child.id + 1]
    assert await ids(top_level=True) == [top.id, home_task.id, inbox_task.id]
    assert await ids(top_level=False, project=["Work"]) == [child.id, child.id + 1]
    page = await list_tasks(uow, actor, TaskQuery(project=["Work"], top_level=True))
    [row] = page.data
    assert (row.subtask_count, row.open_subtask_count, row.project_id, row.parent_id) == (2, 2, work.id, None)
    assert row.subtasks is None
    with pytest.raises(ProjectNotFound):
        await list_tasks(uow, actor, task_query(project=["Nope"]))
    found = await search_tasks(uow, actor, "fig", project=["work"])
    assert [t.id for t in found.data] == [child.id]
    assert (await search_tasks(uow, actor, "fig", project=["home"])).count == 0


async def test_a_project_filtered_page_keeps_its_cursor(uow, actor):
    work = await create_project(uow, actor, "Work")
    made = [await new_task(uow, actor, f"t{i}", project=work.id) for i in range(5)]
    await new_task(uow, actor, "elsewhere")
    first = await list_tasks(uow, actor, TaskQuery(project=["work"], limit=3))
    second = await list_tasks(uow, actor, TaskQuery(project=["work"], limit=3, cursor=first.next_cursor))
    assert [t.id for t in first.data + second.data] == [t.id for t in made] and first.count == 5


async def test_a_recurring_parents_successor_copies_its_open_subtask_titles(uow, actor):
    parent = await new_task(uow, actor, "Weekly review", due_at="2026-06-01T08:00:00Z",
                            recurrence={"rule": "weekly"})
    inbox_errands = await new_task(uow, actor, "Inbox zero", parent_id=parent.id)
    done = await new_task(uow, actor, "Already done", parent_id=parent.id)
    await new_task(uow, actor, "Plan week", parent_id=parent.id)
    gone = await new_task(uow, actor, "Trashed", parent_id=parent.id)
    await complete_task(uow, actor, done.id)
    await delete_task(uow, actor, gone.id)
    await complete_task(uow, actor, parent.id, subtasks="complete")
    successor = await create_successor(uow, actor, parent.id)
    assert successor is not None and successor.subtask_count == 2 and successor.project_id == parent.project_id
    view = await get_task(uow, actor, successor.id)
    assert view.subtasks is not None
    assert [(s.title, s.status) for s in view.subtasks] == [("Inbox zero", "open"), ("Plan week", "open")]
    assert (await get_task(uow, actor, inbox_errands.id)).status == "completed"  # the old ones stay done
    assert await create_successor(uow, actor, parent.id) == successor  # still exactly once


async def test_a_successor_of_a_task_in_an_archived_project_goes_to_the_inbox(uow, actor):
    chores = await create_project(uow, actor, "Chores")
    task = await new_task(uow, actor, "Bins", project=chores.id, due_at="2026-06-01T08:00:00Z",
                          recurrence={"rule": "weekly"})
    await complete_task(uow, actor, task.id)
    await archive_project(uow, actor, chores.id)
    successor = await create_successor(uow, actor, task.id)
    inbox = next(p for p in await list_projects(uow, actor) if p.is_inbox)
    assert successor is not None and successor.project_id == inbox.id


async def test_bulk_complete_refuses_open_subtasks_outside_the_request(uow, actor):
    top, child = await _chain(uow, actor, 2)
    loose = await new_task(uow, actor, "loose")
    with pytest.raises(OpenSubtasks):
        await bulk_complete(uow, actor, [loose.id, top.id])
    assert (await get_task(uow, actor, loose.id)).status == "open"  # all or nothing
    result = await bulk_complete(uow, actor, [top.id, child.id])  # its subtask is in the request
    assert [t.status for t in result.data] == ["completed", "completed"]
    other_top, other_child = await _chain(uow, actor, 2)
    result = await bulk_complete(uow, actor, [other_top.id], subtasks="complete")
    assert (await get_task(uow, actor, other_child.id)).status == "completed"


async def test_bulk_delete_trashes_subtrees_and_accepts_a_subtask_listed_after_its_parent(uow, actor):
    top, child, grandchild = await _chain(uow, actor, 3)
    result = await bulk_delete(uow, actor, [top.id, grandchild.id])
    assert [t.id for t in result.data] == [top.id, grandchild.id]
    assert all(t.deleted_at is not None for t in result.data)
    with pytest.raises(TaskNotFound):
        await get_task(uow, actor, child.id)
    await restore_task(uow, actor, top.id)
    assert (await get_task(uow, actor, grandchild.id)).deleted_at is None


async def test_the_schema_has_the_parent_and_project_columns_with_their_foreign_keys(uow, actor):
    top, child = await _chain(uow, actor, 2)
    async with uow.read() as tx:
        rows = (await tx.session.exec(select(Task).where(col(Task.id).in_([top.id, child.id])))).all()
    assert {r.id: r.parent_id for r in rows} == {top.id: None, child.id: top.id}


async def test_quick_add_reads_hash_name_as_a_project_when_one_exists_else_a_tag(uow, actor):
    shopping = await create_project(uow, actor, "Shopping")
    await create_project(uow, actor, "Home")
    task = await quick_add(uow, actor, "buy milk #shopping #home #errands")
    assert task.project_id == shopping.id and task.tags == ["errands", "home"]  # the first project marker only
    preview = await preview_quick_add(uow, actor, "buy eggs #SHOPPING tomorrow")
    assert preview.project == "Shopping" and preview.tags == []
    assert [c.kind for c in preview.chips] == ["project", "due"]
    plain = await quick_add(uow, actor, "call bob #work")
    assert plain.tags == ["work"] and plain.project_id != shopping.id
    await archive_project(uow, actor, "Home")
    archived = await preview_quick_add(uow, actor, "fix door #home")
    assert archived.project is None and archived.tags == ["home"]


async def test_undo_of_deleting_a_parent_brings_back_its_whole_subtree(uow, actor):
    top, child, grandchild = await _chain(uow, actor, 3)
    await delete_task(uow, actor, top.id)
    result = await undo_last_change(uow, actor)
    assert sorted(t.id for t in result.tasks) == sorted([top.id, child.id, grandchild.id])
    assert (await get_task(uow, actor, top.id)).subtask_count == 1
    assert (await get_task(uow, actor, grandchild.id)).parent_id == child.id
