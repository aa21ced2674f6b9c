"""Typed, described tool arguments shared by several tools (the model reads these descriptions)."""

from collections.abc import Callable
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, Strict

from domain.schemas import SubtaskChoice
from domain.values import (
    BULK_MAX,
    ID_MAX,
    PAGE_DEFAULT,
    PAGE_MAX,
    PROJECT_NAME_MAX,
    PROJECTS_FILTER_MAX,
    REMINDERS_MAX,
    RULE_MAX,
    TAGS_PER_TASK_MAX,
    Priority,
    Text,
)


def per_call(limit: int, noun: str) -> Callable[[Any], Any]:
    """A before-validator capping a list argument before its items are read, with a message the model can act on."""

    def check(value: Any) -> Any:
        if isinstance(value, list) and len(value) > limit:
            raise ValueError(f"at most {limit} {noun} per call (got {len(value)}); split the change into several calls")
        return value

    return check


TagList = Annotated[
    list[Text], BeforeValidator(per_call(TAGS_PER_TASK_MAX, "tags")), Field(max_length=TAGS_PER_TASK_MAX)
]
ReminderList = Annotated[
    list[int], BeforeValidator(per_call(REMINDERS_MAX, "reminders")), Field(max_length=REMINDERS_MAX)
]

TaskId = Annotated[int, Field(ge=1, le=ID_MAX, description="The task's id, e.g. 42 (from list_tasks or search_tasks)")]
OptionalTaskId = Annotated[
    int | None, Field(ge=1, le=ID_MAX, description="One task's id; use task_ids instead for several")
]
TaskIds = Annotated[
    list[Annotated[int, Field(ge=1, le=ID_MAX)]] | None,
    Field(max_length=BULK_MAX, description=f"Several task ids (up to {BULK_MAX}) for a bulk change"),
]
ExpectedVersion = Annotated[
    int | None,
    Field(ge=1, le=ID_MAX, description="The task's version as you last saw it; the call fails if it changed since"),
]
PriorityArg = Annotated[Priority, Field(description="One of none, low, medium, high, urgent")]
TagsArg = Annotated[TagList, Field(description="Tag names, e.g. ['work', 'q4'] (lower-cased; at most 20 per call)")]
DUE_HELP = (
    "ISO 8601 ('2026-12-01T09:00:00+01:00', '2026-12-01T09:00' in the user's timezone, '2026-12-01' all day) or "
    "words in the user's timezone: 'tomorrow 9am', 'next friday', 'friday 17:00', 'in 3 days', 'in 2 hours', "
    "'dec 5' (a day without a time is all day)"
)
RULE_HELP = (
    "A preset (daily, weekdays, weekly, biweekly, monthly, yearly), a 5-field cron ('0 9 * * 1-5'), an RRULE "
    "('FREQ=MONTHLY;BYDAY=-1FR') or a phrase ('every monday at 09:00', 'every other tuesday', 'every month on the "
    "15th', 'every last friday')"
)
REMINDERS_HELP = "Minutes before the due time, e.g. [0, 60] = at due time and an hour before"
DueArg = Annotated[Text, Field(description=DUE_HELP)]
RuleArg = Annotated[Text, Field(max_length=RULE_MAX, description=f"{RULE_HELP}; at most {RULE_MAX} characters")]
OptionalDue = Annotated[Text | None, Field(description=DUE_HELP)]
OptionalRule = Annotated[
    Text | None, Field(max_length=RULE_MAX, description=f"{RULE_HELP}; at most {RULE_MAX} characters")
]
OptionalReminders = Annotated[ReminderList | None, Field(description=f"{REMINDERS_HELP}; at most {REMINDERS_MAX}")]
ModeArg = Annotated[
    Literal["due", "completion"],
    Field(description="due: the next one follows the previous due date; completion: it follows the completion"),
]
RemindersArg = Annotated[ReminderList, Field(description=f"{REMINDERS_HELP}; at most {REMINDERS_MAX}")]
LimitArg = Annotated[
    int, Field(ge=1, le=PAGE_MAX, description=f"Page size, default {PAGE_DEFAULT}, at most {PAGE_MAX}")
]
CursorArg = Annotated[Text | None, Field(description="next_cursor from the previous page, unchanged")]

# A project by id (a JSON number) or by name (a string, any case); a quoted number is a name.
ProjectRef = Annotated[int, Strict()] | Annotated[Text, Field(max_length=PROJECT_NAME_MAX * 2)]
PROJECT_HELP = "Project id or name (any case), e.g. 'Shopping'"
ProjectArg = Annotated[ProjectRef, Field(description=PROJECT_HELP)]
OptionalProject = Annotated[ProjectRef | None, Field(description=f"{PROJECT_HELP}; default the Inbox")]
ProjectFilterArg = Annotated[
    list[ProjectRef] | None,
    BeforeValidator(per_call(PROJECTS_FILTER_MAX, "projects")),
    Field(max_length=PROJECTS_FILTER_MAX, description="Only these projects: ids or names"),
]
OptionalParent = Annotated[
    int | None,
    Field(ge=1, le=ID_MAX, description="Parent task id: makes it a subtask, in the parent's project (3 levels at "
          "most)"),
]
TopLevelArg = Annotated[
    bool | None, Field(description="true: only top-level tasks; false: only subtasks")
]
SubtasksArg = Annotated[
    SubtaskChoice,
    Field(description="Open subtasks: refuse (default; the call fails) or complete them too"),
]
