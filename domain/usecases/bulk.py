"""Bulk use cases over up to 50 of the actor's tasks: all change, or none does."""

from __future__ import annotations

from domain.schemas import BulkResult
from domain.uow import UnitOfWork
from domain.usecases.common import Actor
from domain.usecases.fields import field_setter, tag_adder
from domain.usecases.mutation import Apply, complete, delete, mutate
from domain.values import Priority, check_ids


async def _bulk(uow: UnitOfWork, actor: Actor, task_ids: list[int], apply: Apply) -> BulkResult:
    ids = check_ids(task_ids)
    async with uow.write() as tx:
        data = [await mutate(tx, actor, task_id, apply) for task_id in ids]
    return BulkResult(data=data, count=len(data))


async def bulk_complete(uow: UnitOfWork, actor: Actor, task_ids: list[int]) -> BulkResult:
    """Complete several tasks in one transaction; an unknown id fails the whole request."""
    return await _bulk(uow, actor, task_ids, complete)


async def bulk_delete(uow: UnitOfWork, actor: Actor, task_ids: list[int]) -> BulkResult:
    """Move several tasks to the trash in one transaction."""
    return await _bulk(uow, actor, task_ids, delete)


async def bulk_set_priority(
    uow: UnitOfWork, actor: Actor, task_ids: list[int], priority: Priority | str | None
) -> BulkResult:
    """Set the priority of several tasks in one transaction."""
    return await _bulk(uow, actor, task_ids, field_setter(uow, actor, "priority", priority))


async def bulk_add_tags(uow: UnitOfWork, actor: Actor, task_ids: list[int], tags: list[str]) -> BulkResult:
    """Add tags to several tasks in one transaction."""
    return await _bulk(uow, actor, task_ids, tag_adder(tags))
