"""Versioned CloudEvents: pydantic models for every event and command, and their exported JSON Schemas."""

from __future__ import annotations

import json
import uuid
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, TypeAdapter

from domain.schemas import TaskSnapshot, TaskSnapshotV1

TOPIC_TASKS = "tasks"
TOPIC_TASK_COMMANDS = "task-commands"
TOPIC_REMINDERS = "reminders"

TASK_CREATED = "com.todoagent.task.created"
TASK_UPDATED = "com.todoagent.task.updated"
TASK_COMPLETED = "com.todoagent.task.completed"
TASK_REOPENED = "com.todoagent.task.reopened"
TASK_DELETED = "com.todoagent.task.deleted"
TASK_RESTORED = "com.todoagent.task.restored"
NEXT_OCCURRENCE_REQUESTED = "com.todoagent.recurrence.next-requested"
REMINDER_DUE = "com.todoagent.reminder.due"

PROJECT_CREATED = "com.todoagent.project.created"
PROJECT_RENAMED = "com.todoagent.project.renamed"
PROJECT_UPDATED = "com.todoagent.project.updated"  # a change of colour only
PROJECT_ARCHIVED = "com.todoagent.project.archived"
PROJECT_UNARCHIVED = "com.todoagent.project.unarchived"
PROJECT_DELETED = "com.todoagent.project.deleted"
PROJECT_RESTORED = "com.todoagent.project.restored"  # undo of a deletion

TASK_EVENT_TYPES = (TASK_CREATED, TASK_UPDATED, TASK_COMPLETED, TASK_REOPENED, TASK_DELETED, TASK_RESTORED)
PROJECT_EVENT_TYPES = (PROJECT_CREATED, PROJECT_RENAMED, PROJECT_UPDATED, PROJECT_ARCHIVED, PROJECT_UNARCHIVED,
                       PROJECT_DELETED, PROJECT_RESTORED)


class TaskChangedV1(BaseModel):
    """Data of every task event up to version 1: who acted, the task after the change, and what changed. Still read
    (events written before version 2, undo of them); no longer written."""

    schema_version: Literal[1] = 1
    user_id: int
    actor: str = Field(description="'user:<id>' or 'system:<service>'")
    operation_id: str = Field(description="events written by one operation share it")
    task: TaskSnapshotV1 = Field(description="snapshot of the task after the change")
    changes: dict[str, tuple[Any, Any]] = Field(description="field -> [old, new]")


class TaskChangedV2(BaseModel):
    """Data of every task event: who acted, the task after the change (with its project and parent), and what
    changed."""

    schema_version: Literal[2] = 2
    user_id: int
    actor: str = Field(description="'user:<id>' or 'system:<service>'")
    operation_id: str = Field(description="events written by one operation share it")
    task: TaskSnapshot = Field(description="snapshot of the task after the change")
    changes: dict[str, tuple[Any, Any]] = Field(description="field -> [old, new]")


TaskChanged = TaskChangedV1 | TaskChangedV2  # what a consumer of task events reads
_TASK_CHANGED: TypeAdapter[TaskChanged] = TypeAdapter(
    Annotated[TaskChanged, Field(discriminator="schema_version")]
)
TASK_CHANGED_VERSIONS = (1, 2)


def read_task_change(data: Any) -> TaskChanged:
    """The data of a task event of any version still read (1 or 2); pydantic's ValidationError otherwise."""
    return _TASK_CHANGED.validate_python(data)


class ProjectSnapshot(BaseModel):
    """A project as its events carry it."""

    id: int
    name: str
    colour: str | None
    is_inbox: bool
    archived_at: datetime | None
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None
    version: int


class ProjectChangedV1(BaseModel):
    """Data of every project event: who acted, the project after the change, and what changed."""

    schema_version: Literal[1] = 1
    user_id: int
    actor: str = Field(description="'user:<id>' or 'system:<service>'")
    operation_id: str = Field(description="events written by one operation share it")
    project: ProjectSnapshot = Field(description="snapshot of the project after the change")
    changes: dict[str, tuple[Any, Any]] = Field(description="field -> [old, new]")


class NextOccurrenceRequestedV1(BaseModel):
    """Command to the task service: create the successor of a completed recurring instance."""

    schema_version: Literal[1] = 1
    user_id: int
    predecessor_id: int
    due_at: datetime | None
    due_date: date | None


class ReminderDueV1(BaseModel):
    """A reminder fired for a task."""

    schema_version: Literal[1] = 1
    user_id: int
    task_id: int
    title: str
    due_at: datetime | None
    due_date: date | None
    offset_minutes: int
    scheduled_for: datetime
    late: bool = False


# What each type carries now (make_event checks it); earlier versions still exported for their consumers.
DATA_MODELS: dict[str, type[BaseModel]] = {
    **dict.fromkeys(TASK_EVENT_TYPES, TaskChangedV2),
    **dict.fromkeys(PROJECT_EVENT_TYPES, ProjectChangedV1),
    NEXT_OCCURRENCE_REQUESTED: NextOccurrenceRequestedV1,
    REMINDER_DUE: ReminderDueV1,
}
EARLIER_DATA_MODELS: dict[str, tuple[type[BaseModel], ...]] = dict.fromkeys(TASK_EVENT_TYPES, (TaskChangedV1,))

TOPIC_OF: dict[str, str] = {
    **dict.fromkeys(TASK_EVENT_TYPES, TOPIC_TASKS),
    **dict.fromkeys(PROJECT_EVENT_TYPES, TOPIC_TASKS),
    NEXT_OCCURRENCE_REQUESTED: TOPIC_TASK_COMMANDS,
    REMINDER_DUE: TOPIC_REMINDERS,
}


class CloudEvent(BaseModel):
    """The CloudEvents 1.0 JSON envelope."""

    specversion: Literal["1.0"] = "1.0"
    id: str = Field(default_factory=lambda: str(uuid.uuid4()))
    source: str
    type: str
    subject: str | None = None
    time: datetime
    datacontenttype: Literal["application/json"] = "application/json"
    dataschema: str | None = None
    data: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)


def make_event(event_type: str, data: BaseModel, *, source: str, subject: str | None, time: datetime) -> CloudEvent:
    """Wrap event data in a CloudEvent, checking the data model matches the type."""
    expected = DATA_MODELS[event_type]
    if not isinstance(data, expected):
        raise TypeError(f"{event_type} carries {expected.__name__}, not {type(data).__name__}")
    version = data.model_dump()["schema_version"]
    return CloudEvent(
        source=source,
        type=event_type,
        subject=subject,
        time=time,
        dataschema=f"todo-agent:{event_type}/v{version}",
        data=data.model_dump(mode="json"),
    )


def event_schemas() -> dict[str, dict[str, Any]]:
    """JSON Schema of each event type's data, keyed '<type>.v<schema_version>'."""
    out: dict[str, dict[str, Any]] = {}
    for event_type, model in DATA_MODELS.items():
        for each in (*EARLIER_DATA_MODELS.get(event_type, ()), model):
            version = each.model_fields["schema_version"].default
            schema = each.model_json_schema()
            schema["$id"] = f"todo-agent:{event_type}/v{version}"
            out[f"{event_type}.v{version}"] = schema
    return out


SCHEMA_DIR = Path(__file__).parent / "event_schemas"


def export_schemas(directory: Path = SCHEMA_DIR) -> list[Path]:
    """Write every event schema to `<directory>/<type>.v<N>.json`; returns the paths written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, schema in event_schemas().items():
        path = directory / f"{name}.json"
        path.write_text(json.dumps(schema, indent=2, sort_keys=True) + "\n")
        written.append(path)
    return written
