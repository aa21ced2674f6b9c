"""Typed, described tool arguments shared by several tools (the model reads these descriptions)."""

from typing import Annotated, Literal

from pydantic import Field

from domain.values import BULK_MAX, ID_MAX, PAGE_DEFAULT, PAGE_MAX, Priority

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
TagsArg = Annotated[list[str], Field(description="Tag names, e.g. ['work', 'q4'] (lower-cased; at most 20 a task)")]
DUE_HELP = "ISO 8601: '2026-12-01T09:00:00+01:00', '2026-12-01T09:00' (user's timezone) or '2026-12-01' (all day)"
RULE_HELP = (
    "A preset (daily, weekdays, weekly, monthly, yearly), a 5-field cron ('0 9 * * 1-5'), an RRULE "
    "('FREQ=MONTHLY;BYDAY=-1FR') or a phrase ('every monday at 09:00', 'every 2 weeks', 'every month on the "
    "15th', 'every last friday')"
)
REMINDERS_HELP = "Minutes before the due time, e.g. [0, 60] = at due time and an hour before"
DueArg = Annotated[str, Field(description=DUE_HELP)]
RuleArg = Annotated[str, Field(description=RULE_HELP)]
OptionalDue = Annotated[str | None, Field(description=DUE_HELP)]
OptionalRule = Annotated[str | None, Field(description=RULE_HELP)]
OptionalReminders = Annotated[list[int] | None, Field(description=REMINDERS_HELP)]
ModeArg = Annotated[
    Literal["due", "completion"],
    Field(description="due: the next one follows the previous due date; completion: it follows the completion"),
]
RemindersArg = Annotated[list[int], Field(description=REMINDERS_HELP)]
LimitArg = Annotated[
    int, Field(ge=1, le=PAGE_MAX, description=f"Page size, default {PAGE_DEFAULT}, at most {PAGE_MAX}")
]
CursorArg = Annotated[str | None, Field(description="next_cursor from the previous page, unchanged")]
