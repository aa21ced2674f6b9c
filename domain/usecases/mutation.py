"""The one way a use case changes an existing task: load it owned, check its version, apply, record the event."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from domain.events import TASK_UPDATED
from domain.models import Task
from domain.schemas import TaskView
from domain.uow import Tx
from domain.usecases.common import (
    Actor,
    check_version,
    diff,
    emit_change,
    load_task_and_tags,
    replace_tags,
    to_view,
    touch,
)


@dataclass
class Draft:
    """A task being changed: edit `task` and `tags`; `now` is the transaction's time, `tz` the actor's zone."""

    task: Task
    tags: list[str]
    now: datetime
    tz: ZoneInfo


# A change: edits the draft and returns its event type (a Task life-cycle method's answer), None for an update.
Apply = Callable[[Draft], str | None]


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
    task, tags, counts = await load_task_and_tags(tx, actor, task_id, include_deleted=include_deleted,
                                                  for_update=True)
    check_version(task, expected_version)
    before = to_view(task, tags, actor.tz, counts)
    draft = Draft(task=task, tags=list(tags), now=tx.now, tz=actor.tz)
    event_type = apply(draft) or TASK_UPDATED
    if sorted(draft.tags) != sorted(tags):
        await replace_tags(tx, task, draft.tags)
    if not diff(before, to_view(task, draft.tags, actor.tz)):
        return before
    touch(task, tx.now)
    tx.session.add(task)
    after = to_view(task, draft.tags, actor.tz, counts)
    emit_change(tx, actor.name, event_type, before, after, actor.id)
    return after


def complete(draft: Draft) -> str | None:
    """Complete the task now."""
    return draft.task.complete(draft.now)


def reopen(draft: Draft) -> str | None:
    """Reopen the task."""
    return draft.task.reopen()


def delete(draft: Draft) -> str | None:
    """Move the task to the trash now."""
    return draft.task.delete(draft.now)


def restore(draft: Draft) -> str | None:
    """Take the task out of the trash."""
    return draft.task.restore()
