"""Dapr cron input bindings: the sidecar's ticks drive the reminder sweep (reminder service) and retention (web
host) instead of in-process timers, with TODO_AGENT_BUS=dapr and TODO_AGENT_DAPR_CRON_BINDINGS (the default).

The contract (Dapr runtime source; facts note b6): at start-up a sidecar whose binding has no `direction: input`
probes `OPTIONS /<route>` (a 2xx means "subscribed"); each tick is a `POST /<route>` with an empty body,
`Content-Type: application/json` and the headers `timeZone`, `readTimeUTC`, `traceparent` and `dapr-api-token`
(APP_API_TOKEN). A 200 is success; anything else is a failed tick, retried only by a Resiliency policy.

Every replica's sidecar fires, so each job runs under a lease of its own: a tick takes or renews it and does the
work, or answers 200 `{"ran": false, ...}` when another replica holds it. The lease outlives the schedule (three
intervals), so its holder keeps it tick after tick and a replica that dies hands over within three ticks; a clean
shutdown releases it at once. The work itself is the timers' own (fire_due, prune), safe even if two ran at once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from sqlmodel import select

from domain.models import Lease
from runtime.lease import LeaseKeeper
from runtime.retention import prune

if TYPE_CHECKING:
    from runtime.bootstrap import Runtime
    from runtime.settings import Settings

logger = logging.getLogger(__name__)

REMINDER_SWEEP = "reminder-sweep"  # the binding (and lease) names, as the Helm chart declares them
RETENTION = "retention"
# The chart's default schedules are "@every 30s" and "@hourly"; each lease lasts three of them (module docstring).
# With a longer schedule the lease lapses between ticks and may change hands, but each tick still runs once.
LEASE_TTL_SECONDS = {REMINDER_SWEEP: 3 * 30.0, RETENTION: 3 * 3600.0}
SWEEP_BATCH = 100  # reminders fired per transaction; a tick loops until a batch comes back short
JOB_PRIORITY = 0  # every replica is equal for a cron job: no replica asks another to yield its lease


def bindings_drive(settings: Settings) -> bool:
    """Whether cron bindings drive the reminder sweep and retention (then their in-process timers must not run)."""
    return settings.bus == "dapr" and settings.dapr_cron_bindings


def route_of(name: str) -> str:
    """The route the sidecar POSTs a binding's ticks to (the chart's `route` metadata)."""
    return f"/bindings/{name}"


class CronJob:
    """One cron-driven job of this process: its lease and its work. A Worker, so the process stops it on shutdown,
    which releases the lease."""

    def __init__(self, name: str, lease: LeaseKeeper, work: Callable[[], Awaitable[dict[str, Any]]]) -> None:
        self.name = name
        self.lease = lease
        self.work = work
        self._busy = asyncio.Lock()  # a tick arriving while the previous one still works leaves it to that one
        self._stopped = asyncio.Event()

    async def tick(self) -> dict[str, Any]:
        """Do the work if this replica holds (or can take) the job's lease; what was done, or why not."""
        if self._busy.locked():
            return {"ran": False, "reason": f"the previous {self.name} tick is still running here"}
        async with self._busy:
            if not await self._hold():
                return {"ran": False, "reason": await self._why_not()}
            return {"ran": True, **await self.work()}

    async def _hold(self) -> bool:
        # A renewal fails when our hold was taken over or lapsed; then try to take it afresh (free or expired).
        if self.lease.held and await self.lease.renew():
            return True
        return await self.lease.try_acquire()

    async def _why_not(self) -> str:
        async with self.lease.uow.read() as tx:
            row = (await tx.session.exec(select(Lease).where(Lease.name == self.lease.name))).first()
        holder = row.holder if row is not None else "another replica"
        return f"{holder} holds the {self.name} lease"

    async def run(self) -> None:
        """Nothing runs between ticks: wait for the process to stop."""
        await self._stopped.wait()

    async def stop(self) -> None:
        """Release the lease (if held), so another replica takes the next tick at once."""
        self._stopped.set()
        try:
            await self.lease.release()
        except Exception as exc:  # it then expires after its ttl
            logger.warning("releasing the %s lease failed: %r", self.name, exc)

    def is_ready(self) -> bool:
        return not self._stopped.is_set()


def _lease(rt: Runtime, name: str) -> LeaseKeeper:
    ttl = LEASE_TTL_SECONDS[name]
    return LeaseKeeper(rt.uow, name, holder=rt.lease.holder, priority=JOB_PRIORITY, ttl=ttl, renew_every=ttl / 3)


def reminder_sweep(rt: Runtime) -> CronJob:
    """The reminder service's sweep: fire every due reminder, as the reminder service (as its timer does)."""
    from services.reminder_scheduler import fire_due
    from services.subscriptions import REMINDER, service_uow

    uow, grace = service_uow(rt.uow, REMINDER), rt.services.reminder_grace

    async def sweep() -> dict[str, Any]:
        taken = 0
        while (batch := await fire_due(uow, grace=grace, batch=SWEEP_BATCH)) > 0:
            taken += batch
            if batch < SWEEP_BATCH:
                break
        return {"reminders": taken}  # due rows handled: each sent, or dropped as stale

    return CronJob(REMINDER_SWEEP, _lease(rt, REMINDER_SWEEP), sweep)


def retention(rt: Runtime) -> CronJob:
    """The web host's retention: prune what outlived TODO_AGENT_RETENTION_DAYS (as the leader's timer does)."""
    from services.retention import PRUNERS

    older_than = timedelta(days=rt.settings.retention_days)

    async def run() -> dict[str, Any]:
        pruned = await prune(rt.uow, older_than, PRUNERS)
        if any(pruned.values()):
            logger.info("retention pruned %s", pruned)
        return {"pruned": pruned}

    return CronJob(RETENTION, _lease(rt, RETENTION), run)


def add_binding_routes(app: FastAPI, job: CronJob, *, app_token: str | None) -> None:
    """`OPTIONS` and `POST` on the job's route: the probe answers 200, a tick 200 with what it did, 401 without
    the app token, 500 (problem+json) when the work failed."""
    from services.transport.dapr import sidecar_only
    from web.problems import problem_response

    route = route_of(job.name)

    async def probe() -> Response:
        """The sidecar's start-up probe: this app takes the binding's ticks (nothing is done, nothing revealed)."""
        return Response(status_code=200)

    async def tick(request: Request) -> JSONResponse:
        """One tick of the binding; the body is empty, the headers carry the time (logged for tracing)."""
        logger.debug("%s tick read at %s", job.name, request.headers.get("readTimeUTC"))
        try:
            return JSONResponse(await job.tick())
        except Exception:
            logger.exception("the %s tick failed; the next one retries", job.name)
            return problem_response(500, "Internal Server Error", f"the {job.name} tick failed; see the log",
                                    code="cron_tick_failed")

    app.add_api_route(route, probe, methods=["OPTIONS"], include_in_schema=False)
    app.add_api_route(route, tick, methods=["POST"], include_in_schema=False, dependencies=sidecar_only(app_token))


def install_cron_jobs(app: FastAPI, rt: Runtime, jobs: list[CronJob], *, app_token: str | None) -> None:
    """Serve each job's binding route on `app` and run it as one of the runtime's workers (stopped, and its lease
    released, on shutdown)."""
    for job in jobs:
        add_binding_routes(app, job, app_token=app_token)
        rt.workers.append(job)
