"""Versioned CloudEvents: pydantic models for every event and command, and their exported JSON Schemas."""

from __future__ import annotations

import json
import uuid
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from domain.schemas import TaskView

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

TASK_EVENT_TYPES = (TASK_CREATED, TASK_UPDATED, TASK_COMPLETED, TASK_REOPENED, TASK_DELETED, TASK_RESTORED)


class TaskChangedV1(BaseModel):
    """Data of every task event: who acted, the task after the change, and what changed."""

    schema_version: Literal[1] = 1
    user_id: int
    actor: str = Field(description="'user:<id>' or 'system:<service>'")
    operation_id: str = Field(description="events written by one operation share it")
    task: TaskView = Field(description="snapshot of the task after the change")
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


DATA_MODELS: dict[str, type[BaseModel]] = {
    **dict.fromkeys(TASK_EVENT_TYPES, TaskChangedV1),
    NEXT_OCCURRENCE_REQUESTED: NextOccurrenceRequestedV1,
    REMINDER_DUE: ReminderDueV1,
}

TOPIC_OF: dict[str, str] = {
    **dict.fromkeys(TASK_EVENT_TYPES, TOPIC_TASKS),
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
        version = model.model_fields["schema_version"].default
        schema = model.model_json_schema()
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
