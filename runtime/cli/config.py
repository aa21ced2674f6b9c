"""`todo-agent config claude` and `config mcpb`: the Claude Desktop entry, or bundle, that starts this install's
MCP server on the same database.

Claude Desktop starts MCP servers with almost no environment (no shell profile, no virtualenv, another working
directory), so the entry names the command by its absolute path and passes the data directory (and a database URL,
when one is set) explicitly: the server then opens exactly the database `make run` uses.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from runtime.cli.support import errors, fail, load_settings

if TYPE_CHECKING:
    from runtime.settings import Settings

config_app = typer.Typer(help="Configuration for other programs.", no_args_is_help=True)
SERVER_NAME = "todo-agent"


def claude_desktop_config_path() -> Path:
    """Where Claude Desktop reads its MCP servers on this system."""
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / "Claude" / "claude_desktop_config.json"
    if sys.platform == "win32":
        return Path(os.environ.get("APPDATA", Path.home() / "AppData" / "Roaming")) / "Claude" / \
            "claude_desktop_config.json"
    return Path(os.environ.get("XDG_CONFIG_HOME", Path.home() / ".config")) / "Claude" / "claude_desktop_config.json"


def this_command() -> str:
    """The absolute path of the `todo-agent` executable running now (Claude Desktop has no PATH of ours)."""
    found = Path(sys.argv[0])
    if not found.is_absolute() or not found.exists():
        found = Path(shutil.which(sys.argv[0]) or shutil.which("todo-agent") or sys.argv[0])
    return str(found.resolve())


def server_entry(command: str, email: str, settings: Settings) -> dict[str, Any]:
    """The `mcpServers` entry: the stdio server acting as `email` on this install's database."""
    env = {"TODO_AGENT_DATA_DIR": str(Path(settings.data_dir).expanduser().resolve())}
    if settings.database_url:
        env["TODO_AGENT_DATABASE_URL"] = settings.database_url
    return {"command": command, "args": ["mcp", "--user", email], "env": env}


def install(path: Path, entry: dict[str, Any]) -> None:
    """Add or replace our entry in the config file, keeping every other setting; written whole or not at all."""
    config: dict[str, Any] = {}
    if path.exists():
        try:
            config = json.loads(path.read_text(encoding="utf-8") or "{}")
        except ValueError as exc:
            raise ValueError(f"{path} is not valid JSON ({exc}); fix or move it, then run this again") from None
        if not isinstance(config, dict) or not isinstance(config.get("mcpServers", {}), dict):
            raise ValueError(f"{path} does not hold a JSON object with an \"mcpServers\" object")
    config.setdefault("mcpServers", {})[SERVER_NAME] = entry
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    tmp.write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)


async def _only_user(settings: Settings) -> str:
    from domain.usecases import user_emails
    from runtime.bootstrap import build_unit_of_work

    uow = build_unit_of_work(settings, role="cli")
    try:
        emails = await user_emails(uow, limit=2)
    finally:
        await uow.db.dispose()
    if len(emails) == 1:
        return emails[0]
    where = f"the database in {settings.data_dir}" if settings.uses_default_database else "the database"
    if not emails:
        raise fail(f"{where} has no user yet: create one with `todo-agent user create EMAIL`, then run this again")
    raise fail(f"{where} has several users: say which one Claude acts for with --user EMAIL")


def _user_email(settings: Settings, user: str | None) -> str:
    """--user EMAIL checked against the database, else the only user."""
    if user is None:
        return asyncio.run(_only_user(settings))
    from domain.usecases import get_user
    from runtime.bootstrap import build_unit_of_work

    async def check() -> str:
        uow = build_unit_of_work(settings, role="cli")
        try:
            return (await get_user(uow, email=user)).email
        finally:
            await uow.db.dispose()

    return asyncio.run(check())


@config_app.command("claude")
def claude(
    ctx: typer.Context,
    user: Annotated[str | None, typer.Option(help="The user Claude acts for (default: the only user).")] = None,
    install_it: Annotated[bool, typer.Option("--install", help="Write it into Claude Desktop's config file.")] = False,
    config_file: Annotated[Path | None, typer.Option(help="The config file for --install (default: Claude's).")] = None,
) -> None:
    """Print the Claude Desktop config block for this install (absolute paths, the env it needs), or --install it."""
    from runtime.bootstrap import prepare_database

    with errors(ctx):
        settings = load_settings(ctx)
        prepare_database(settings)
        email = _user_email(settings, user)
        entry = server_entry(this_command(), email, settings)
        if not install_it:
            typer.echo(json.dumps({"mcpServers": {SERVER_NAME: entry}}, indent=2))
            return
        path = config_file or claude_desktop_config_path()
        install(path, entry)
        typer.echo(f"wrote the {SERVER_NAME!r} MCP server (acting as {email}) into {path}; restart Claude Desktop")


@config_app.command("mcpb")
def mcpb(
    ctx: typer.Context,
    output: Annotated[Path, typer.Option(help="Where to write the bundle.")] = Path("todo-agent.mcpb"),
    user: Annotated[str | None, typer.Option(help="The account to pre-fill (default: the only user).")] = None,
) -> None:
    """Write an MCP Bundle (.mcpb) for Claude Desktop: open it (double-click, or Settings → Extensions) to install
    the server; it asks for the account and the data directory, pre-filled with this install's."""
    from importlib.metadata import version

    from runtime.bootstrap import prepare_database
    from runtime.cli.mcpb import BundleDefaults, NotASourceTree, write_bundle

    with errors(ctx):
        settings = load_settings(ctx)
        if settings.database_url:
            raise fail("the bundle opens the SQLite database in a data directory; with TODO_AGENT_DATABASE_URL set, "
                       "use `todo-agent config claude` instead")
        prepare_database(settings)
        email = _user_email(settings, user) if user is not None else asyncio.run(_some_user(settings))
        defaults = BundleDefaults(version=version("todo-agent"), user=email,
                                  data_dir=Path(settings.data_dir).expanduser().resolve())
        target = output.expanduser().resolve()
        try:
            count = write_bundle(target, defaults)
        except NotASourceTree as exc:
            raise fail(str(exc)) from None
        typer.echo(f"wrote {target} ({count} files); open it with Claude Desktop to install todo-agent"
                   + (f" (acting as {email})" if email else ""))


async def _some_user(settings: Settings) -> str | None:
    """The only user, to pre-fill; None when there are none or several (the install dialog then asks)."""
    from domain.usecases import user_emails
    from runtime.bootstrap import build_unit_of_work

    uow = build_unit_of_work(settings, role="cli")
    try:
        emails = await user_emails(uow, limit=2)
    finally:
        await uow.db.dispose()
    return emails[0] if len(emails) == 1 else None
