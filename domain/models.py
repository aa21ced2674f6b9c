"""SQLModel tables of the task domain: users, tokens, login sessions, projects, tasks and tags, and the outbox,
idempotency and lease rows."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import JSON, Column, Field, SQLModel

from domain.events import TASK_COMPLETED, TASK_DELETED, TASK_REOPENED, TASK_RESTORED
from domain.values import Status

NO_DUE_KEY = 2**62  # the sort key of a task without a due date: after every real one

# Compare titles byte-wise on both databases so sorting answers alike (PostgreSQL would use the locale).
_BinaryText = sa.String().with_variant(sa.String(collation="C"), "postgresql")


class User(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=320, unique=True, index=True)
    password_hash: str | None = Field(default=None, max_length=255)
    timezone: str = Field(default="UTC", max_length=64)
    is_admin: bool = False
    created_at: datetime


class ApiToken(SQLModel, table=True):
    __tablename__ = "api_token"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user.id", index=True, ondelete="CASCADE")
    name: str = Field(default="", max_length=100)
    prefix: str = Field(max_length=16)
    token_hash: str = Field(max_length=64, unique=True, index=True)
    created_at: datetime
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None


class AuthSession(SQLModel, table=True):
    """A login session: its access tokens name it (`sid`), and revoking it ends them and its refresh token."""

    __tablename__ = "auth_session"

    id: str = Field(primary_key=True, max_length=32)  # opaque: 128 random bits as hex
    user_id: int = Field(foreign_key="user.id", index=True, ondelete="CASCADE")
    created_at: datetime
    auth_time: datetime  # when the password was checked
    refreshed_at: datetime
    expires_at: datetime  # absolute end (auth_time + the session maximum): then log in again
    refresh_hash: str = Field(max_length=64)  # sha256 of the current refresh token's jti: older ones are reuse
    revoked_at: datetime | None = None


class Project(SQLModel, table=True):
    """A user's named list of tasks; every user has one Inbox. Deleted projects stay (soft delete) for undo."""

    __table_args__ = (
        # Names are unique per owner among live projects, whatever their case.
        sa.Index("uq_project_owner_name", "owner_id", "name_key", unique=True,
                 sqlite_where=sa.text("deleted_at IS NULL"), postgresql_where=sa.text("deleted_at IS NULL")),
        sa.Index("uq_project_owner_inbox", "owner_id", unique=True,
                 sqlite_where=sa.text("is_inbox"), postgresql_where=sa.text("is_inbox")),
    )

    id: int | None = Field(default=None, primary_key=True)
    owner_id: int = Field(foreign_key="user.id", ondelete="CASCADE")
    name: str = Field(max_length=100)
    name_key: str = Field(max_length=100)  # case-folded name: what uniqueness and lookups by name compare
    colour: str | None = Field(default=None, max_length=7)  # '#rrggbb', lower-case
    is_inbox: bool = False
    archived_at: datetime | None = None
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None = None
    version: int = 1


class Task(SQLModel, table=True):
    __table_args__ = (
        # Live tasks (not in the trash) by due, tasks without a due last: the default list walks this in order.
        sa.Index("ix_task_live_due", "owner_id", sa.text(f"coalesce(due_key, {NO_DUE_KEY})"), "id",
                 sqlite_where=sa.text("deleted_at IS NULL"), postgresql_where=sa.text("deleted_at IS NULL")),
        sa.Index("ix_task_live_status_due", "owner_id", "status", "due_key", "all_day",
                 sqlite_where=sa.text("deleted_at IS NULL"), postgresql_where=sa.text("deleted_at IS NULL")),
        sa.Index("ix_task_owner_created", "owner_id", "created_at", "id"),
        sa.Index("ix_task_owner_updated", "owner_id", "updated_at", "id"),
        sa.Index("ix_task_owner_priority", "owner_id", "priority", "id"),
        sa.Index("ix_task_owner_title", "owner_id", "title_key", "id"),
        sa.Index("ix_task_series", "series_id"),
        # A project's live tasks by due: a project-filtered list walks this as the default list walks ix_task_live_due.
        sa.Index("ix_task_live_project_due", "owner_id", "project_id", sa.text(f"coalesce(due_key, {NO_DUE_KEY})"),
                 "id", sqlite_where=sa.text("deleted_at IS NULL"), postgresql_where=sa.text("deleted_at IS NULL")),
        sa.Index("ix_task_parent", "parent_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    owner_id: int = Field(foreign_key="user.id", ondelete="CASCADE")
    project_id: int = Field(foreign_key="project.id", ondelete="CASCADE")
    parent_id: int | None = Field(default=None, foreign_key="task.id", ondelete="CASCADE")
    title: str = Field(max_length=500)
    title_key: str = Field(sa_type=_BinaryText)  # case-folded title: the sort key for `title`
    search_text: str = ""  # normalized words of title and description: what full-text search indexes
    description: str = ""
    status: str = Field(default="open", max_length=16)
    priority: int = 0  # rank of domain.values.Priority (none=0 ... urgent=4)
    due_at: datetime | None = None  # a moment, stored UTC; None for all-day tasks
    due_date: date | None = None  # the day of an all-day task
    all_day: bool = False
    # epoch seconds used to sort and range-filter both kinds of due date (64-bit: dates past 2038)
    due_key: int | None = Field(default=None, sa_type=sa.BigInteger)
    reminders: list[int] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    recurrence_rule: str | None = Field(default=None, max_length=200)
    recurrence_mode: str | None = Field(default=None, max_length=16)
    recurrence_until: datetime | None = None
    recurrence_count: int | None = None
    series_id: int | None = None
    predecessor_id: int | None = Field(default=None, unique=True)
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None = None
    deleted_at: datetime | None = None
    version: int = 1

    # The life cycle. Each transition returns the type of the event it makes, or None when the task is already
    # there (completing a completed task changes nothing); mutate() records it.

    def complete(self, at: datetime) -> str | None:
        """Mark the task completed at `at`."""
        if self.status == Status.COMPLETED:
            return None
        self.status, self.completed_at = Status.COMPLETED, at
        return TASK_COMPLETED

    def reopen(self) -> str | None:
        """Mark a completed task open again."""
        if self.status == Status.OPEN:
            return None
        self.status, self.completed_at = Status.OPEN, None
        return TASK_REOPENED

    def delete(self, at: datetime) -> str:
        """Move the task to the trash (deleting again moves its deletion time)."""
        self.deleted_at = at
        return TASK_DELETED

    def restore(self) -> str | None:
        """Take the task out of the trash."""
        if self.deleted_at is None:
            return None
        self.deleted_at = None
        return TASK_RESTORED


class Tag(SQLModel, table=True):
    __table_args__ = (sa.UniqueConstraint("owner_id", "name", name="uq_tag_owner_name"),)

    id: int | None = Field(default=None, primary_key=True)
    owner_id: int = Field(foreign_key="user.id", ondelete="CASCADE")
    name: str = Field(max_length=50)


class TaskTag(SQLModel, table=True):
    __tablename__ = "task_tag"

    task_id: int = Field(foreign_key="task.id", primary_key=True, ondelete="CASCADE")
    tag_id: int = Field(foreign_key="tag.id", primary_key=True, index=True, ondelete="CASCADE")


class OutboxEvent(SQLModel, table=True):
    """A CloudEvent written in the same transaction as the change it describes, waiting for the relay."""

    __tablename__ = "outbox_event"
    __table_args__ = (
        sa.Index(
            "ix_outbox_pending",
            "seq",
            sqlite_where=sa.text("sent_at IS NULL"),
            postgresql_where=sa.text("sent_at IS NULL"),
        ),
        sa.Index("ix_outbox_user_seq", "user_id", "seq"),
        sa.Index("ix_outbox_sent_at", "sent_at"),
    )

    seq: int | None = Field(default=None, primary_key=True)
    event_id: str = Field(max_length=36, unique=True)
    topic: str = Field(max_length=100)
    key: str = Field(max_length=100)  # partition key: the user id
    type: str = Field(max_length=100)
    user_id: int | None = None
    operation_id: str | None = Field(default=None, max_length=36)  # events of one use-case call share it
    undoable: bool = False
    payload: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    created_at: datetime
    sent_at: datetime | None = None
    attempts: int = 0
    next_attempt_at: datetime | None = None
    last_error: str | None = None


class IdempotencyRecord(SQLModel, table=True):
    __tablename__ = "idempotency_record"
    __table_args__ = (sa.UniqueConstraint("user_id", "key", name="uq_idempotency_user_key"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user.id", ondelete="CASCADE")
    key: str = Field(max_length=255)
    request_hash: str = Field(max_length=64)
    task_id: int
    created_at: datetime = Field(index=True)


class Lease(SQLModel, table=True):
    """Which process runs the relay, the services and the scheduler (DESIGN.md "Runtimes")."""

    name: str = Field(primary_key=True, max_length=50)
    holder: str = Field(max_length=200)
    priority: int = 0
    epoch: int = 0  # incremented on every change of holder: a fencing token
    expires_at: datetime
    wanted_by: str | None = Field(default=None, max_length=200)  # a higher-priority process waiting
    wanted_priority: int = 0
