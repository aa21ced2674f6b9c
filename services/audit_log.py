"""Reading the audit log: a user's own entries, or (for admins) anyone's, with filters and a cursor.

The web host reads it through the AuditReader port: from the database here (LocalAuditReader), or, when the audit
service runs apart on Dapr, through service invocation (services.transport.dapr_invoke); both take one AuditQuery.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import col, func, select

from domain.cursors import decode_id_cursor, encode_id_cursor
from domain.timeutil import normalize_local, utc
from domain.uow import UnitOfWork
from domain.usecases import Actor
from domain.values import PAGE_DEFAULT, PAGE_MAX
from services.tables import AuditEntry

TYPE_PREFIX = "com.todoagent."


class AuditQuery(BaseModel):
    """Filters of the audit log; `since` is inclusive, `until` exclusive; times without offset are the user's."""

    model_config = ConfigDict(extra="forbid")

    task_id: int | None = None
    type: str | None = Field(default=None, description="e.g. task.completed (or the full CloudEvent type)")
    since: datetime | None = None
    until: datetime | None = None
    user_id: int | None = Field(default=None, description="admins only: one user's entries")
    limit: int = Field(default=PAGE_DEFAULT, ge=1, le=PAGE_MAX)
    cursor: str | None = None


class AuditEntryView(BaseModel):
    id: int
    type: str
    task_id: int | None = Field(description="the task of a task event; null for a project event")
    project_id: int | None = Field(default=None, description="the project of a project event")
    user_id: int
    actor: str
    time: datetime
    before: dict[str, Any] | None
    after: dict[str, Any]


class AuditPage(BaseModel):
    data: list[AuditEntryView]
    count: int = Field(description="entries matching the filters")
    next_cursor: str | None


async def list_audit(uow: UnitOfWork, actor: Actor, query: AuditQuery, *, everyone: bool = False) -> AuditPage:
    """Newest first: the actor's own entries, or with `everyone` (admins) all users' (narrowed by `user_id`)."""
    filters = _filters(actor, query, everyone)
    async with uow.read() as tx:
        total = (await tx.session.exec(select(func.count()).select_from(AuditEntry).where(*filters))).one()
        stmt = select(AuditEntry).where(*filters)
        if query.cursor:
            stmt = stmt.where(col(AuditEntry.id) < decode_id_cursor(query.cursor))
        rows = list((await tx.session.exec(stmt.order_by(col(AuditEntry.id).desc()).limit(query.limit + 1))).all())
    page = rows[: query.limit]
    cursor = encode_id_cursor(page[-1].id or 0) if len(rows) > query.limit else None
    return AuditPage(
        data=[AuditEntryView.model_validate(r, from_attributes=True) for r in page], count=int(total),
        next_cursor=cursor,
    )


class AuditUnavailable(Exception):
    """The audit log could not be read where it lives (the audit service or its sidecar is down or unreachable);
    the caller may try again."""


class AuditRefused(Exception):
    """The audit service refused a query the web host had validated, or answered something unreadable: a bug or a
    version mismatch between the two, not the user's fault."""


class AuditReader(Protocol):
    """Where the web host reads the audit log from; authorization stays with the caller (only admins get
    `everyone`), the reader returns what it is asked for."""

    async def read(self, actor: Actor, query: AuditQuery, *, everyone: bool = False) -> AuditPage: ...


class LocalAuditReader:
    """The audit log in this process's database (list_audit on its unit of work)."""

    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow

    async def read(self, actor: Actor, query: AuditQuery, *, everyone: bool = False) -> AuditPage:
        return await list_audit(self.uow, actor, query, everyone=everyone)


def _filters(actor: Actor, query: AuditQuery, everyone: bool) -> list[sa.ColumnElement[bool]]:
    filters: list[sa.ColumnElement[bool]] = []
    if not everyone:
        filters.append(col(AuditEntry.user_id) == actor.id)
    elif query.user_id is not None:
        filters.append(col(AuditEntry.user_id) == query.user_id)
    if query.task_id is not None:
        filters.append(col(AuditEntry.task_id) == query.task_id)
    if query.type:
        kind = query.type.strip()
        filters.append(col(AuditEntry.type) == (kind if kind.startswith(TYPE_PREFIX) else TYPE_PREFIX + kind))
    if query.since is not None:
        filters.append(col(AuditEntry.time) >= _moment(query.since, actor))
    if query.until is not None:
        filters.append(col(AuditEntry.time) < _moment(query.until, actor))
    return filters


def _moment(value: datetime, actor: Actor) -> datetime:
    return utc(value) if value.tzinfo is not None else utc(normalize_local(value, actor.tz))
