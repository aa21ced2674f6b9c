"""SQLModel tables of the services: inbox, dead letters, reminder schedule, notifications and the audit log."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import JSON, Column, Field, SQLModel

GROUP_LENGTH = 100
EVENT_ID_LENGTH = 200  # our ids are UUIDs; ids from other producers may be longer


class InboxRecord(SQLModel, table=True):
    """An event a consumer group has processed: its effect was committed in the same transaction as this row."""

    __tablename__ = "inbox_record"

    consumer_group: str = Field(primary_key=True, max_length=GROUP_LENGTH)
    event_id: str = Field(primary_key=True, max_length=EVENT_ID_LENGTH)
    processed_at: datetime = Field(index=True)


class DeadLetter(SQLModel, table=True):
    """A message its consumer group could never handle (poison), kept to be inspected and replayed."""

    __tablename__ = "dead_letter"
    __table_args__ = (sa.UniqueConstraint("consumer_group", "event_id", name="uq_dead_letter_group_event"),)

    id: int | None = Field(default=None, primary_key=True)
    consumer_group: str = Field(max_length=GROUP_LENGTH)
    topic: str = Field(max_length=100)
    event_id: str = Field(max_length=EVENT_ID_LENGTH)
    event_type: str = Field(default="", max_length=200)
    payload: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    error: str = Field(default="", sa_type=sa.Text)
    attempts: int = 1
    created_at: datetime = Field(index=True)
    replayed_at: datetime | None = None


class ReminderTaskState(SQLModel, table=True):
    """The newest task version the reminder service applied: older (re)deliveries are ignored."""

    __tablename__ = "reminder_task_state"

    task_id: int = Field(primary_key=True)
    user_id: int = Field(index=True)
    version: int
    updated_at: datetime


class ReminderSchedule(SQLModel, table=True):
    """One reminder of one task: when it fires, and when it was sent (NULL while pending)."""

    __tablename__ = "reminder_schedule"
    __table_args__ = (
        sa.Index(
            "ix_reminder_pending_fire_at",
            "fire_at",
            sqlite_where=sa.text("sent_at IS NULL"),
            postgresql_where=sa.text("sent_at IS NULL"),
        ),
        sa.Index("ix_reminder_task", "task_id", "offset_minutes"),
        sa.Index("ix_reminder_sent_at", "sent_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    task_id: int
    user_id: int
    offset_minutes: int
    fire_at: datetime  # UTC
    due_at: datetime | None = None  # the due it was computed from (a moment, UTC) ...
    due_date: date | None = None  # ... or the day of an all-day task
    created_at: datetime
    sent_at: datetime | None = None
    late: bool = False


class Notification(SQLModel, table=True):
    """A reminder delivered to a user, shown on their pages until read."""

    __table_args__ = (sa.Index("ix_notification_user_id", "user_id", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int
    task_id: int
    event_id: str = Field(max_length=EVENT_ID_LENGTH, unique=True)  # the reminder.due event it came from
    title: str = Field(max_length=500)
    due_at: datetime | None = None
    due_date: date | None = None
    offset_minutes: int = 0
    fire_at: datetime  # when the reminder was scheduled for
    late: bool = False
    created_at: datetime
    read_at: datetime | None = Field(default=None, index=True)


class AuditEntry(SQLModel, table=True):
    """One task or project event in the audit log: who did what to which task (or project), and its snapshot
    before and after."""

    __tablename__ = "audit_entry"
    __table_args__ = (
        sa.Index("ix_audit_user_id", "user_id", "id"),
        sa.Index("ix_audit_user_task", "user_id", "task_id", "id"),
        sa.Index("ix_audit_time", "time"),
    )

    id: int | None = Field(default=None, primary_key=True)
    event_id: str = Field(max_length=EVENT_ID_LENGTH, unique=True)
    type: str = Field(max_length=100)
    user_id: int
    task_id: int | None = None  # None for a project event
    project_id: int | None = None  # the project of a project event
    actor: str = Field(max_length=100)
    time: datetime
    before: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    after: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    created_at: datetime
