"""`python -m bench.server [serve options]`: the real web host (`todo-agent serve`) with two benchmark-only baselines.

The benchmarks start this in a process of its own, configured like the product (TODO_AGENT_DATABASE_URL,
TODO_AGENT_DATA_DIR, TODO_AGENT_SECRET_KEY, ...), so the load generator never shares the server's event loop.
It runs the `serve` command unchanged except that the two factories it calls are wrapped for this process only:

- `mcp_server.build_server`: the MCP server instance gets a `noop` tool (returns "ok": transport, session, bearer
  check and tool dispatch only) and a `noop_actor` tool (also reads the verified caller from its context, as
  every real tool does);
- `runtime.apps.create_app`: the FastAPI instance gets `GET /bench/noop` (no auth, no database),
  `GET /bench/noop-auth` (the REST bearer-token dependency only) and `GET /bench/noop-syncdep` (one plain `def`
  dependency, which FastAPI runs in its thread pool), placed before the MCP app mounted at `/`.

With BENCH_TCP_NODELAY=1 it also sets TCP_NODELAY on the listening socket (accepted connections inherit it on
Linux). Before e4acce7, `listen()` bound with socket.create_server, whose protocol number 0 kept asyncio from
setting TCP_NODELAY on connections, so a keep-alive response written as headers then body waited for the client's
delayed ACK (~40 ms); the product now sets it itself and the benchmarks compare both setups as a regression check.

The product itself has no bench-only route or tool: these exist only on the instances this runner builds.
"""

# No `from __future__ import annotations` here: FastAPI must see the real annotation of the nested route's
# dependency (a string would name a local it cannot resolve).
import os
import sys
from typing import Any

NOOP_ROUTES = ("/bench/noop", "/bench/noop-auth", "/bench/noop-syncdep")
NOOP_TOOLS = ("noop", "noop_actor")


def _patch() -> None:
    from fastapi import Depends, FastAPI
    from mcp.server.mcpserver import MCPServer
    from mcp.types import ToolAnnotations
    from starlette.routing import Mount

    import mcp_server
    import runtime.apps
    from mcp_server import McpPorts
    from mcp_server.context import Ctx, acting
    from web.deps import CurrentActor

    build_server, create_app = mcp_server.build_server, runtime.apps.create_app
    read_only = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True,
                                open_world_hint=False)

    def build_server_with_noop(ports: McpPorts) -> "MCPServer":
        server = build_server(ports)

        async def noop() -> str:
            """Do nothing (benchmark baseline)."""
            return "ok"

        async def noop_actor(ctx: Ctx) -> str:
            """Read the verified caller and do nothing else (benchmark baseline)."""
            _, actor = acting(ctx)
            return f"user {actor.id}"

        server.add_tool(noop, name="noop", annotations=read_only)
        server.add_tool(noop_actor, name="noop_actor", annotations=read_only)
        return server

    def create_app_with_noop(rt: Any) -> FastAPI:
        app = create_app(rt)

        async def noop() -> dict[str, bool]:
            return {"ok": True}

        async def noop_auth(actor: CurrentActor) -> dict[str, int]:
            return {"user": actor.id}

        def sync_dependency() -> int:  # a plain `def` dependency: FastAPI runs it in the thread pool
            return 1

        async def noop_syncdep(_value: int = Depends(sync_dependency)) -> dict[str, bool]:  # noqa: B008
            return {"ok": True}

        app.add_api_route("/bench/noop", noop, methods=["GET"], include_in_schema=False)
        app.add_api_route("/bench/noop-syncdep", noop_syncdep, methods=["GET"], include_in_schema=False)
        app.add_api_route("/bench/noop-auth", noop_auth, methods=["GET"], include_in_schema=False)
        # add_api_route appends after the MCP app mounted at "/", which would answer first: move them before it.
        routes = app.router.routes
        added = [r for r in routes if getattr(r, "path", None) in NOOP_ROUTES]
        for r in added:
            routes.remove(r)
        mount = next(i for i, r in enumerate(routes) if isinstance(r, Mount) and r.path in ("", "/"))
        routes[mount:mount] = added
        return app

    mcp_server.build_server = build_server_with_noop  # type: ignore[assignment]
    runtime.apps.create_app = create_app_with_noop  # type: ignore[assignment]
    if os.environ.get("BENCH_TCP_NODELAY") == "1":
        _patch_nodelay()


def _patch_nodelay() -> None:
    import socket

    import runtime.cli.main
    import runtime.cli.support

    listen = runtime.cli.support.listen

    def listen_nodelay(host: str, port: int) -> socket.socket:
        sock = listen(host, port)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock

    runtime.cli.support.listen = listen_nodelay
    runtime.cli.main.listen = listen_nodelay  # type: ignore[attr-defined]


def main(argv: list[str]) -> None:
    _patch()
    from runtime.cli.main import app

    app(args=["serve", *argv], prog_name="todo-agent")


if __name__ == "__main__":
    main(sys.argv[1:])
