"""The `todo-agent` command. Commands import what they need inside their bodies so start-up stays fast."""

from __future__ import annotations

import asyncio
import logging
import sys
import traceback
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer
from typer.exceptions import TyperException

if TYPE_CHECKING:
    import socket

    from pydantic_core import ErrorDetails

    from domain.uow import UnitOfWork
    from web.settings import Settings

T = TypeVar("T")

app = typer.Typer(
    help="todo-agent: a chat-first task manager.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="The database schema.", no_args_is_help=True)
user_app = typer.Typer(help="User accounts.", no_args_is_help=True)
token_app = typer.Typer(help="Personal API tokens (for scripts and MCP clients).", no_args_is_help=True)
outbox_app = typer.Typer(help="The transactional outbox of events.", no_args_is_help=True)
events_app = typer.Typer(help="Event contracts.", no_args_is_help=True)
for _group, _name in ((db_app, "db"), (user_app, "user"), (token_app, "token"), (outbox_app, "outbox"),
                      (events_app, "events")):
    app.add_typer(_group, name=_name)


def main() -> None:
    """Console-script entry point."""
    app()


@app.callback()
def _root(
    ctx: typer.Context,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show tracebacks and debug logs.")] = False,
) -> None:
    """todo-agent: a chat-first task manager."""
    ctx.obj = verbose


def _verbose(ctx: typer.Context) -> bool:
    return bool(ctx.find_root().obj)


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(1)


@contextmanager
def _errors(ctx: typer.Context) -> Iterator[None]:
    """Turn any failure into one line on stderr and exit code 1 (and a traceback with --verbose)."""
    try:
        yield
    except (typer.Exit, typer.Abort, TyperException):
        raise
    except Exception as exc:
        if _verbose(ctx):
            traceback.print_exc()
        raise _fail(_describe(exc)) from None


def _describe(exc: BaseException) -> str:
    """One line saying what went wrong, for a person at a terminal."""
    from pydantic import ValidationError
    from sqlalchemy.exc import DBAPIError

    from domain.errors import DomainError
    from web.bootstrap import ConfigurationError

    if isinstance(exc, ValidationError):
        return "; ".join(_setting_problem(error) for error in exc.errors())
    if isinstance(exc, DomainError | ConfigurationError | ValueError):
        return str(exc)
    if isinstance(exc, DBAPIError):
        detail = _first_line(exc.orig if exc.orig is not None else exc)
        missing = "no such table" in detail or ("relation" in detail and "does not exist" in detail)
        return f"database: {detail}" + (" (run `todo-agent db upgrade`)" if missing else "")
    if isinstance(exc, OSError):
        return _first_line(exc)
    return f"{type(exc).__name__}: {_first_line(exc)}"


def _setting_problem(error: ErrorDetails) -> str:
    loc = ".".join(str(part) for part in error["loc"])
    message = error["msg"].removeprefix("Value error, ")
    return f"TODO_AGENT_{loc.upper()}: {message}" if loc else message


def _first_line(value: object) -> str:
    lines = str(value).strip().splitlines()
    return lines[0] if lines else type(value).__name__


def _settings(ctx: typer.Context) -> Settings:
    """Load the settings and send logs to stderr at their level."""
    from web.settings import Settings

    settings = Settings()
    level = logging.getLevelNamesMapping().get(settings.log_level.upper())
    if level is None:
        raise ValueError(f"TODO_AGENT_LOG_LEVEL: unknown level {settings.log_level!r}; use DEBUG, INFO or WARNING")
    level = logging.DEBUG if _verbose(ctx) else level
    logging.basicConfig(stream=sys.stderr, level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not _verbose(ctx):
        logging.getLogger("alembic").setLevel(logging.WARNING)
    return settings


def _with_database(ctx: typer.Context, work: Callable[[UnitOfWork], Awaitable[T]]) -> T:
    """Migrate the default database if needed, run `work` on a unit of work, and close the database."""
    from web.bootstrap import build_unit_of_work, prepare_database

    async def run(settings: Settings) -> T:
        uow = build_unit_of_work(settings, role="cli")
        try:
            return await work(uow)
        finally:
            await uow.db.dispose()

    with _errors(ctx):
        settings = _settings(ctx)
        prepare_database(settings)
        return asyncio.run(run(settings))


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


@app.command()
def serve(
    ctx: typer.Context,
    host: Annotated[str | None, typer.Option(help="Address (default: TODO_AGENT_HOST, 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default: TODO_AGENT_PORT, 8000).")] = None,
) -> None:
    """Run the web host (health endpoints for now) and, while it holds the lease, the event relay."""
    from web.bootstrap import prepare_database

    with _errors(ctx):
        settings = _settings(ctx)
        prepare_database(settings)
        settings.signing_secret()
        sock = _listen(host or settings.host, settings.port if port is None else port)
        asyncio.run(_serve(settings, sock))


def _listen(host: str, port: int) -> socket.socket:
    """Bind the listening socket here, so a busy port is one clear error before anything starts."""
    import socket

    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        return socket.create_server((host, port), family=family)
    except OSError as exc:
        reason = (exc.strerror or str(exc)).split(" (while attempting")[0]
        raise OSError(f"cannot listen on {host}:{port}: {reason}") from exc


async def _serve(settings: Settings, sock: socket.socket) -> None:
    import signal

    import uvicorn

    from domain.lease import PRIORITY_WEB
    from web.app import create_app
    from web.bootstrap import build_runtime

    app = create_app(build_runtime(settings, role="web", priority=PRIORITY_WEB))
    config = uvicorn.Config(app, log_config=None, log_level=settings.log_level.lower(), timeout_graceful_shutdown=10)
    server = uvicorn.Server(config)
    bound_host, bound_port = sock.getsockname()[:2]
    typer.echo(f"todo-agent serving on http://{bound_host}:{bound_port}  (database: {_safe_url(settings.db_url)})")

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


@db_app.command("upgrade")
def db_upgrade(ctx: typer.Context) -> None:
    """Migrate the configured database (TODO_AGENT_DATABASE_URL or the default SQLite file) to the latest schema."""
    from alembic.script import ScriptDirectory

    from web.migrate import alembic_config, upgrade

    with _errors(ctx):
        settings = _settings(ctx)
        upgrade(settings.db_url)
        head = ScriptDirectory.from_config(alembic_config(settings.db_url)).get_current_head()
    typer.echo(f"database {_safe_url(settings.db_url)} is at revision {head} (head)")


@user_app.command("create")
def user_create(
    ctx: typer.Context,
    email: str,
    admin: Annotated[bool, typer.Option("--admin", help="Make the user an administrator.")] = False,
    timezone: Annotated[str, typer.Option(help="IANA timezone, e.g. Europe/Berlin.")] = "UTC",
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="Read the password from stdin.")] = False,
) -> None:
    """Create a user (asks for the password twice, unless --password-stdin)."""
    from domain.usecases import create_user

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise _fail("--password-stdin: no password on standard input")
    else:
        password = str(typer.prompt("Password", hide_input=True, confirmation_prompt=True))
    user = _with_database(ctx, lambda uow: create_user(uow, email, password, timezone=timezone, is_admin=admin))
    role = ", admin" if user.is_admin else ""
    typer.echo(f"created user {user.email} (id {user.id}, timezone {user.timezone}{role})")


@token_app.command("create")
def token_create(
    ctx: typer.Context, email: str, name: Annotated[str, typer.Option(help="A label for the token.")] = ""
) -> None:
    """Create a personal API token for a user; the token is printed alone on the last line."""
    from domain.usecases import actor_for, create_api_token

    async def work(uow: UnitOfWork) -> tuple[str, int]:
        token, view = await create_api_token(uow, await actor_for(uow, email=email), name)
        return token, view.id

    token, token_id = _with_database(ctx, work)
    typer.echo(f"created token {token_id} for {email}; store it now, it is not shown again:")
    typer.echo(token)


@token_app.command("list")
def token_list(ctx: typer.Context, email: str) -> None:
    """List a user's tokens (never their values)."""
    from domain.usecases import actor_for, list_tokens

    async def work(uow: UnitOfWork) -> list[str]:
        tokens = await list_tokens(uow, await actor_for(uow, email=email))
        return [
            f"{t.id:>4}  {t.prefix}…  {t.name or '-':<20}  created {t.created_at:%Y-%m-%d %H:%M}  "
            f"last used {_when(t.last_used_at)}  {'REVOKED' if t.revoked_at else 'active'}"
            for t in tokens
        ]

    lines = _with_database(ctx, work)
    typer.echo("\n".join(lines) if lines else f"{email} has no tokens")


def _when(moment: datetime | None) -> str:
    return "never" if moment is None else f"{moment:%Y-%m-%d %H:%M}"


@token_app.command("revoke")
def token_revoke(ctx: typer.Context, token_id: int) -> None:
    """Revoke a token by its id (see `token list`)."""
    from domain.usecases import revoke_token

    view = _with_database(ctx, lambda uow: revoke_token(uow, token_id))
    typer.echo(f"revoked token {view.id}" + (f" ({view.name})" if view.name else ""))


@outbox_app.command("status")
def outbox_status(ctx: typer.Context) -> None:
    """How many events wait to be published, the oldest one's age, and failures."""
    from domain.outbox import outbox_status as status_of

    status = _with_database(ctx, status_of)
    age = status.oldest_pending_age_seconds
    typer.echo(f"pending: {status.pending}")
    typer.echo(f"oldest pending age: {'-' if age is None else f'{age:.1f} s'}")
    typer.echo(f"failing: {status.failing}")
    typer.echo(f"last error: {status.last_error or '-'}")


@events_app.command("schemas")
def events_schemas(
    ctx: typer.Context,
    out: Annotated[Path | None, typer.Option(help="Directory to write to (default: domain/event_schemas).")] = None,
) -> None:
    """Write the JSON Schema of every event type and version."""
    from domain.events import export_schemas

    with _errors(ctx):
        paths = export_schemas(out) if out is not None else export_schemas()
    for path in paths:
        typer.echo(str(path))
