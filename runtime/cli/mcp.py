"""`todo-agent mcp`: the MCP server over stdio (for Claude Desktop) or standalone streamable HTTP."""

from __future__ import annotations

import asyncio
import os
from typing import TYPE_CHECKING, Annotated, Literal

import typer

from runtime.cli.support import bound_settings, errors, fail, listen, load_settings, serve_app

if TYPE_CHECKING:
    import socket

    from domain.uow import UnitOfWork
    from runtime.bootstrap import Runtime
    from runtime.settings import Settings


def mcp(
    ctx: typer.Context,
    user: Annotated[str | None, typer.Option(help="Act as this user (stdio); else TODO_AGENT_TOKEN is used.")] = None,
    transport: Annotated[Literal["stdio", "http"], typer.Option(help="stdio for desktop clients, or http.")] = "stdio",
    host: Annotated[str | None, typer.Option(help="Address for --transport http.")] = None,
    port: Annotated[int | None, typer.Option(help="Port for --transport http.")] = None,
) -> None:
    """Run the MCP server: over stdio as one user (nothing but protocol on stdout), or over HTTP with bearer auth."""
    from runtime.bootstrap import prepare_database

    with errors(ctx):
        settings = load_settings(ctx)
        prepare_database(settings)
        if transport == "stdio":
            asyncio.run(_stdio(settings, user, os.environ.get("TODO_AGENT_TOKEN")))
        else:
            sock = listen(host or settings.host, settings.port if port is None else port)
            asyncio.run(_http(bound_settings(settings, sock), sock))


async def resolve_user(uow: UnitOfWork, email: str | None, token: str | None, *, where: str = "") -> int:
    """The user a client command acts for: --user EMAIL, else the personal API token in TODO_AGENT_TOKEN.
    `where` names the database looked in, for the error (Claude Desktop passes almost no environment)."""
    from domain.errors import UserNotFound
    from domain.usecases import actor_for, authenticate_token

    if email:
        try:
            return (await actor_for(uow, email=email)).id
        except UserNotFound:
            raise fail(f"no user {email} in {where or 'the database'}: create it with `todo-agent user create "
                       f"{email}`, or set TODO_AGENT_DATA_DIR to the data directory `make run` uses") from None
    if token:
        return (await authenticate_token(uow, token)).id
    raise fail("say which user to act for: --user EMAIL, or a personal API token in TODO_AGENT_TOKEN "
               "(create one with `todo-agent token create EMAIL`; `todo-agent config claude` prints a config)")


def database_in_use(settings: Settings) -> str:
    """Where a command's database is, in words: the data directory for the default SQLite file."""
    if settings.uses_default_database:
        return f"the database in {settings.data_dir} (TODO_AGENT_DATA_DIR)"
    return "the database at TODO_AGENT_DATABASE_URL"


async def client_runtime(settings: Settings, role: str, email: str | None, token: str | None) -> tuple[Runtime, int]:
    """The runtime of a client process (`mcp` over stdio, `chat`) and the user it acts for (resolve_user); without
    such a user the database is closed again before the error goes up."""
    from runtime.bootstrap import build_runtime
    from runtime.lease import PRIORITY_CLIENT

    rt = build_runtime(settings, role=role, priority=PRIORITY_CLIENT)
    try:
        return rt, await resolve_user(rt.uow, email, token, where=database_in_use(settings))
    except BaseException:
        await rt.db.dispose()
        raise


async def _stdio(settings: Settings, email: str | None, token: str | None) -> None:
    from mcp_server import build_server
    from runtime.bootstrap import background, mcp_ports

    rt, user_id = await client_runtime(settings, "mcp", email, token)
    async with background(rt):
        await build_server(mcp_ports(rt, fixed_user_id=user_id)).run_stdio_async()


async def _http(settings: Settings, sock: socket.socket) -> None:
    from starlette.applications import Starlette
    from starlette.routing import Mount

    from runtime.bootstrap import background, build_mcp, build_runtime
    from runtime.lease import PRIORITY_CLIENT
    from web.body_limit import BodyLimit

    rt = build_runtime(settings, role="mcp", priority=PRIORITY_CLIENT)
    mcp = build_mcp(rt)
    app = BodyLimit(Starlette(routes=[Mount("/", mcp.app)]), limit=settings.max_body_bytes)
    typer.echo(f"todo-agent MCP on {settings.base_url}/mcp", err=True)
    async with background(rt), mcp.server.session_manager.run():
        await serve_app(app, sock, settings)
