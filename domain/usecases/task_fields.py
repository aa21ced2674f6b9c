"""The updatable task fields, described once: how an update checks each, how it lands on a task, and how undo
puts it back from the before-state an event recorded. update_task and undo_last_change walk this table."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from domain.schemas import RecurrenceSpec
from domain.timeutil import Due, parse_due
from domain.usecases.common import set_due, set_text
from domain.usecases.mutation import Apply, Draft
from domain.usecases.recurring import apply_recurrence
from domain.values import Priority, check_description, check_title, normalize_reminders, normalize_tags

Snapshot = dict[str, Any]  # a TaskView in JSON form, as events carry it


@dataclass(frozen=True)
class TaskField:
    """One field an update may give (named as in TaskUpdate)."""

    name: str
    check: Callable[[Any, ZoneInfo, datetime], Any]  # (given value, user's zone, now) -> a valid value
    apply: Callable[[Draft, Any], None]  # a checked value -> the draft
    revert: Callable[[Draft, Snapshot], None]  # the before-state -> the draft
    shown_as: frozenset[str]  # the TaskView fields it changes: the keys of an event's `changes`


def _field(
    name: str,
    check: Callable[[Any, ZoneInfo, datetime], Any],
    apply: Callable[[Draft, Any], None],
    *,
    before: Callable[[Snapshot], Any] | None = None,
    revert: Callable[[Draft, Snapshot], None] | None = None,
    shown_as: tuple[str, ...] = (),
) -> TaskField:
    """A field whose undo applies the value `before` reads from the before-state, or does what `revert` says."""
    if revert is None:
        assert before is not None
        read = before

        def revert(draft: Draft, snapshot: Snapshot) -> None:
            apply(draft, read(snapshot))

    return TaskField(name, check, apply, revert, frozenset(shown_as or (name,)))


def _title(draft: Draft, title: str) -> None:
    set_text(draft.task, title, draft.task.description)


def _description(draft: Draft, description: str) -> None:
    set_text(draft.task, draft.task.title, description)


def _priority(draft: Draft, rank: int) -> None:
    draft.task.priority = rank


def _tags(draft: Draft, tags: list[str]) -> None:
    draft.tags = tags


def _reminders(draft: Draft, offsets: list[int]) -> None:
    draft.task.reminders = offsets


def _check_due(value: Any, tz: ZoneInfo, now: datetime) -> Due | None:
    return parse_due(value, tz, now) if value is not None else None


def _due(draft: Draft, due: Due | None) -> None:
    set_due(draft.task, due, draft.tz)


def _due_before(snapshot: Snapshot) -> Due | None:
    if snapshot["all_day"] and snapshot["due_date"]:
        return Due(day=date.fromisoformat(snapshot["due_date"]))
    if snapshot["due_at"]:
        return Due(at=datetime.fromisoformat(snapshot["due_at"]))
    return None


def _recurrence(draft: Draft, spec: RecurrenceSpec | None) -> None:
    """Checked here, against the task's due: a rule without a due gives the task its first occurrence."""
    apply_recurrence(draft.task, spec, draft.tz, draft.now)


def _revert_recurrence(draft: Draft, snapshot: Snapshot) -> None:
    """Put the rule back as it was, without re-deriving a first due (the due is reverted on its own)."""
    recurrence, task = snapshot["recurrence"], draft.task
    task.recurrence_rule = recurrence["rule"] if recurrence else None
    task.recurrence_mode = recurrence["mode"] if recurrence else None
    task.recurrence_until = as_datetime(recurrence["until"]) if recurrence else None
    task.recurrence_count = recurrence["count"] if recurrence else None


def as_datetime(value: str | None) -> datetime | None:
    """A snapshot's ISO 8601 timestamp (or null)."""
    return datetime.fromisoformat(value) if value else None


# In the order an update applies them: recurrence after the due it reads.
FIELDS: tuple[TaskField, ...] = (
    _field("title", lambda v, _tz, _now: check_title(v or ""), _title, before=lambda s: s["title"]),
    _field("description", lambda v, _tz, _now: check_description(v), _description,
           before=lambda s: s["description"]),
    _field("priority", lambda v, _tz, _now: Priority.parse(v or "none").rank, _priority,
           before=lambda s: Priority(s["priority"]).rank),
    _field("tags", lambda v, _tz, _now: normalize_tags(v), _tags, before=lambda s: list(s["tags"])),
    _field("reminders", lambda v, _tz, _now: normalize_reminders(v), _reminders,
           before=lambda s: list(s["reminders"])),
    _field("due_at", _check_due, _due, before=_due_before, shown_as=("due_at", "due_date", "all_day")),
    _field("recurrence", lambda v, _tz, _now: v, _recurrence, revert=_revert_recurrence),
)

BY_NAME = {field.name: field for field in FIELDS}
# TaskUpdate fields that move the task (with its subtasks) rather than set a value: tasks.move_task's rules; undo
# puts project_id and parent_id back from the event's changes.
MOVE_FIELDS = frozenset({"project", "parent_id"})


def setter(name: str, value: Any, tz: ZoneInfo, now: datetime) -> Apply:
    """The change setting one field to `value`, checked now (before the task is loaded)."""
    field = BY_NAME[name]
    checked = field.check(value, tz, now)

    def apply(draft: Draft) -> None:
        field.apply(draft, checked)

    return apply
