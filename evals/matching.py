"""How expected values meet actual ones: BFCL-style argument matching (a list = any of these, strings compared
normalised, ISO dates and times compared as local moments) and the task fields the final state is judged on."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from domain.errors import DomainError
from domain.recurrence import next_occurrences
from domain.schemas import TaskView
from evals.scenario import RecurrenceValue, TaskMatch

RULE_SAMPLE = 8  # occurrences compared to tell whether two recurrence rules are the same
ISO = re.compile(r"\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?")


def text(value: str) -> str:
    """A string as compared: case-folded, whitespace collapsed."""
    return " ".join(value.casefold().split())


def moment(value: str, tz: ZoneInfo) -> date | datetime | None:
    """An ISO date, or an ISO datetime as a naive local time in `tz` to the minute (no offset = already local)."""
    if not ISO.fullmatch(value.strip()):
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace(" ", "T"))
    except ValueError:
        return None
    if "T" not in value.strip() and " " not in value.strip():
        return parsed.date()
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(tz).replace(tzinfo=None)
    return parsed.replace(second=0, microsecond=0)


def same(expected: Any, actual: Any, tz: ZoneInfo) -> bool:
    """One expected value (not a list of alternatives) against the actual one."""
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(matches(v, actual.get(k, _ABSENT), tz) for k, v in expected.items())
    if isinstance(expected, list):
        return isinstance(actual, list) and _same_items(expected, list(actual), tz)
    if expected is None:
        return actual is None or actual is _ABSENT
    if isinstance(expected, bool) or isinstance(actual, bool):
        return expected is actual
    if isinstance(expected, int | float):
        return isinstance(actual, int | float) and expected == actual or (
            isinstance(actual, str) and text(actual) == str(expected))
    if isinstance(expected, str) and isinstance(actual, int | float):
        return text(expected) == str(actual)
    if isinstance(expected, str) and isinstance(actual, str):
        if text(expected) == text(actual):
            return True
        left, right = moment(expected, tz), moment(actual, tz)
        return left is not None and left == right
    return False


def _same_items(expected: list[Any], actual: list[Any], tz: ZoneInfo) -> bool:
    """Lists compared order-free: each expected item takes a different matching actual item, none left over."""
    if len(expected) != len(actual):
        return False
    left = list(actual)
    for item in expected:
        found = next((i for i, candidate in enumerate(left) if same(item, candidate, tz)), None)
        if found is None:
            return False
        left.pop(found)
    return True


class _Absent:
    def __repr__(self) -> str:
        return "(absent)"


_ABSENT: Any = _Absent()


def matches(expected: Any, actual: Any, tz: ZoneInfo) -> bool:
    """An expected argument: a list is a choice of alternatives (write [[a, b]] to expect the list [a, b]);
    null among them also accepts an absent argument."""
    if isinstance(expected, list):
        return any(same(alternative, actual, tz) for alternative in expected)
    if actual is _ABSENT:
        return expected is None
    return same(expected, actual, tz)


def call_matches(expected: dict[str, Any], name: str, arguments: dict[str, Any], tz: ZoneInfo) -> bool:
    """A whole call: same tool name, and every named argument matches (others may be anything or absent)."""
    names = expected["name"] if isinstance(expected["name"], list) else [expected["name"]]
    if text(name) not in {text(n) for n in names}:
        return False
    return all(matches(v, arguments.get(k, _ABSENT), tz) for k, v in expected.get("arguments", {}).items())


def local_due(task: TaskView, tz: ZoneInfo) -> str | None:
    """The task's due as the format writes it: 'YYYY-MM-DD HH:MM' in the user's timezone, 'YYYY-MM-DD' all day."""
    if task.all_day and task.due_date is not None:
        return task.due_date.isoformat()
    if task.due_at is not None:
        return task.due_at.astimezone(tz).strftime("%Y-%m-%d %H:%M")
    return None


@dataclass(frozen=True)
class Names:
    """What a final task's project and parent ids are called in the format: project names, seed keys, titles."""

    projects: dict[int, str] = field(default_factory=dict)
    keys: dict[int, str] = field(default_factory=dict)  # task id -> seed key
    titles: dict[int, str] = field(default_factory=dict)  # task id -> title

    def parent(self, parent_id: int | None) -> str | None:
        """The parent's seed key; a parent that is no seed task as '#id title' (which no key equals)."""
        if parent_id is None:
            return None
        return self.keys.get(parent_id) or f"#{parent_id} {self.titles.get(parent_id, '(unknown)')}"


def task_fields(task: TaskView, tz: ZoneInfo, names: Names | None = None) -> dict[str, Any]:
    """The fields of a final task that expectations compare, in the format's own terms."""
    names = names or Names()
    recurrence = None if task.recurrence is None else {"rule": task.recurrence.rule, "mode": task.recurrence.mode}
    return {
        "id": task.id,
        "title": task.title,
        "description": task.description,
        "status": task.status.value,
        "priority": task.priority.value,
        "tags": sorted(task.tags),
        "due": local_due(task, tz),
        "all_day": task.all_day,
        "recurrence": recurrence,
        "reminders": sorted(task.reminders),
        "deleted": task.deleted_at is not None,
        "project": names.projects.get(task.project_id, f"(project {task.project_id}, deleted)"),
        "parent": names.parent(task.parent_id),
        "parent_title": None if task.parent_id is None else names.titles.get(task.parent_id),
    }


def same_rule(expected: str, actual: str, anchor: datetime, tz: ZoneInfo) -> bool:
    """Two recurrence rules are the same when their texts are (case and spaces aside) or when they give the same
    next occurrences from the task's due (`anchor`, local), so 'every other tuesday' equals 'biweekly' and
    'FREQ=WEEKLY;INTERVAL=2;BYDAY=TU' for a task due on a Tuesday at 09:00."""
    if text(expected) == text(actual):
        return True
    due = anchor.replace(tzinfo=tz)
    start = due - timedelta(minutes=1)  # the due itself counts as an occurrence

    def sample(rule: str) -> list[datetime]:
        return next_occurrences(rule, start, tz, RULE_SAMPLE, anchor=due)

    try:
        return sample(expected) == sample(actual)
    except DomainError:
        return False


def field_differs(match: TaskMatch, name: str, actual: dict[str, Any], anchor: datetime, tz: ZoneInfo) -> bool:
    """Whether the actual task's field `name` differs from what the match expects."""
    wanted, have = getattr(match, name), actual[name]
    if name in {"title", "description", "project"}:
        return text(wanted) != text(have)
    if name == "parent_title":
        return (wanted is None) != (have is None) or wanted is not None and text(wanted) != text(have)
    if name == "tags":
        return sorted(text(t) for t in wanted) != sorted(text(t) for t in have)
    if name == "reminders":
        return bool(sorted(wanted) != have)
    if name in {"status", "priority"}:
        return bool(str(wanted.value) != have)
    if name == "recurrence":
        if wanted is None or have is None:
            return (wanted is None) != (have is None)
        rule = wanted if isinstance(wanted, str) else wanted.rule
        mode_differs = isinstance(wanted, RecurrenceValue) and wanted.mode != have["mode"]
        return mode_differs or not same_rule(rule, have["rule"], anchor, tz)
    return bool(wanted != have)


def differing(match: TaskMatch, actual: dict[str, Any], anchor: datetime, tz: ZoneInfo) -> list[str]:
    """The compared fields on which the actual task differs."""
    return [name for name in match.compared() if field_differs(match, name, actual, anchor, tz)]


def expected_fields(match: TaskMatch) -> dict[str, Any]:
    """The match's compared fields as plain values (for a diff)."""
    dumped = match.model_dump(mode="json")
    out = {name: dumped[name] for name in match.compared()}
    if isinstance(match.recurrence, str):
        out["recurrence"] = {"rule": match.recurrence}
    return out
