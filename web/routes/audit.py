"""/api/v1/audit: the history of your tasks; /api/v1/admin/audit: everyone's, for administrators."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import AfterValidator

from domain.usecases import Actor
from domain.values import DATE_MAX, DATE_MIN, ID_MAX, PAGE_DEFAULT, PAGE_MAX, Text
from services.audit_log import AuditPage, AuditQuery, AuditReader, AuditRefused, AuditUnavailable, LocalAuditReader
from web.deps import CurrentActor, StateDep
from web.problems import responses

router = APIRouter(prefix="/api/v1", tags=["audit"], responses=responses(401, 422, 502, 503))

TaskFilter = Annotated[int | None, Query(ge=1, le=ID_MAX, description="only this task's entries")]
TypeFilter = Annotated[Text | None, Query(max_length=100, description="e.g. task.completed")]


def _in_range(moment: datetime | None) -> datetime | None:
    """A time of 1900..2200, as every date the API takes (beyond them time zone arithmetic overflows)."""
    if moment is not None and not DATE_MIN <= moment.date() <= DATE_MAX:
        raise ValueError(f"give a time from {DATE_MIN} to {DATE_MAX}")
    return moment


Moment = Annotated[datetime | None, AfterValidator(_in_range)]
Since = Annotated[Moment, Query(description="from this time (inclusive; without offset: your timezone)")]
Until = Annotated[Moment, Query(description="before this time (exclusive; without offset: your timezone)")]
Cursor = Annotated[Text | None, Query()]
Limit = Annotated[int, Query(ge=1, le=PAGE_MAX)]


async def audit_reader(state: StateDep) -> AuditReader:
    """Where the audit log is read: the audit service through Dapr service invocation when it runs apart, else
    this process's database."""
    return state.audit if state.audit is not None else LocalAuditReader(state.uow)


Reader = Annotated[AuditReader, Depends(audit_reader)]


async def _read(reader: AuditReader, actor: Actor, query: AuditQuery, *, everyone: bool = False) -> AuditPage:
    """The page, or 503 (the audit service is unreachable) / 502 (it refused the query) with nothing of its
    answer leaked."""
    try:
        return await reader.read(actor, query, everyone=everyone)
    except AuditUnavailable:
        raise HTTPException(503, "the audit service is unreachable; try again", headers={"Retry-After": "5"}) from None
    except AuditRefused:
        raise HTTPException(502, "the audit service could not answer this query") from None


@router.get("/audit", response_model=AuditPage)
async def get_audit(
    reader: Reader, actor: CurrentActor, task_id: TaskFilter = None, type: TypeFilter = None, since: Since = None,
    until: Until = None, limit: Limit = PAGE_DEFAULT, cursor: Cursor = None,
) -> AuditPage:
    """What happened to your tasks, newest first: who, what, when, and the task before and after."""
    query = AuditQuery(task_id=task_id, type=type, since=since, until=until, limit=limit, cursor=cursor)
    return await _read(reader, actor, query)


@router.get("/admin/audit", response_model=AuditPage, responses=responses(403))
async def get_admin_audit(
    reader: Reader, actor: CurrentActor,
    user_id: Annotated[int | None, Query(ge=1, le=ID_MAX, description="only this user's entries")] = None,
    task_id: TaskFilter = None, type: TypeFilter = None, since: Since = None, until: Until = None,
    limit: Limit = PAGE_DEFAULT, cursor: Cursor = None,
) -> AuditPage:
    """Every user's audit entries (administrators only), newest first."""
    if not actor.is_admin:
        raise HTTPException(403, "the audit of all users is for administrators; read your own at /api/v1/audit")
    query = AuditQuery(user_id=user_id, task_id=task_id, type=type, since=since, until=until, limit=limit,
                       cursor=cursor)
    return await _read(reader, actor, query, everyone=True)
