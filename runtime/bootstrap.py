"""The composition root: builds each process's adapters from settings (nothing is built at import time).

Every long-running process starts here: `mcp` and `chat` (build_runtime and build_mcp), `todo-agent serve` and
`service NAME` through runtime.apps (create_app, build_service: their HTTP apps); one-shot commands use
build_unit_of_work.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from domain.db import Database
from domain.ports import Clock, Publisher
from domain.uow import UnitOfWork
from runtime.lease import LeaseKeeper
from runtime.relay import Relay
from runtime.retention import run_retention
from runtime.settings import ServiceConfig, Settings
from services.settings import ServiceSettings
from web.live import LiveHub

if TYPE_CHECKING:
    import httpx
    from mcp.server.mcpserver import MCPServer
    from starlette.types import ASGIApp

    from mcp_server import McpPorts
    from runtime.wiring.workers import Worker
    from services.subscriptions import Subscription
    from services.transport.dapr_state import DaprStateInbox

logger = logging.getLogger(__name__)


class ConfigurationError(Exception):
    """The settings ask for something this build cannot do; the message says what to change."""


@dataclass
class Runtime:
    """Everything one long-running process needs: its database, unit of work, publisher, relay, lease and live hub."""

    settings: Settings
    db: Database
    uow: UnitOfWork
    publisher: Publisher
    relay: Relay
    lease: LeaseKeeper
    secret: str
    services: ServiceSettings = field(default_factory=ServiceSettings)
    live: LiveHub = field(default_factory=LiveHub)
    workers: list[Worker] = field(default_factory=list)  # consumers etc., run while the process serves
    closing: list[Callable[[], Awaitable[None]]] = field(default_factory=list)  # e.g. a sidecar client's close


def build_unit_of_work(settings: Settings, *, role: str, clock: Clock | None = None) -> UnitOfWork:
    """A unit of work on the configured database whose events carry the source `todo-agent/<role>` (`clock`: the
    wall clock unless a test freezes one)."""
    db = Database(settings.db_url, sqlite_driver=settings.sqlite_driver)
    db.callers.ttl = settings.auth_cache_seconds
    return UnitOfWork(db, clock, source=f"todo-agent/{role}")


def build_publisher(settings: Settings) -> Publisher:
    """The event transport chosen by TODO_AGENT_BUS (its connections are opened on first publish)."""
    if settings.bus == "inprocess":
        from services.transport.inprocess import InProcessBus

        return InProcessBus()
    if settings.bus == "kafka":
        from services.transport.kafka import KafkaPublisher

        return KafkaPublisher(settings.kafka_bootstrap, client_id="todo-agent-relay")
    if settings.bus == "dapr":
        from services.transport.dapr import DaprPublisher

        token = settings.sidecar_token
        return DaprPublisher(settings.dapr_pubsub, endpoint=settings.dapr_http_endpoint,
                             host=settings.dapr_runtime_host, http_port=settings.dapr_http_port, api_token=token)
    raise ConfigurationError(f"TODO_AGENT_BUS={settings.bus} is not a transport; use inprocess, kafka or dapr")


def build_state_inbox(
    settings: Settings, *, transport: httpx.AsyncBaseTransport | None = None
) -> DaprStateInbox | None:
    """The inbox in the Dapr state store TODO_AGENT_DAPR_STATE_STORE (on TODO_AGENT_BUS=dapr), remembering events
    for the retention period; None: the SQL inbox. `transport`: how to reach the sidecar (tests pass a fake)."""
    if settings.bus != "dapr" or not settings.dapr_state_store:
        return None
    from services.transport.dapr import sidecar_url
    from services.transport.dapr_state import DaprStateInbox

    token = settings.sidecar_token
    url = sidecar_url(endpoint=settings.dapr_http_endpoint, host=settings.dapr_runtime_host,
                      http_port=settings.dapr_http_port)
    return DaprStateInbox(settings.dapr_state_store, base_url=url, done_ttl=settings.retention_days * 86400,
                          api_token=token, transport=transport)


def holder_id(role: str) -> str:
    """A lease holder name unique to this process: role, host, pid and a random suffix."""
    return f"{role}:{socket.gethostname()[:100]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def build_runtime(
    settings: Settings, *, role: str, priority: int, web_consumers: bool | None = None, clock: Clock | None = None
) -> Runtime:
    """Build the adapters of a long-running process (`role` is e.g. "web"; higher `priority` wins the lease).

    `web_consumers`: on Kafka, run the web host's consumers (task service, notifications, live feed) in this
    process; by default only the role "web" does. The in-process default wires every process alike.
    """
    publisher = build_publisher(settings)
    uow = build_unit_of_work(settings, role=role, clock=clock)
    lease = LeaseKeeper(
        uow,
        holder=holder_id(role),
        priority=priority,
        ttl=settings.lease_ttl_seconds,
        renew_every=settings.lease_renew_seconds,
    )
    relay = Relay(
        uow,
        publisher,
        batch=settings.relay_batch,
        poll_seconds=settings.relay_poll_seconds,
        still_leader=lease.still_held,  # a fence: never publish after losing the lease
    )
    # The one wake-up wiring: every unit of work on this database (the services', the scheduler's) shares it.
    uow.on_events_committed(relay.wake)
    services = ServiceConfig().as_settings()
    live = LiveHub.from_settings(services)
    host = role == "web" if web_consumers is None else web_consumers
    # `serve --workers N`: only one worker's relay delivers, so every worker's hub follows the outbox instead.
    tail = role == "web" and settings.bus == "inprocess" and settings.worker_count > 1
    workers = wire_consumers(publisher, uow, live, services, settings=settings, web_host=host, live_feed=not tail)
    if tail:
        from runtime.wiring.live_tail import live_tail_worker

        workers.append(live_tail_worker(settings, uow, live))
    return Runtime(
        settings=settings, db=uow.db, uow=uow, publisher=publisher, relay=relay, lease=lease,
        secret=settings.signing_secret(), services=services, live=live, workers=workers,
    )


def wire_consumers(
    publisher: Publisher, uow: UnitOfWork, live: LiveHub, services: ServiceSettings,
    *, settings: Settings | None = None, web_host: bool = False, live_feed: bool = True,
) -> list[Worker]:
    """Wire this process's consumers; returns the workers to run while it serves.

    In the embedded default every consumer subscribes to the in-process bus. Only the lease holder's relay
    publishes to it, so the services run in the lease holder alone, and the live hub is fed by the same bus.

    On Kafka (`web_host`): consumers of `task-commands` (task service) and `reminders` (notification store), and
    a broadcast consumer per process feeding the live hub (runtime.wiring.workers). The services run as
    `todo-agent service NAME`. On Dapr the sidecar delivers to HTTP routes instead (runtime.wiring.workers.
    web_host_dapr_routes), so there is nothing to run here.
    """
    from runtime.wiring.inprocess import wire_inprocess
    from services.transport.inprocess import InProcessBus

    if isinstance(publisher, InProcessBus):
        wire_inprocess(publisher, uow, live, settings=services, live_feed=live_feed)
        return []
    if web_host and settings is not None and settings.bus == "kafka":
        from runtime.wiring.workers import web_host_kafka_workers
        from services.subscriptions import subscriptions

        return web_host_kafka_workers(subscriptions(uow, services), settings, live, uow)
    return []


def consumer_groups(uow: UnitOfWork) -> dict[str, Subscription]:
    """Every consumer group's subscription on this database, by group: what `todo-agent deadletters replay`
    delivers to again (handlers bound as in the processes that run them)."""
    from services.subscriptions import by_group, subscriptions

    return by_group(subscriptions(uow, ServiceConfig().as_settings()))


def mcp_ports(rt: Runtime, *, fixed_user_id: int | None = None) -> McpPorts:
    """What the MCP server of this process is built from."""
    from mcp_server import McpPorts  # imported here: one-shot commands never load the MCP SDK
    from mcp_server.sessions import SessionLimits

    settings = rt.settings
    return McpPorts(
        uow=rt.uow,
        secret=rt.secret,
        fixed_user_id=fixed_user_id,
        public_url=settings.base_url,
        allowed_hosts=list(settings.allowed_hosts),
        session_limits=SessionLimits(per_user=settings.mcp_sessions_per_user,
                                     idle_seconds=settings.mcp_session_idle_seconds,
                                     recheck_seconds=settings.mcp_recheck_seconds),
    )


@dataclass(frozen=True)
class McpHost:
    """This process's MCP server and its streamable-HTTP app (run `server.session_manager.run()` while it serves)."""

    server: MCPServer[Any]
    app: ASGIApp


def build_mcp(rt: Runtime) -> McpHost:
    """The MCP server of a runtime and the HTTP app serving it at `/mcp`: the app the web host mounts, `todo-agent
    mcp --transport http` serves, and the in-process agent reaches."""
    from mcp_server import build_server, http_app

    ports = mcp_ports(rt)
    server = build_server(ports)
    return McpHost(server, http_app(server, ports))


async def leader_duties(rt: Runtime) -> None:
    """What only the lease holder runs: the relay (which drives the in-process services), retention, the scheduler."""
    from runtime.wakeup import listen_for_outbox
    from runtime.wiring.cron import bindings_drive
    from services.retention import PRUNERS

    retention = timedelta(days=rt.settings.retention_days)
    async with asyncio.TaskGroup() as group:
        group.create_task(rt.relay.run(), name="relay")
        if rt.db.dialect == "postgresql":  # other processes' commits wake the relay too
            group.create_task(listen_for_outbox(rt.settings.db_url, rt.relay.wake), name="outbox-listener")
        if not bindings_drive(rt.settings):  # else the retention binding's ticks run it (runtime.wiring.cron)
            group.create_task(run_retention(rt.uow, retention, extra=PRUNERS), name="retention")
        if rt.settings.bus == "inprocess":  # elsewhere `todo-agent service reminder` runs it
            group.create_task(reminder_scheduler(rt), name="reminder-scheduler")


def reminder_scheduler(rt: Runtime) -> Coroutine[Any, Any, None]:
    """The reminder service's scheduler loop, sending as the reminder service (the relay wakes on what it sends)."""
    from services.reminder_scheduler import run_scheduler
    from services.subscriptions import REMINDER, service_uow

    return run_scheduler(service_uow(rt.uow, REMINDER), every=rt.services.scheduler_every,
                         grace=rt.services.reminder_grace)


async def close_runtime(rt: Runtime) -> None:
    """Release what `rt.closing` holds, the publisher's connections and the database pool (each even if another
    fails)."""
    async with contextlib.AsyncExitStack() as stack:  # closes in reverse order of the pushes
        stack.push_async_callback(rt.db.dispose)
        stack.push_async_callback(rt.publisher.close)
        for close in rt.closing:
            stack.push_async_callback(close)


@asynccontextmanager
async def background(rt: Runtime) -> AsyncIterator[Runtime]:
    """Run the leader duties whenever this process holds the lease; on exit stop them gracefully and close."""
    from runtime.wiring.workers import run_workers, stop_workers

    task = asyncio.create_task(rt.lease.run_while_leader(lambda: leader_duties(rt)), name="lease")
    task.add_done_callback(_log_failure)
    workers = await run_workers(rt.workers) if rt.workers else []
    try:
        yield rt
    finally:
        try:
            await stop_workers(rt.workers, workers)  # consumers finish the message in hand and commit
        finally:
            # Cancelling lets the relay finish its batch and the lease keeper release the lease.
            task.cancel()
            await asyncio.wait([task])
            await close_runtime(rt)


def _log_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and (exc := task.exception()) is not None:
        logger.error("the lease keeper stopped: %s", exc, exc_info=exc)


def prepare_database(settings: Settings) -> None:
    """Migrate the default SQLite database (every command that opens it does this first); others are left alone."""
    if settings.uses_default_database:
        from runtime.migrate import upgrade

        settings.ensure_data_dir()  # 0700: the database lives there
        logger.debug("migrating %s", settings.db_url)
        upgrade(settings.db_url)
