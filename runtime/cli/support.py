"""Helpers every CLI command shares: settings and logging, one-line errors, and a database per command."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import traceback
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import typer
from typer.exceptions import TyperException

if TYPE_CHECKING:
    import socket

    import uvicorn
    from pydantic_core import ErrorDetails
    from starlette.types import ASGIApp

    from domain.uow import UnitOfWork
    from runtime.settings import Settings

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
    from runtime.bootstrap import ConfigurationError

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
    """A bad setting as a sentence naming its variable, e.g. "TODO_AGENT_PORT must be an integer (got 'eighty')"."""
    from mcp_server.errors import field_name, sentence_for

    loc = field_name(error["loc"])
    if not loc:
        return error["msg"].removeprefix("Value error, ")
    # A field read from a variable of its own (validation_alias, e.g. DAPR_HTTP_PORT) is located by that name.
    variable = loc if loc.isupper() else f"TODO_AGENT_{loc.upper().replace('.', '__')}"
    return sentence_for(variable, error).rstrip(".")


def first_line(value: object) -> str:
    lines = str(value).strip().splitlines()
    return lines[0] if lines else type(value).__name__


LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
LOG_FILE_BYTES = 1 << 20  # a log file this big is rotated: chat.log -> chat.log.1 (LOG_FILE_BACKUPS are kept)
LOG_FILE_BACKUPS = 3


def load_settings(ctx: typer.Context, log_file: str | None = None) -> Settings:
    """Load the settings and send logs at their level to stderr, or, with `log_file`, to that file in the data
    directory's logs/ (with --verbose to stderr as well): the terminal chat keeps its screen for the conversation."""
    from runtime.settings import Settings

    settings = Settings()
    level = logging.getLevelNamesMapping().get(settings.log_level.upper())
    if level is None:
        raise ValueError(f"TODO_AGENT_LOG_LEVEL: unknown level {settings.log_level!r}; use DEBUG, INFO or WARNING")
    level = logging.DEBUG if verbose(ctx) else level
    if log_file is None:
        logging.basicConfig(stream=sys.stderr, level=level, format=LOG_FORMAT)
    else:
        log_to_file(settings, log_file, level, also_stderr=verbose(ctx))
    if not verbose(ctx):
        logging.getLogger("alembic").setLevel(logging.WARNING)
    return settings


def log_to_file(settings: Settings, name: str, level: int, *, also_stderr: bool) -> None:
    """Log (and route Python warnings) to <data dir>/logs/NAME, rotating, private to the owner like the rest of
    the data directory. If the file cannot be opened, only warnings and errors go to stderr."""
    from logging.handlers import RotatingFileHandler

    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)] if also_stderr else []
    try:
        directory = settings.ensure_data_dir() / "logs"
        directory.mkdir(mode=0o700, exist_ok=True)
        path = directory / name
        private_file(path)
        file = RotatingFileHandler(path, maxBytes=LOG_FILE_BYTES, backupCount=LOG_FILE_BACKUPS, encoding="utf-8")
    except OSError as exc:
        if not handlers:
            handlers = [logging.StreamHandler(sys.stderr)]
            handlers[0].setLevel(logging.WARNING)
        logging.basicConfig(handlers=handlers, level=level, format=LOG_FORMAT)
        logging.getLogger(__name__).warning("cannot write the log file (%s); logging warnings to stderr", exc)
        return
    file.rotator = _rotate_privately
    logging.basicConfig(handlers=[*handlers, file], level=level, format=LOG_FORMAT)
    logging.captureWarnings(True)


def private_file(path: Path) -> None:
    """Create `path` readable by its owner only (0600) unless it exists, so a handler that opens it keeps that."""
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600))


def _rotate_privately(source: str, dest: str) -> None:
    """Rotate a log file: the old one moves aside and the new one starts private, like the first."""
    os.replace(source, dest)
    private_file(Path(source))


def with_database(ctx: typer.Context, work: Callable[[UnitOfWork], Awaitable[T]]) -> T:
    """Migrate the default database if needed, run `work` on a unit of work, and close the database."""
    from runtime.bootstrap import build_unit_of_work, prepare_database

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
        loop="auto", http="auto",  # uvloop and httptools when installed (the `fast` extra); see run_event_loop
    )
    return uvicorn.Server(config)


def run_event_loop(main: Coroutine[Any, Any, T]) -> T:
    """Run `main` on uvicorn's "auto" event loop: uvloop when installed, else asyncio's (what a server runs on;
    uvicorn's loop setting only applies to servers it starts itself)."""
    from uvicorn.loops.auto import auto_loop_factory

    with asyncio.Runner(loop_factory=auto_loop_factory()) as runner:
        return runner.run(main)


def server_stack() -> str:
    """The event loop and HTTP parser serve uses, e.g. "uvloop, httptools" (or "asyncio, h11" without them)."""
    import importlib.util

    loop = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
    return f"{loop}, {'httptools' if importlib.util.find_spec('httptools') else 'h11'}"


async def serve_app(
    app: ASGIApp, sock: socket.socket, settings: Settings, *, on_started: Callable[[], None] | None = None
) -> None:
    """Serve `app` on `sock` with uvicorn until SIGINT/SIGTERM, then shut down gracefully (exit code 0);
    `on_started` is called once the server accepts connections (its lifespan has started)."""
    import signal

    server = uvicorn_server(app, settings)
    watcher = asyncio.create_task(_when_started(server, on_started)) if on_started is not None else None

    def stop(_signal: int, _frame: object) -> None:
        server.should_exit = True

    # uvicorn stops gracefully on SIGINT/SIGTERM and then re-raises the signal to the handler it found: ours,
    # which makes that a clean exit (and also stops a server that is still starting).
    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        await server.serve(sockets=[sock])
    finally:
        if watcher is not None:
            watcher.cancel()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        sock.close()


async def _when_started(server: uvicorn.Server, then: Callable[[], None]) -> None:
    while not server.started:
        if server.should_exit:
            return
        await asyncio.sleep(0.05)
    then()
