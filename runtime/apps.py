"""The HTTP apps of the long-running processes, built on the bootstrap's runtime: the web host (`todo-agent
serve`: REST, page, chat, `/mcp`) and a service process (`todo-agent service NAME`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import timedelta
from typing import TYPE_CHECKING

from runtime.bootstrap import (
    ConfigurationError,
    Runtime,
    background,
    build_mcp,
    build_runtime,
    build_state_inbox,
    reminder_scheduler,
)
from runtime.settings import Settings

if TYPE_CHECKING:
    import httpx
    from fastapi import FastAPI

    from services.subscriptions import Subscription
    from services.transport.dapr_invoke import DaprAuditReader


def create_app(rt: Runtime) -> FastAPI:
    """The web host for one runtime: REST, page, chat and `/mcp`; it runs the leader duties in the background while
    it serves, and on Dapr the sidecar's deliveries arrive at its routes."""

    from runtime.chat import build_agent, close_agent, conversation_store
    from web.app import build_app
    from web.deps import ApiState
    from web.ratelimit import WindowLimiter
    from web.routes.health import Readiness

    mcp = build_mcp(rt)
    settings = rt.settings
    audit = _audit_reader(settings)
    if audit is not None:
        rt.closing.append(audit.close)  # its HTTP client to the sidecar
    state = ApiState(uow=rt.uow, secret=rt.secret, conversations=conversation_store(rt),
                     allow_registration=settings.allow_registration, agent=build_agent(rt, mcp.app),
                     access_ttl=timedelta(minutes=settings.access_token_minutes),
                     session_max=timedelta(hours=settings.session_max_hours),
                     stream_recheck_seconds=settings.stream_recheck_seconds,
                     ping_seconds=rt.services.stream_ping_seconds,
                     register_by_address=WindowLimiter(limit=settings.register_per_hour, window=3600),
                     audit=audit)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        async with background(rt), mcp.server.session_manager.run():
            try:
                yield
            finally:
                rt.live.close()  # open streams end, so the server can stop
                await close_agent(state.agent)  # its pooled MCP sessions, before the MCP app stops

    return build_app(state, mcp_app=mcp.app, live=rt.live, lifespan=lifespan, max_body_bytes=settings.max_body_bytes,
                     readiness=Readiness(rt.uow, leader=lambda: rt.lease.held),
                     extra_routes=(lambda app: _add_dapr_routes(app, rt)) if settings.bus == "dapr" else None)


def _add_dapr_routes(app: FastAPI, rt: Runtime) -> None:
    """On Dapr the sidecar delivers the task commands, reminders and task changes to routes of this app."""
    from runtime.wiring.cron import bindings_drive, install_cron_jobs, retention
    from runtime.wiring.workers import LIVE_ROUTE, dapr_app_token, web_host_dapr_routes
    from services.subscriptions import subscriptions
    from services.transport.dapr import subscription_app

    settings, token = rt.settings, dapr_app_token(rt.settings)
    routes = web_host_dapr_routes(subscriptions(rt.uow, rt.services), rt.live, rt.uow)
    live = {LIVE_ROUTE: settings.dapr_live_pubsub} if settings.dapr_live_pubsub else None
    subscription_app(routes, settings.dapr_pubsub, app=app, app_token=token, pubsub_of_route=live)
    if bindings_drive(settings):  # the retention binding's ticks, instead of the leader's timer
        install_cron_jobs(app, rt, [retention(rt)], app_token=token)


def _audit_reader(settings: Settings) -> DaprAuditReader | None:
    """On Dapr with TODO_AGENT_DAPR_AUDIT_APP_ID the audit log is read through service invocation of that app;
    None: from this process's database."""
    if settings.bus != "dapr" or not settings.dapr_audit_app_id:
        return None
    from services.transport.dapr_invoke import DaprAuditReader

    token = settings.sidecar_token
    return DaprAuditReader(settings.dapr_audit_app_id, endpoint=settings.dapr_http_endpoint,
                           host=settings.dapr_runtime_host, http_port=settings.dapr_http_port, api_token=token)


def build_service(
    name: str, settings: Settings, *, sidecar: httpx.AsyncBaseTransport | None = None
) -> tuple[Runtime, FastAPI]:
    """`todo-agent service NAME` (reminder, recurrence or audit) on Kafka or Dapr: its runtime (the relay under the
    lease, at the lowest priority; on Kafka a consumer per subscription; the reminder scheduler) and its HTTP app
    (/healthz, /readyz with its consumers, and on Dapr the subscription routes). On Dapr the reminder and
    recurrence services keep their inbox in the state store, reached over `sidecar` if given (tests: a fake)."""
    from runtime.lease import PRIORITY_SERVICE
    from runtime.wiring.cron import bindings_drive
    from runtime.wiring.workers import Loop, dapr_app_token, kafka_workers
    from services.subscriptions import AUDIT, RECURRENCE, REMINDER, STATE_INBOX_SERVICES, of_service, subscriptions

    if name not in (REMINDER, RECURRENCE, AUDIT):
        raise ConfigurationError(f"{name!r} is not a service; use reminder, recurrence or audit")
    token = dapr_app_token(settings) if settings.bus == "dapr" else None  # refuses before anything is built
    rt = build_runtime(settings, role=f"service-{name}", priority=PRIORITY_SERVICE, web_consumers=False)
    subs = of_service(subscriptions(rt.uow, rt.services), name)
    if name in STATE_INBOX_SERVICES and (inbox := build_state_inbox(settings, transport=sidecar)) is not None:
        rt.closing.append(inbox.close)  # their inbox is in the Dapr state store
        subs = [replace(sub, inbox=inbox) for sub in subs]
    if settings.bus == "kafka":
        rt.workers.extend(kafka_workers(subs, settings))
    if name == REMINDER and not bindings_drive(settings):  # else the reminder-sweep binding's ticks fire them
        rt.workers.append(Loop("reminder-scheduler", lambda: reminder_scheduler(rt)))
    return rt, _service_app(name, rt, subs, token)


def _service_app(name: str, rt: Runtime, subs: list[Subscription], token: str | None) -> FastAPI:
    from fastapi import FastAPI

    from runtime.wiring.workers import dapr_routes
    from web.routes import health
    from web.routes.health import Readiness

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        async with background(rt):
            yield

    app = FastAPI(title=f"todo-agent {name} service", lifespan=lifespan)
    app.include_router(health.router)
    app.state.readiness = Readiness(
        rt.uow, leader=lambda: rt.lease.held, about={"service": name, "bus": rt.settings.bus},
        consumers=lambda: {getattr(w, "name", type(w).__name__): w.is_ready() for w in rt.workers})
    if rt.settings.bus == "dapr":  # only then: on Kafka nothing but health is served
        from services.transport.dapr import subscription_app

        subscription_app(dapr_routes(subs), rt.settings.dapr_pubsub, app=app, app_token=token)
        _add_service_dapr_routes(name, app, rt, token)
    return app


def _add_service_dapr_routes(name: str, app: FastAPI, rt: Runtime, token: str | None) -> None:
    """A service's routes for the sidecar beyond deliveries: the reminder-sweep binding's ticks (reminder), the
    audit log for service invocation by the web host (audit); errors as problem+json, as on the web host."""
    from runtime.wiring.cron import bindings_drive, install_cron_jobs, reminder_sweep
    from services.subscriptions import AUDIT, REMINDER
    from services.transport.dapr_invoke import audit_method_router
    from web import problems

    problems.install(app)
    if name == REMINDER and bindings_drive(rt.settings):
        install_cron_jobs(app, rt, [reminder_sweep(rt)], app_token=token)
    if name == AUDIT:
        app.include_router(audit_method_router(rt.uow, app_token=token, callers=rt.settings.dapr_audit_callers))
