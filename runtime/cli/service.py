"""`todo-agent service reminder|recurrence|audit`: one service as its own process on the Kafka or Dapr transport.

The process serves HTTP (health, and the Dapr subscription routes on Dapr), consumes its topics (a Kafka consumer
per subscription, in the subscription's group), and also runs the outbox relay while it holds the lease (with a
priority below every other process), so what its handlers send goes out even when no web host runs. The reminder
service runs the scheduler too. SIGTERM/SIGINT stop it gracefully: consumers commit, the lease is released.
"""

from __future__ import annotations

import asyncio
import enum
from typing import TYPE_CHECKING, Annotated

import typer

from runtime.cli.support import bound_settings, errors, fail, listen, load_settings, safe_url, serve_app

if TYPE_CHECKING:
    import socket

    from runtime.settings import Settings


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
    from runtime.apps import build_service

    _rt, app = build_service(name.value, settings)
    typer.echo(f"todo-agent {name.value} service on {settings.base_url}  (bus: {settings.bus}, "
               f"database: {safe_url(settings.db_url)})")
    await serve_app(app, sock, settings)
