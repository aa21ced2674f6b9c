"""The one way a use case changes an existing task: load it owned, check its version, apply, record the event."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from domain.events import TASK_UPDATED
from domain.models import Task
from domain.schemas import TaskView
from domain.uow import Tx
from domain.usecases.common import (
    Actor,
    check_version,
    diff,
    emit_change,
    load_task,
    replace_tags,
    tags_of,
    to_view,
    touch,
)


@dataclass
class Draft:
    """A task being changed: edit `task` and `tags`; `event_type` says what kind of change it is."""

    task: Task
    tags: list[str]
    event_type: str = TASK_UPDATED


Apply = Callable[[Draft], None]


async def mutate(
    tx: Tx,
    actor: Actor,
    task_id: int,
    apply: Apply,
    *,
    expected_version: int | None = None,
    include_deleted: bool = False,
) -> TaskView:
    """Apply a change to one of the actor's tasks; a change that changes nothing writes nothing."""
    task = await load_task(tx, actor, task_id, include_deleted=include_deleted, for_update=True)
    check_version(task, expected_version)
    tags = (await tags_of(tx, [task_id]))[task_id]
    before = to_view(task, tags, actor.tz)
    draft = Draft(task=task, tags=list(tags))
    apply(draft)
    if sorted(draft.tags) != sorted(tags):
        await replace_tags(tx, task, draft.tags)
    if not diff(before, to_view(task, draft.tags, actor.tz)):
        return before
    touch(task, tx.now)
    tx.session.add(task)
    after = to_view(task, draft.tags, actor.tz)
    emit_change(tx, actor.name, draft.event_type, before, after, actor.id)
    return after
