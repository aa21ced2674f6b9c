"""Liveness and readiness probes: /healthz (the process answers) and /readyz (database, outbox, lease)."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from sqlalchemy import literal_column
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlmodel import select

from domain.outbox import outbox_status
from web.bootstrap import Runtime

router = APIRouter(tags=["health"])

READY_TIMEOUT_SECONDS = 5.0


def get_runtime(request: Request) -> Runtime:
    """The runtime the app was created with."""
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is alive (touches nothing else)."""
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"description": "the database is unreachable"}})
async def readyz(rt: RuntimeDep) -> JSONResponse:
    """Ready when the database answers; reports the outbox backlog and whether this process holds the lease."""
    try:
        outbox = await asyncio.wait_for(_check_database(rt), READY_TIMEOUT_SECONDS)
    except (SQLAlchemyError, OSError, TimeoutError) as exc:
        return JSONResponse({"status": "unavailable", "database": _summary(exc)}, status_code=503)
    body = {"status": "ready", "database": "ok", "outbox": outbox, "leader": rt.lease.held}
    return JSONResponse(body)


async def _check_database(rt: Runtime) -> dict[str, Any]:
    async with rt.uow.read() as tx:
        await tx.session.exec(select(literal_column("1")))  # SELECT 1
    status = await outbox_status(rt.uow)
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
