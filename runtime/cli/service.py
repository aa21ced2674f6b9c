"""`todo-agent service reminder|recurrence|audit`: one service as its own process on the Kafka or Dapr transport.

The process serves HTTP (health, and the Dapr subscription routes on Dapr), consumes its topics (a Kafka consumer
per subscription, in the subscription's group), and also runs the outbox relay while it holds the lease (with a
priority below every other process), so what its handlers send goes out even when no web host runs. The reminder
service runs the scheduler too. SIGTERM/SIGINT stop it gracefully: consumers commit, the lease is released.
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Annotated

import typer

from runtime.cli.support import bound_settings, errors, fail, listen, load_settings, safe_url, serve_app

if TYPE_CHECKING:
    import socket

    from fastapi import FastAPI

    from runtime.bootstrap import Runtime
    from runtime.settings import Settings
    from services.subscriptions import Subscription


class ServiceName(enum.StrEnum):
    reminder = "reminder"
    recurrence = "recurrence"
    audit = "audit"


DEFAULT_PORTS = {ServiceName.reminder: 8001, ServiceName.recurrence: 8002, ServiceName.audit: 8003}


def service(
    ctx: typer.Context,
    name: Annotated[ServiceName, typer.Argument(help="The service to run.")],
    host: Annotated[str | None, typer.Option(help="Address (default: TODO_AGENT_HOST, 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(
        help="Port for health and Dapr delivery (default: reminder 8001, recurrence 8002, audit 8003).")] = None,
) -> None:
    """Run one service (reminder, recurrence or audit) as its own process on TODO_AGENT_BUS=kafka or dapr."""
    from runtime.bootstrap import prepare_database

    with errors(ctx):
        settings = load_settings(ctx)
        if settings.bus == "inprocess":
            raise fail(
                f"`todo-agent service {name.value}` needs TODO_AGENT_BUS=kafka or dapr: with the embedded default "
                "(inprocess) the process holding the lease (`todo-agent serve`) runs every service itself"
            )
        prepare_database(settings)
        settings.signing_secret()
        sock = listen(host or settings.host, DEFAULT_PORTS[name] if port is None else port)
        asyncio.run(_serve(name, bound_settings(settings, sock), sock))


async def _serve(name: ServiceName, settings: Settings, sock: socket.socket) -> None:
    rt, subs = build_service_runtime(name, settings)
    app = service_app(name, rt, subs)
    typer.echo(f"todo-agent {name.value} service on {settings.base_url}  (bus: {settings.bus}, "
               f"database: {safe_url(settings.db_url)})")
    await serve_app(app, sock, settings)


def build_service_runtime(name: ServiceName, settings: Settings) -> tuple[Runtime, list[Subscription]]:
    """The runtime of one service process (the relay under the lease; on Kafka the service's consumers as
    workers; the reminder scheduler) and the service's subscriptions."""
    from runtime.bootstrap import build_runtime
    from runtime.wiring.workers import PRIORITY_SERVICE, Loop, kafka_workers
    from services.reminder_scheduler import run_scheduler
    from services.subscriptions import REMINDER, of_service, service_uow, subscriptions

    rt = build_runtime(settings, role=f"service-{name.value}", priority=PRIORITY_SERVICE, web_consumers=False)
    subs = of_service(subscriptions(rt.uow, rt.services), name.value)
    if settings.bus == "kafka":
        rt.workers.extend(kafka_workers(subs, settings, wake=rt.relay.wake))
    if name == ServiceName.reminder:
        scheduler_uow = service_uow(rt.uow, REMINDER)
        scheduler_uow.on_events_committed(rt.relay.wake)
        every, grace = rt.services.scheduler_every, rt.services.reminder_grace
        rt.workers.append(Loop("reminder-scheduler", lambda: run_scheduler(scheduler_uow, every=every, grace=grace)))
    return rt, subs


def service_app(name: ServiceName, rt: Runtime, subs: list[Subscription]) -> FastAPI:
    """The service's HTTP app: the probes (/healthz; /readyz with its consumers), and on Dapr the subscription
    routes."""
    from fastapi import FastAPI

    from runtime.bootstrap import background
    from runtime.wiring.workers import dapr_app_token, dapr_routes
    from web.routes import health
    from web.routes.health import Readiness

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        async with background(rt):
            yield

    app = FastAPI(title=f"todo-agent {name.value} service", lifespan=lifespan)
    app.include_router(health.router)
    app.state.readiness = Readiness(
        rt.uow, leader=lambda: rt.lease.held, about={"service": name.value, "bus": rt.settings.bus},
        consumers=lambda: {getattr(w, "name", type(w).__name__): w.is_ready() for w in rt.workers})

    if rt.settings.bus == "dapr":  # only then: on Kafka nothing but health is served
        from services.transport.dapr import subscription_app

        subscription_app(dapr_routes(subs), rt.settings.dapr_pubsub, app=app, app_token=dapr_app_token(rt.settings))
    return app
