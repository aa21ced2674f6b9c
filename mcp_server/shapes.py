"""What the tools return: full tasks for single-task tools, compact rows for lists, and small summaries."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field

from domain.schemas import TaskView
from domain.values import Priority, Status


class TaskRow(BaseModel):
    """A task in a list: just enough to pick it and talk about it."""

    id: int
    title: str
    status: Status
    priority: Priority
    tags: list[str]
    due_at: datetime | None = Field(description="ISO 8601 with offset; null for all-day or no due")
    due_date: date | None = Field(description="local date of the due, if any")
    due_local: str | None = Field(description="the due in the user's timezone, readable")

    @classmethod
    def of(cls, task: TaskView) -> TaskRow:
        return cls(
            id=task.id,
            title=task.title,
            status=task.status,
            priority=task.priority,
            tags=task.tags,
            due_at=task.due_at,
            due_date=task.due_date,
            due_local=task.due_local,
        )


class TaskList(BaseModel):
    """A page of tasks: `count` is how many match, counted up to 1,000 (`count_exact` false beyond); pass
    `next_cursor` back as `cursor` for more."""

    data: list[TaskRow]
    count: int
    count_exact: bool = True
    next_cursor: str | None


class TasksChanged(BaseModel):
    """The tasks a (possibly bulk) change touched, after the change."""

    data: list[TaskRow]
    count: int


class TagRow(BaseModel):
    name: str
    count: int


class TagList(BaseModel):
    data: list[TagRow]
    count: int


class TagDeleted(BaseModel):
    name: str
    tasks: int = Field(description="how many tasks carried it")


class Undone(BaseModel):
    undone: str
    data: list[TaskRow]


class WhoAmI(BaseModel):
    user_id: int
    email: str
    timezone: str
    local_date: date
    local_time: str
    weekday: str
    utc: datetime


def describe(task: TaskView) -> str:
    """One line a person can read: '#12 Buy milk — open, high, due 2026-12-01 09:00 Tue [home]'."""
    parts = [task.status.value, task.priority.value if task.priority != Priority.NONE else ""]
    if task.due_local:
        parts.append(f"due {task.due_local}")
    if task.recurrence:
        parts.append(f"repeats {task.recurrence.rule}")
    tags = f" [{', '.join(task.tags)}]" if task.tags else ""
    return f"#{task.id} {task.title} — {', '.join(p for p in parts if p)}{tags}"


def describe_row(row: TaskRow) -> str:
    due = f", due {row.due_local}" if row.due_local else ""
    prio = f", {row.priority.value}" if row.priority != Priority.NONE else ""
    tags = f" [{', '.join(row.tags)}]" if row.tags else ""
    return f"#{row.id} {row.title} ({row.status.value}{prio}{due}){tags}"
