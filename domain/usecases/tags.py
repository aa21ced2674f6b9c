"""Tag use cases: list with counts, rename (merging into an existing tag), delete."""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import col, func, select

from domain.errors import TagNotFound
from domain.models import Tag, Task, TaskTag
from domain.schemas import TagCount
from domain.uow import Tx, UnitOfWork
from domain.usecases.common import Actor, ensure_tags
from domain.usecases.mutation import Draft, mutate
from domain.values import normalize_tag


async def list_tags(uow: UnitOfWork, actor: Actor) -> list[TagCount]:
    """The actor's tags with the number of tasks (not in the trash) carrying each, most used first."""
    async with uow.read() as tx:
        live = sa.and_(col(TaskTag.task_id) == Task.id, col(Task.deleted_at).is_(None))
        stmt = (
            select(Tag.name, func.count(col(Task.id)))
            .outerjoin(TaskTag, col(TaskTag.tag_id) == Tag.id)
            .outerjoin(Task, live)
            .where(Tag.owner_id == actor.id)
            .group_by(col(Tag.id), col(Tag.name))
            .order_by(func.count(col(Task.id)).desc(), col(Tag.name))
        )
        rows = (await tx.session.exec(stmt)).all()
    return [TagCount(name=name, count=int(count)) for name, count in rows]


async def _tag(tx: Tx, actor: Actor, name: str) -> Tag:
    tag = (await tx.session.exec(select(Tag).where(Tag.owner_id == actor.id, Tag.name == name))).first()
    if tag is None:
        raise TagNotFound(f"tag {name!r} not found — call list_tags to see your tags", field="name")
    return tag


async def _retag(tx: Tx, actor: Actor, tag: Tag, replacement: str | None) -> int:
    """Replace (or drop) a tag on every task carrying it, each change an event; returns how many tasks."""
    task_ids = (await tx.session.exec(select(TaskTag.task_id).where(TaskTag.tag_id == tag.id))).all()

    def apply(draft: Draft) -> None:
        kept = [t for t in draft.tags if t != tag.name]
        draft.tags = kept if replacement is None or replacement in kept else [*kept, replacement]

    for task_id in task_ids:
        await mutate(tx, actor, task_id, apply, include_deleted=True)
    await tx.session.delete(tag)
    return len(task_ids)


async def rename_tag(uow: UnitOfWork, actor: Actor, old: str, new: str) -> TagCount:
    """Rename a tag on all the actor's tasks; renaming onto an existing tag merges the two."""
    old_name, new_name = normalize_tag(old, "name"), normalize_tag(new, "new_name")
    async with uow.write() as tx:
        tag = await _tag(tx, actor, old_name)
        if old_name != new_name:
            await ensure_tags(tx, actor.id, [new_name])
            await _retag(tx, actor, tag, new_name)
    return next(t for t in await list_tags(uow, actor) if t.name == new_name)


async def delete_tag(uow: UnitOfWork, actor: Actor, name: str) -> int:
    """Remove a tag from every task and forget it; returns how many tasks carried it."""
    tag_name = normalize_tag(name, "name")
    async with uow.write() as tx:
        return await _retag(tx, actor, await _tag(tx, actor, tag_name), None)
