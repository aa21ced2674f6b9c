"""Helpers every CLI command shares: settings and logging, one-line errors, and a database per command."""

from __future__ import annotations

import asyncio
import logging
import sys
import traceback
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, TypeVar

import typer
from typer.exceptions import TyperException

if TYPE_CHECKING:
    import socket

    import uvicorn
    from pydantic_core import ErrorDetails
    from starlette.types import ASGIApp

    from domain.uow import UnitOfWork
    from web.settings import Settings

T = TypeVar("T")


def verbose(ctx: typer.Context) -> bool:
    return bool(ctx.find_root().obj)


def fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(1)


@contextmanager
def errors(ctx: typer.Context) -> Iterator[None]:
    """Turn any failure into one line on stderr and exit code 1 (and a traceback with --verbose)."""
    try:
        yield
    except (typer.Exit, typer.Abort, TyperException):
        raise
    except Exception as exc:
        if verbose(ctx):
            traceback.print_exc()
        raise fail(describe(exc)) from None


def describe(exc: BaseException) -> str:
    """One line saying what went wrong, for a person at a terminal."""
    from pydantic import ValidationError
    from sqlalchemy.exc import DBAPIError

    from domain.errors import DomainError
    from web.bootstrap import ConfigurationError

    if isinstance(exc, ValidationError):
        return "; ".join(setting_problem(error) for error in exc.errors())
    if isinstance(exc, DomainError | ConfigurationError | ValueError):
        return str(exc)
    if isinstance(exc, DBAPIError):
        detail = first_line(exc.orig if exc.orig is not None else exc)
        missing = "no such table" in detail or ("relation" in detail and "does not exist" in detail)
        return f"database: {detail}" + (" (run `todo-agent db upgrade`)" if missing else "")
    if isinstance(exc, OSError):
        return first_line(exc)
    return f"{type(exc).__name__}: {first_line(exc)}"


def setting_problem(error: ErrorDetails) -> str:
    loc = ".".join(str(part) for part in error["loc"])
    message = error["msg"].removeprefix("Value error, ")
    return f"TODO_AGENT_{loc.upper()}: {message}" if loc else message


def first_line(value: object) -> str:
    lines = str(value).strip().splitlines()
    return lines[0] if lines else type(value).__name__


def load_settings(ctx: typer.Context) -> Settings:
    """Load the settings and send logs to stderr at their level."""
    from web.settings import Settings

    settings = Settings()
    level = logging.getLevelNamesMapping().get(settings.log_level.upper())
    if level is None:
        raise ValueError(f"TODO_AGENT_LOG_LEVEL: unknown level {settings.log_level!r}; use DEBUG, INFO or WARNING")
    level = logging.DEBUG if verbose(ctx) else level
    logging.basicConfig(stream=sys.stderr, level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not verbose(ctx):
        logging.getLogger("alembic").setLevel(logging.WARNING)
    return settings


def with_database(ctx: typer.Context, work: Callable[[UnitOfWork], Awaitable[T]]) -> T:
    """Migrate the default database if needed, run `work` on a unit of work, and close the database."""
    from web.bootstrap import build_unit_of_work, prepare_database

    async def run(settings: Settings) -> T:
        uow = build_unit_of_work(settings, role="cli")
        try:
            return await work(uow)
        finally:
            await uow.db.dispose()

    with errors(ctx):
        settings = load_settings(ctx)
        prepare_database(settings)
        return asyncio.run(run(settings))


def safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def listen(host: str, port: int) -> socket.socket:
    """Bind the listening socket here, so a busy port is one clear error before anything starts."""
    import socket

    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        sock = socket.create_server((host, port), family=family)
    except OSError as exc:
        reason = (exc.strerror or str(exc)).split(" (while attempting")[0]
        raise OSError(f"cannot listen on {host}:{port}: {reason}") from exc
    # Accepted connections inherit this: without it a keep-alive response's body waits ~40 ms for a delayed ACK.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def bound_settings(settings: Settings, sock: socket.socket) -> Settings:
    """The settings with the address actually bound, so URLs the server hands out name it."""
    host, port = sock.getsockname()[:2]
    return settings.model_copy(update={"host": host, "port": port})


class PathOnlyAccessLog(logging.Filter):
    """Drops the query string from uvicorn's access log lines: it carries user content (search text, tags)."""

    def filter(self, record: logging.LogRecord) -> bool:
        # uvicorn logs '%s - "%s %s HTTP/%s" %d' with (client, method, path with query, version, status).
        args = record.args
        if isinstance(args, tuple) and len(args) == 5 and isinstance(args[2], str):
            record.args = (args[0], args[1], args[2].split("?", 1)[0], *args[3:])
        return True


def quiet_access_log() -> None:
    """Install PathOnlyAccessLog on uvicorn's access logger (once)."""
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, PathOnlyAccessLog) for f in access.filters):
        access.addFilter(PathOnlyAccessLog())


def uvicorn_server(app: ASGIApp, settings: Settings) -> uvicorn.Server:
    """The uvicorn server for `app`: X-Forwarded-For honoured only from TODO_AGENT_TRUSTED_PROXIES (uvicorn would
    trust loopback by default), at most TODO_AGENT_MAX_CONNECTIONS at once, and access logs without query strings."""
    import uvicorn

    quiet_access_log()
    trusted = list(settings.trusted_proxies)
    config = uvicorn.Config(
        app, log_config=None, log_level=settings.log_level.lower(), timeout_graceful_shutdown=10,
        proxy_headers=bool(trusted), forwarded_allow_ips=trusted or [], limit_concurrency=settings.max_connections,
    )
    return uvicorn.Server(config)


async def serve_app(app: ASGIApp, sock: socket.socket, settings: Settings) -> None:
    """Serve `app` on `sock` with uvicorn until SIGINT/SIGTERM, then shut down gracefully (exit code 0)."""
    import signal

    server = uvicorn_server(app, settings)

    def stop(_signal: int, _frame: object) -> None:
        server.should_exit = True

    # uvicorn stops gracefully on SIGINT/SIGTERM and then re-raises the signal to the handler it found: ours,
    # which makes that a clean exit (and also stops a server that is still starting).
    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        await server.serve(sockets=[sock])
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        sock.close()
