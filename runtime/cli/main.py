"""The `todo-agent` command. Commands import what they need inside their bodies so start-up stays fast."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    import socket

    from domain.uow import UnitOfWork
    from runtime.settings import Settings

from runtime.cli.support import bound_settings, errors, fail, listen, load_settings, safe_url, serve_app, with_database

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


def _register_extra_commands() -> None:
    from runtime.cli.chat import chat
    from runtime.cli.config import config_app
    from runtime.cli.deadletters import deadletters_app
    from runtime.cli.evals import evals_app
    from runtime.cli.mcp import mcp
    from runtime.cli.service import service

    app.command()(mcp)
    app.command()(service)
    app.command()(chat)
    app.add_typer(deadletters_app, name="deadletters")
    app.add_typer(config_app, name="config")
    app.add_typer(evals_app, name="evals")


_register_extra_commands()


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


@app.command()
def serve(
    ctx: typer.Context,
    host: Annotated[str | None, typer.Option(help="Address (default: TODO_AGENT_HOST, 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default: TODO_AGENT_PORT, 8000).")] = None,
    workers: Annotated[int | None, typer.Option(
        min=1, max=256, help="Worker processes (default: TODO_AGENT_WEB_WORKERS; else 1, in production every core).",
    )] = None,
) -> None:
    """Run the web host (REST API, MCP at /mcp, health) and, while it holds the lease, the event relay."""
    import logging

    from runtime.bootstrap import prepare_database
    from runtime.cli.support import run_event_loop

    with errors(ctx):
        settings = load_settings(ctx)
        if workers is not None:
            settings = settings.model_copy(update={"web_workers": workers})
        prepare_database(settings)
        settings.signing_secret()
        sock = listen(host or settings.host, settings.port if port is None else port)
        settings = bound_settings(settings, sock)
        if settings.worker_count == 1:
            run_event_loop(_serve(settings, sock))
            return
        from agent.model_choice import model_label
        from runtime.chat_settings import ModelConfig
        from runtime.supervisor import Supervisor, WorkerStartFailed

        model = ModelConfig().chat_model()  # each worker builds its own; this one names it, and fails early
        _banner(settings, model_label(model) if model is not None else None)
        try:
            Supervisor(settings, sock, settings.worker_count, log_level=logging.getLogger().level).run()
        except WorkerStartFailed as exc:
            raise fail(str(exc)) from None
        finally:
            sock.close()


async def _serve(settings: Settings, sock: socket.socket) -> None:
    from agent.model_choice import model_label
    from runtime.apps import create_app
    from runtime.bootstrap import build_runtime
    from runtime.lease import PRIORITY_WEB

    app = create_app(build_runtime(settings, role="web", priority=PRIORITY_WEB))
    agent = app.state.api.agent
    _banner(settings, model_label(agent.model) if agent is not None else None)
    await serve_app(app, sock, settings)


def _banner(settings: Settings, model: str | None) -> None:
    from agent.model_choice import NO_MODEL_HELP
    from runtime.cli.support import server_stack

    base = settings.base_url
    typer.echo(f"todo-agent serving on {base}  (database: {safe_url(settings.db_url)})")
    typer.echo(f"  open {base}/ to chat and manage tasks; MCP at {base}/mcp; API docs at {base}/docs")
    typer.echo(f"  chat is off: {NO_MODEL_HELP}" if model is None else f"  chat model: {model}")
    typer.echo(f"  workers: {settings.worker_count} ({server_stack()})")


@db_app.command("upgrade")
def db_upgrade(ctx: typer.Context) -> None:
    """Migrate the configured database (TODO_AGENT_DATABASE_URL or the default SQLite file) to the latest schema."""
    from alembic.script import ScriptDirectory

    from runtime.migrate import alembic_config, upgrade

    with errors(ctx):
        settings = load_settings(ctx)
        upgrade(settings.db_url)
        head = ScriptDirectory.from_config(alembic_config(settings.db_url)).get_current_head()
    typer.echo(f"database {safe_url(settings.db_url)} is at revision {head} (head)")


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

    password = _read_password("Password", password_stdin)
    user = with_database(ctx, lambda uow: create_user(uow, email, password, timezone=timezone, is_admin=admin))
    role = ", admin" if user.is_admin else ""
    typer.echo(f"created user {user.email} (id {user.id}, timezone {user.timezone}{role})")


@user_app.command("password")
def user_password(
    ctx: typer.Context,
    email: str,
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="Read the password from stdin.")] = False,
) -> None:
    """Set a user's password (asks twice, unless --password-stdin) and sign them out of every login session."""
    from domain.usecases import reset_password

    password = _read_password("New password", password_stdin)
    user, ended = with_database(ctx, lambda uow: reset_password(uow, email, password))
    typer.echo(f"changed the password of {user.email}; ended {ended} login session{'' if ended == 1 else 's'} "
               "(personal API tokens keep working: see `todo-agent token list`)")


def _read_password(prompt: str, from_stdin: bool) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise fail("--password-stdin: no password on standard input")
        return password
    return str(typer.prompt(prompt, hide_input=True, confirmation_prompt=True))


@token_app.command("create")
def token_create(
    ctx: typer.Context, email: str, name: Annotated[str, typer.Option(help="A label for the token.")] = ""
) -> None:
    """Create a personal API token for a user; the token is printed alone on the last line."""
    from domain.usecases import actor_for, create_api_token

    async def work(uow: UnitOfWork) -> tuple[str, int]:
        token, view = await create_api_token(uow, await actor_for(uow, email=email), name)
        return token, view.id

    token, token_id = with_database(ctx, work)
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

    lines = with_database(ctx, work)
    typer.echo("\n".join(lines) if lines else f"{email} has no tokens")


def _when(moment: datetime | None) -> str:
    return "never" if moment is None else f"{moment:%Y-%m-%d %H:%M}"


@token_app.command("revoke")
def token_revoke(ctx: typer.Context, token_id: int) -> None:
    """Revoke a token by its id (see `token list`)."""
    from domain.usecases import revoke_token

    view = with_database(ctx, lambda uow: revoke_token(uow, token_id))
    typer.echo(f"revoked token {view.id}" + (f" ({view.name})" if view.name else ""))


@outbox_app.command("status")
def outbox_status(ctx: typer.Context) -> None:
    """How many events wait to be published, the oldest one's age, and failures."""
    from domain.usecases import outbox_status as status_of

    status = with_database(ctx, status_of)
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

    with errors(ctx):
        paths = export_schemas(out) if out is not None else export_schemas()
    for path in paths:
        typer.echo(str(path))
