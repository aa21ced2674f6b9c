"""Liveness and readiness probes: /healthz (the process answers) and /readyz (database, outbox, lease, and in a
service process its consumers). Every process's HTTP app serves this one router, reading `app.state.readiness`."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from sqlalchemy import literal_column
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlmodel import select

from domain.uow import UnitOfWork
from domain.usecases import outbox_status

router = APIRouter(tags=["health"])

READY_TIMEOUT_SECONDS = 5.0


@dataclass(frozen=True)
class Readiness:
    """What /readyz looks at: the database (and the outbox in it), whether this process holds the lease, and in a
    service process whether each consumer has joined its group (`consumers`); `about` names the process."""

    uow: UnitOfWork
    leader: Callable[[], bool]
    consumers: Callable[[], Mapping[str, bool]] | None = None
    about: Mapping[str, str] = field(default_factory=dict)


async def get_readiness(request: Request) -> Readiness:
    """The readiness the app was created with."""
    readiness: Readiness = request.app.state.readiness
    return readiness


ReadinessDep = Annotated[Readiness, Depends(get_readiness)]


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is alive (touches nothing else)."""
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"description": "the database is unreachable, or a consumer not joined yet"}})
async def readyz(readiness: ReadinessDep) -> JSONResponse:
    """Ready when the database answers (and every consumer has joined); reports the outbox backlog and whether
    this process holds the lease."""
    consumers = dict(readiness.consumers()) if readiness.consumers is not None else None
    try:
        outbox = await asyncio.wait_for(_check_database(readiness.uow), READY_TIMEOUT_SECONDS)
    except (SQLAlchemyError, OSError, TimeoutError) as exc:
        failed: dict[str, Any] = {"status": "unavailable", **readiness.about, "database": _summary(exc)}
        if consumers is not None:
            failed["consumers"] = consumers
        return JSONResponse(failed, status_code=503)
    ready = consumers is None or all(consumers.values())
    body: dict[str, Any] = {"status": "ready" if ready else "starting", **readiness.about, "database": "ok",
                            "outbox": outbox, "leader": readiness.leader()}
    if consumers is not None:
        body["consumers"] = consumers
    return JSONResponse(body, status_code=200 if ready else 503)


async def _check_database(uow: UnitOfWork) -> dict[str, Any]:
    async with uow.read() as tx:
        await tx.session.exec(select(literal_column("1")))  # SELECT 1
    status = await outbox_status(uow)
    return {
        "pending": status.pending,
        "oldest_pending_age_seconds": status.oldest_pending_age_seconds,
        "failing": status.failing,
    }


def _summary(exc: BaseException) -> str:
    """One line naming the failure, without the SQL or the driver's background link."""
    if isinstance(exc, TimeoutError):
        return f"no answer within {READY_TIMEOUT_SECONDS:g} s"
    cause = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    lines = str(cause).strip().splitlines()
    return lines[0] if lines else type(cause).__name__
