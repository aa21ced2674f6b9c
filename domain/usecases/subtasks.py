"""Subtasks: where a task may go (same project as its parent, at most three levels, no cycles), moving a task with
its subtree, and the life-cycle steps that carry a parent's subtasks along (complete, delete, restore)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import aliased
from sqlmodel import col, select

from domain.errors import InvalidInput, OpenSubtasks, ProjectArchived, TaskNotFound
from domain.models import Project, Task
from domain.schemas import ProjectRef, SubtaskChoice
from domain.uow import Tx
from domain.usecases.common import Actor, load_task
from domain.usecases.mutation import Apply, Draft, mutate
from domain.usecases.projects import find_project, inbox_of, target_project
from domain.values import SUBTASK_DEPTH_MAX, Status

KEEP = object()  # "not given": the parent stays as it is
_CHILD = aliased(Task)  # built once: an alias proxies every column of Task


async def descendants(tx: Tx, root_id: int, *, deleted_at: datetime | None | object = KEEP) -> list[tuple[int, int]]:
    """(id, level below the root) of every task under `root_id`, nearest first; with `deleted_at` only the subtree
    sharing that deletion time (None: the live subtree) is followed."""
    children: Any = sa.select(col(Task.id).label("id"), sa.literal(1).label("level"))
    children = children.where(col(Task.parent_id) == root_id)
    if deleted_at is not KEEP:
        children = children.where(_deleted(col(Task.deleted_at), deleted_at))
    tree = children.cte("tree", recursive=True)
    child = _CHILD
    step = (sa.select(col(child.id), tree.c.level + 1).join(tree, col(child.parent_id) == tree.c.id)
            .where(tree.c.level < SUBTASK_DEPTH_MAX + 1))  # a bound: the tree is never deeper than the rule allows
    if deleted_at is not KEEP:
        step = step.where(_deleted(col(child.deleted_at), deleted_at))
    tree = tree.union_all(step)
    listing: Any = sa.select(tree.c.id, tree.c.level).order_by(tree.c.level, tree.c.id)
    rows = (await tx.session.exec(listing)).all()
    return [(int(task_id), int(level)) for task_id, level in rows]


def _deleted(column: Any, deleted_at: object) -> sa.ColumnElement[bool]:
    condition: sa.ColumnElement[bool] = column.is_(None) if deleted_at is None else column == deleted_at
    return condition


async def level_of(tx: Tx, task: Task) -> int:
    """1 for a top-level task, 2 for its subtask, 3 for the subtask's subtask."""
    level, parent_id = 1, task.parent_id
    while parent_id is not None and level <= SUBTASK_DEPTH_MAX:
        level += 1
        parent_id = (await tx.session.exec(select(Task.parent_id).where(Task.id == parent_id))).first()
    return level


async def _parent(tx: Tx, actor: Actor, parent_id: int) -> Task:
    try:
        return await load_task(tx, actor, parent_id)
    except TaskNotFound:
        raise InvalidInput(f"parent task {parent_id} not found (or in the trash): give the id of one of your live "
                           "tasks, or null for a top-level task", field="parent_id") from None


async def placement(tx: Tx, actor: Actor, project: ProjectRef | None, parent_id: int | None) -> tuple[int, int | None]:
    """(project id, parent id) of a new task: under the parent (in its project), in the named project, or in the
    Inbox; refused in an archived project or below the third level."""
    if parent_id is None:
        target = await target_project(tx, actor, project)
        assert target.id is not None
        return target.id, None
    parent = await _parent(tx, actor, parent_id)
    if project is not None:
        named = await find_project(tx, actor, project)
        if named.id != parent.project_id:
            raise InvalidInput(f"parent task {parent_id} is in another project than {named.name!r}: a subtask is in "
                               "its parent's project; leave out project (it follows the parent) or pick a parent "
                               "in that project", field="parent_id")
    await _writable(tx, parent.project_id)
    if await level_of(tx, parent) >= SUBTASK_DEPTH_MAX:
        raise _too_deep(parent_id)
    return parent.project_id, parent.id


async def _writable(tx: Tx, project_id: int) -> None:
    project = await tx.session.get(Project, project_id)
    if project is not None and project.archived_at is not None:
        raise ProjectArchived(project.name)


def _too_deep(parent_id: int) -> InvalidInput:
    return InvalidInput(f"task {parent_id} is too deep to hold this task: subtasks go at most {SUBTASK_DEPTH_MAX} "
                        "levels (a task, its subtask and the subtask's subtask); pick a parent higher up",
                        field="parent_id")


@dataclass(frozen=True)
class Move:
    """Where a task goes, checked: its project and parent, and the tasks under it (which follow it)."""

    project_id: int
    parent_id: int | None
    subtree: list[int]


async def plan_move(tx: Tx, actor: Actor, task: Task, *, project: ProjectRef | None | object = KEEP,
                    parent_id: int | None | object = KEEP) -> Move | None:
    """The checked move of `task` with its subtree (None when nothing moves). Under a parent it goes to the
    parent's project; to another project alone it becomes top-level there; project None is the Inbox."""
    assert task.id is not None
    if isinstance(parent_id, int):
        parent = await _parent(tx, actor, parent_id)
        if project is not KEEP and (named := await _project(tx, actor, project)).id != parent.project_id:
            raise InvalidInput(f"parent task {parent_id} is in another project than {named.name!r}: leave out "
                               "project (a subtask follows its parent) or pick a parent in that project",
                               field="parent_id")
        new_project, new_parent = parent.project_id, parent.id
    else:
        new_project = task.project_id if project is KEEP else (await _project(tx, actor, project)).id or 0
        new_parent = None if parent_id is None or new_project != task.project_id else task.parent_id
    if (new_project, new_parent) == (task.project_id, task.parent_id):
        return None
    subtree = await descendants(tx, task.id)
    if new_parent is not None:
        if new_parent == task.id or new_parent in {i for i, _ in subtree}:
            raise InvalidInput(f"task {task.id} cannot go under task {new_parent}: that is the task itself or one of "
                               "its subtasks (a cycle); pick a task outside its subtree", field="parent_id")
        height = max((level for _, level in subtree), default=0)
        if await level_of(tx, parent) + 1 + height > SUBTASK_DEPTH_MAX:
            raise InvalidInput(
                f"task {task.id} with its {height} level(s) of subtasks would be deeper than {SUBTASK_DEPTH_MAX} "
                f"levels under task {new_parent}; pick a parent higher up or move its subtasks out first",
                field="parent_id")
    if new_project != task.project_id:
        await _writable(tx, new_project)
    return Move(new_project, new_parent, [i for i, _ in subtree])


async def _project(tx: Tx, actor: Actor, ref: object) -> Project:
    """The named project, or the Inbox for None."""
    if ref is None:
        return await inbox_of(tx, actor.id)
    assert isinstance(ref, int | str)
    return await find_project(tx, actor, ref)


def move_root(move: Move) -> Apply:
    def apply(draft: Draft) -> None:
        draft.task.project_id, draft.task.parent_id = move.project_id, move.parent_id

    return apply


async def move_subtree(tx: Tx, actor: Actor, move: Move) -> None:
    """The tasks under a moved task follow it to its project (each change an event of the same operation)."""

    def follow(draft: Draft) -> None:
        draft.task.project_id = move.project_id

    for task_id in move.subtree:
        await mutate(tx, actor, task_id, follow, include_deleted=True)


async def open_below(tx: Tx, task_id: int) -> list[int]:
    """The open live tasks under a task (every level)."""
    ids = [i for i, _ in await descendants(tx, task_id, deleted_at=None)]
    if not ids:
        return []
    stmt = select(Task.id).where(col(Task.id).in_(ids), col(Task.status) == Status.OPEN.value)
    return [i for i in (await tx.session.exec(stmt)).all() if i is not None]


async def check_subtasks_done(tx: Tx, task_id: int, choice: SubtaskChoice, *,
                              also_completing: Collection[int] = ()) -> list[int]:
    """The open subtasks completing this task completes too; OpenSubtasks when `choice` is refuse and some are open
    (ones `also_completing` in the same request do not count)."""
    if choice not in ("refuse", "complete"):
        raise InvalidInput(f"subtasks must be 'refuse' or 'complete' (got {choice!r})", field="subtasks")
    below = await open_below(tx, task_id)
    left = [i for i in below if i not in also_completing]
    if left and choice == "refuse":
        raise OpenSubtasks(task_id, len(left))
    return below


async def restorable(tx: Tx, actor: Actor, task: Task) -> tuple[list[int], int | None]:
    """What restoring a trashed task brings back with it (the subtasks deleted at the same moment) and the project
    it returns to when its own was deleted (the Inbox), else None; refused while its parent is in the trash."""
    assert task.id is not None
    if task.parent_id is not None:
        parent = await tx.session.get(Task, task.parent_id)
        if parent is not None and parent.deleted_at is not None:
            raise InvalidInput(f"task {task.id}'s parent (task {task.parent_id}) is in the trash: restore the parent "
                               "(its subtasks deleted with it come back too)", field="id")
    together = [i for i, _ in await descendants(tx, task.id, deleted_at=task.deleted_at)]
    project = await tx.session.get(Project, task.project_id)
    if project is not None and project.deleted_at is None:
        return together, None
    inbox = await inbox_of(tx, actor.id)
    return together, inbox.id
