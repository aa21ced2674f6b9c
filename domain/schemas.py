"""The pydantic shapes the use cases take and return; REST and MCP both speak them."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, Strict

from domain.project_schemas import ProjectView
from domain.values import (
    PAGE_DEFAULT,
    PROJECTS_FILTER_MAX,
    REMINDERS_MAX,
    RULE_MAX,
    TAGS_PER_TASK_MAX,
    Priority,
    Status,
    StatusFilter,
    Text,
    at_most,
)

# Strict: a number is not a due date (pydantic would read 5 as 1970-01-01T00:00:05Z); strings and real datetimes are.
DueValue = Text | Annotated[datetime, Strict()] | Annotated[date, Strict()]
DUE_HELP = ("a datetime (with offset, or without = your timezone), a plain date for all day, or words in your "
            "timezone: 'tomorrow 9am', 'next friday', 'friday 17:00', 'in 3 days', 'in 2 hours', 'dec 5', "
            "'end of month' (a day without a time is all day)")
# Lists are capped before their items are validated, so a huge list costs nothing; the normalizers then check
# what is left (distinct tags, unique reminders). The `Field` caps are what the JSON schemas show.
TagList = Annotated[list[Text], BeforeValidator(at_most(TAGS_PER_TASK_MAX, "tags", "tags")),
                    Field(max_length=TAGS_PER_TASK_MAX)]
ReminderList = Annotated[list[int], BeforeValidator(at_most(REMINDERS_MAX, "reminders", "reminders")),
                         Field(max_length=REMINDERS_MAX)]
TagFilter = Annotated[list[Text], BeforeValidator(at_most(TAGS_PER_TASK_MAX, "tags", "tag")),
                      Field(max_length=TAGS_PER_TASK_MAX)]

RecurrenceModeName = Literal["due", "completion"]
# A project named in an input: its id (a number) or its name (text, any case).
ProjectRef = Annotated[int, Strict()] | Text
PROJECT_HELP = "a project id (number) or name (any case), e.g. 'Shopping'; default: the Inbox"
ProjectFilter = Annotated[list[ProjectRef], BeforeValidator(at_most(PROJECTS_FILTER_MAX, "projects", "project")),
                          Field(max_length=PROJECTS_FILTER_MAX)]
SubtaskChoice = Literal["refuse", "complete"]


class RecurrenceSpec(BaseModel):
    """A recurrence rule with its mode and optional end."""

    model_config = ConfigDict(extra="forbid")

    rule: Text = Field(
        max_length=RULE_MAX,
        description="preset (daily, weekdays, weekly, biweekly, monthly, yearly), 5-field cron, RRULE, "
        "or a phrase such as 'every monday at 09:00', 'every other tuesday', 'every weekday at 8', "
        "'every 3rd of the month', 'every 2nd tuesday'",
        examples=["every monday at 09:00"],
    )
    mode: RecurrenceModeName = Field(
        default="due", description="due: next after the previous due; completion: next after completing"
    )
    until: DueValue | None = Field(default=None, description="last possible occurrence (inclusive): a date, "
                                   "datetime or words such as 'end of month' or 'dec 31'")
    count: int | None = Field(default=None, ge=1, le=1000, description="total occurrences in the series")


class RecurrenceView(BaseModel):
    rule: str
    mode: RecurrenceModeName
    until: datetime | None
    count: int | None


class SubtaskView(BaseModel):
    """A direct subtask, as get_task lists it under its parent."""

    id: int
    title: str
    status: Status
    subtask_count: int
    open_subtask_count: int


class TaskSnapshotV1(BaseModel):
    """A task as version 1 of the task events carries it (the TaskView of then)."""

    id: int
    title: str
    description: str
    status: Status
    priority: Priority
    tags: list[str]
    due_at: datetime | None = Field(description="ISO 8601 with offset; null for all-day tasks")
    due_date: date | None = Field(description="the local date of the due")
    all_day: bool
    due_local: str | None = Field(description="the due in the user's timezone, readable")
    reminders: list[int] = Field(description="minutes before due")
    recurrence: RecurrenceView | None
    series_id: int | None
    predecessor_id: int | None
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None
    deleted_at: datetime | None
    version: int


class TaskSnapshot(TaskSnapshotV1):
    """A task as version 2 of the task events carries it: version 1 and where the task sits."""

    project_id: int = Field(description="the task's project")
    parent_id: int | None = Field(description="the task it is a subtask of; null for a top-level task")


class TaskView(TaskSnapshot):
    """A task as every surface shows it."""

    project_id: int = Field(description="the project the task belongs to (the Inbox by default)")
    parent_id: int | None = Field(description="the task this one is a subtask of; null for a top-level task")
    subtask_count: int = Field(default=0, description="direct subtasks not in the trash")
    open_subtask_count: int = Field(default=0, description="direct subtasks that are open")
    subtasks: list[SubtaskView] | None = Field(
        default=None, description="direct subtasks (not in the trash): get_task lists them when subtask_count > 0; "
        "null otherwise and in lists")


class TaskCreate(BaseModel):
    """Fields of a new task."""

    model_config = ConfigDict(extra="forbid")

    title: Text
    description: Text | None = None
    priority: Priority | Text = Priority.NONE
    tags: TagList | None = None
    due_at: DueValue | None = Field(default=None, description=DUE_HELP, examples=["tomorrow 9am", "2026-12-01"])
    reminders: ReminderList | None = None
    recurrence: RecurrenceSpec | None = None
    project: ProjectRef | None = Field(default=None, description=PROJECT_HELP)
    parent_id: int | None = Field(default=None, description="make it a subtask of this task (same project; "
                                  "at most 3 levels)")


class TaskUpdate(BaseModel):
    """A partial update: only the fields given change; an explicit null clears due_at or recurrence."""

    model_config = ConfigDict(extra="forbid")

    title: Text | None = None
    description: Text | None = None
    priority: Priority | Text | None = None
    tags: TagList | None = None
    due_at: DueValue | None = Field(default=None, description=DUE_HELP)
    reminders: ReminderList | None = None
    recurrence: RecurrenceSpec | None = None
    project: ProjectRef | None = Field(default=None, description="move it (with its subtasks) to this project")
    parent_id: int | None = Field(default=None, description="move it under this task; an explicit null makes "
                                  "it top-level")


class TaskMove(BaseModel):
    """Where to move a task (with its subtasks): only the fields given count; an explicit null parent_id makes it
    top-level."""

    model_config = ConfigDict(extra="forbid")

    project: ProjectRef | None = Field(default=None, description="the project to move it to (id or name)")
    parent_id: int | None = Field(default=None, description="the task to put it under; null: top-level")


SortKey = Literal["due", "priority", "created", "updated", "title"]
SortOrder = Literal["asc", "desc"]


class TaskQuery(BaseModel):
    """Filters, sort and page of a task list (DESIGN.md "Queries")."""

    model_config = ConfigDict(extra="forbid")

    status: list[StatusFilter] = Field(default_factory=lambda: [StatusFilter.OPEN, StatusFilter.COMPLETED])
    priority: list[Priority | Text] = Field(default_factory=list)
    tag: TagFilter = Field(default_factory=list)
    tag_mode: Literal["any", "all"] = "any"
    due_before: DueValue | None = Field(default=None, description="a datetime, date or words ('friday')")
    due_after: DueValue | None = Field(default=None, description="a datetime, date or words ('today')")
    overdue: bool | None = None
    due_today: bool | None = None
    has_due: bool | None = None
    q: Text | None = None
    project: ProjectFilter = Field(default_factory=list, description="tasks of any of these projects (ids or names)")
    parent_id: int | None = Field(default=None, description="only the direct subtasks of this task")
    top_level: bool | None = Field(default=None, description="true: only tasks without a parent; false: only "
                                   "subtasks")
    sort: SortKey = "due"
    order: SortOrder | None = None
    limit: int = PAGE_DEFAULT
    cursor: Text | None = None


class TaskPage(BaseModel):
    data: list[TaskView]
    count: int = Field(description="number of tasks matching the filters, counted up to 1,000 (see count_exact)")
    count_exact: bool = Field(default=True, description="false when more than `count` tasks match (count capped)")
    next_cursor: str | None


class TagCount(BaseModel):
    name: str
    count: int = Field(description="tasks (not in the trash) carrying the tag")


class BulkResult(BaseModel):
    data: list[TaskView]
    count: int


class RecurrencePreview(BaseModel):
    rule: str
    timezone: str
    occurrences: list[datetime]
    occurrences_local: list[str]


class QuickChip(BaseModel):
    """One thing quick add read from the text."""

    kind: Literal["due", "priority", "tag", "project", "recurrence"]
    text: str = Field(description="the words it was read from, as typed")
    value: str = Field(description="what they became, readable: '2026-12-04 09:00 Fri', 'urgent', 'errands'")


class QuickRecurrence(BaseModel):
    rule: str
    next: list[str] = Field(description="the series' first three dues, local ISO 8601: dates for all-day tasks, "
                                        "datetimes with offset otherwise; the first is the task's own due")


class QuickAddPreview(BaseModel):
    """What quick add would create from a text; nothing is saved."""

    title: str
    due_at: datetime | None = Field(description="ISO 8601 with offset; null for all-day tasks")
    due_date: date | None = Field(description="the local date of the due")
    all_day: bool
    due_local: str | None = Field(description="the due in the user's timezone, readable")
    priority: Priority
    tags: list[str]
    project: str | None = Field(default=None, description="the project's name (`#name` of a project); null: the "
                                "Inbox")
    recurrence: QuickRecurrence | None
    chips: list[QuickChip] = Field(description="what was read, in the order of the text")


class NowView(BaseModel):
    timezone: str
    utc: datetime
    local: datetime
    local_date: date
    local_time: str
    weekday: str


class UndoResult(BaseModel):
    undone: str = Field(description="what was reverted")
    tasks: list[TaskView]
    projects: list[ProjectView] = Field(default_factory=list, description="projects the undo changed back")
