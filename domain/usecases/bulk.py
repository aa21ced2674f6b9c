"""Bulk use cases over up to 50 of the actor's tasks: all change, or none does. The subtask rules hold as for one
task: completing a parent with open subtasks needs subtasks="complete" (unless those subtasks are in the request
too), and deleting a parent trashes its subtree."""

from __future__ import annotations

from domain.schemas import BulkResult, SubtaskChoice, TaskView
from domain.uow import UnitOfWork
from domain.usecases.common import Actor, load_task_and_tags, to_view
from domain.usecases.fields import field_setter, tag_adder
from domain.usecases.mutation import Apply, mutate
from domain.usecases.tasks import complete_with_subtasks, delete_with_subtasks
from domain.values import Priority, check_ids


async def _bulk(uow: UnitOfWork, actor: Actor, task_ids: list[int], apply: Apply) -> BulkResult:
    ids = check_ids(task_ids)
    async with uow.write() as tx:
        data = [await mutate(tx, actor, task_id, apply) for task_id in ids]
    return BulkResult(data=data, count=len(data))


async def bulk_complete(
    uow: UnitOfWork, actor: Actor, task_ids: list[int], *, subtasks: SubtaskChoice = "refuse"
) -> BulkResult:
    """Complete several tasks in one transaction; an unknown id fails the whole request."""
    ids = check_ids(task_ids)
    also = frozenset(ids)
    async with uow.write() as tx:
        data = [await complete_with_subtasks(tx, actor, task_id, subtasks, also=also) for task_id in ids]
    return BulkResult(data=data, count=len(data))


async def bulk_delete(uow: UnitOfWork, actor: Actor, task_ids: list[int]) -> BulkResult:
    """Move several tasks to the trash (each with its subtasks) in one transaction."""
    ids = check_ids(task_ids)
    data: list[TaskView] = []
    async with uow.write() as tx:
        trashed: set[int] = set()  # subtasks already trashed with their parent in this request
        for task_id in ids:
            if task_id in trashed:
                task, tags, counts = await load_task_and_tags(tx, actor, task_id, include_deleted=True)
                data.append(to_view(task, tags, actor.tz, counts))
                continue
            view, below = await delete_with_subtasks(tx, actor, task_id)
            trashed.update(below)
            data.append(view)
    return BulkResult(data=data, count=len(data))


async def bulk_set_priority(
    uow: UnitOfWork, actor: Actor, task_ids: list[int], priority: Priority | str | None
) -> BulkResult:
    """Set the priority of several tasks in one transaction."""
    return await _bulk(uow, actor, task_ids, field_setter(uow, actor, "priority", priority))


async def bulk_add_tags(uow: UnitOfWork, actor: Actor, task_ids: list[int], tags: list[str]) -> BulkResult:
    """Add tags to several tasks in one transaction."""
    return await _bulk(uow, actor, task_ids, tag_adder(tags))
