"""The FastAPI web host: REST API, health, and the MCP endpoint mounted last at `/` so `/mcp` answers directly."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from fastapi import FastAPI

from mcp_server import build_server, http_app
from web.api import include_api
from web.body_limit import BodyLimit
from web.bootstrap import Runtime, background, mcp_ports
from web.chat import build_agent, close_agent, conversation_store
from web.deps import ApiState
from web.page import install_page
from web.routes import health
from web.security import WindowLimiter

DESCRIPTION = """A chat-first task manager. Every route takes `Authorization: Bearer <token>` (a JWT access token
from /api/v1/auth/login or a personal API token) except register, login and the health checks. Errors are RFC 9457
`application/problem+json` naming the field and the rule. The MCP endpoint is `/mcp` (streamable HTTP)."""


def create_app(rt: Runtime) -> FastAPI:
    """The web host for one runtime: it runs the leader duties in the background while it serves."""
    mcp = build_server(mcp_ports(rt))
    mcp_app = http_app(mcp, mcp_ports(rt))

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        async with background(rt), mcp.session_manager.run():
            try:
                yield
            finally:
                rt.live.close()  # open streams end, so the server can stop
                await close_agent(state.agent)  # its pooled MCP sessions, before the MCP app stops

    # docs_url/redoc_url off: FastAPI's pages load a CDN and run inline scripts; web.page serves /docs itself.
    app = FastAPI(title="todo-agent", version="0.1.0", description=DESCRIPTION, lifespan=lifespan,
                  docs_url=None, redoc_url=None)
    app.state.runtime = rt
    app.state.live = rt.live
    app.include_router(health.router)
    state = ApiState(uow=rt.uow, secret=rt.secret, conversations=conversation_store(rt),
                     allow_registration=rt.settings.allow_registration, agent=build_agent(rt, mcp_app),
                     access_ttl=timedelta(minutes=rt.settings.access_token_minutes),
                     session_max=timedelta(hours=rt.settings.session_max_hours),
                     stream_recheck_seconds=rt.settings.stream_recheck_seconds,
                     ping_seconds=rt.services.stream_ping_seconds,
                     register_by_address=WindowLimiter(limit=rt.settings.register_per_hour, window=3600))
    include_api(app, state)
    install_page(app)
    if rt.settings.bus == "dapr":
        _add_dapr_routes(app, rt)
    app.mount("/", mcp_app)  # last: every other route answers first
    app.add_middleware(BodyLimit, limit=rt.settings.max_body_bytes)  # outermost: before anything reads a body
    return app


def _add_dapr_routes(app: FastAPI, rt: Runtime) -> None:
    """On Dapr the sidecar delivers the task commands, reminders and task changes to routes of this app."""
    from services.processes import dapr_app_token, web_host_dapr_routes
    from services.subscriptions import subscriptions
    from services.transport.dapr import subscription_app

    routes = web_host_dapr_routes(subscriptions(rt.uow, rt.services), rt.live, rt.uow)
    subscription_app(routes, rt.settings.dapr_pubsub, app=app, app_token=dapr_app_token(rt.settings))
