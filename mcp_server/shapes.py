"""What the tools return: full tasks and projects for single-item tools, compact rows for lists, and small
summaries."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field

from domain.project_schemas import ProjectView
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
    project_id: int = Field(description="its project (list_projects names them)")
    parent_id: int | None = Field(description="the task it is a subtask of; null: top-level")
    subtask_count: int = Field(description="its direct subtasks (not in the trash)")
    open_subtask_count: int = Field(description="of those, the open ones")

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
            project_id=task.project_id,
            parent_id=task.parent_id,
            subtask_count=task.subtask_count,
            open_subtask_count=task.open_subtask_count,
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


class ProjectRow(BaseModel):
    """A project in a list: its id and name to pass as `project`, and its version for expected_version."""

    id: int
    name: str
    colour: str | None
    is_inbox: bool
    archived: bool
    open_count: int = Field(description="open tasks in it")
    version: int

    @classmethod
    def of(cls, project: ProjectView) -> ProjectRow:
        return cls(id=project.id, name=project.name, colour=project.colour, is_inbox=project.is_inbox,
                   archived=project.archived, open_count=project.open_count, version=project.version)


class ProjectList(BaseModel):
    """The user's projects, the Inbox first."""

    data: list[ProjectRow]
    count: int


class ProjectWithTasks(ProjectView):
    """A project (the project:// resource) with its open tasks, a page of up to 100 rows."""

    tasks: TaskList


class Undone(BaseModel):
    undone: str
    data: list[TaskRow]
    projects: list[ProjectRow] = Field(description="projects the undo changed back (a deleted one returns)")


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
    parts.append(_family(task.parent_id, task.subtask_count, task.open_subtask_count))
    tags = f" [{', '.join(task.tags)}]" if task.tags else ""
    return f"#{task.id} {task.title} — {', '.join(p for p in parts if p)}{tags}"


def describe_row(row: TaskRow) -> str:
    due = f", due {row.due_local}" if row.due_local else ""
    prio = f", {row.priority.value}" if row.priority != Priority.NONE else ""
    family = _family(row.parent_id, row.subtask_count, row.open_subtask_count)
    tags = f" [{', '.join(row.tags)}]" if row.tags else ""
    return f"#{row.id} {row.title} ({row.status.value}{prio}{due}{', ' + family if family else ''}){tags}"


def _family(parent_id: int | None, subtasks: int, open_subtasks: int) -> str:
    """'subtask of #5', '2 of 3 subtasks open', both, or ''."""
    parts = [f"subtask of #{parent_id}" if parent_id is not None else "",
             f"{open_subtasks} of {subtasks} subtasks open" if subtasks else ""]
    return ", ".join(p for p in parts if p)


def describe_project(project: ProjectView | ProjectRow) -> str:
    """'#7 Shopping — 3 open, #22c55e' (an archived project and the default one, the Inbox, say so)."""
    parts = [f"{project.open_count} open", project.colour or "", "default" if project.is_inbox else "",
             "archived" if project.archived else ""]
    return f"#{project.id} {project.name} — {', '.join(p for p in parts if p)}"
