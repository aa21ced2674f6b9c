"""The FastAPI web host: REST API, the page, the probes, and the MCP app mounted last at `/` so `/mcp` answers
directly. It is assembled from parts the composition root builds (runtime.apps.create_app)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from fastapi import FastAPI

from web.api import include_api
from web.body_limit import BodyLimit
from web.deps import ApiState
from web.page import install_page
from web.routes import health

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Lifespan

    from web.live import LiveHub
    from web.routes.health import Readiness

DESCRIPTION = """A chat-first task manager. Every route takes `Authorization: Bearer <token>` (a JWT access token
from /api/v1/auth/login or a personal API token) except register, login and the health checks. Errors are RFC 9457
`application/problem+json` naming the field and the rule. The MCP endpoint is `/mcp` (streamable HTTP)."""


def build_app(
    state: ApiState,
    *,
    mcp_app: ASGIApp,
    live: LiveHub,
    readiness: Readiness,
    lifespan: Lifespan[FastAPI],
    max_body_bytes: int,
    extra_routes: Callable[[FastAPI], None] | None = None,
) -> FastAPI:
    """The web host's app: probes, REST API, page, `extra_routes` (e.g. Dapr's), then the MCP app at `/`."""
    # docs_url/redoc_url off: FastAPI's pages load a CDN and run inline scripts; web.page serves /docs itself.
    app = FastAPI(title="todo-agent", version="0.1.0", description=DESCRIPTION, lifespan=lifespan,
                  docs_url=None, redoc_url=None)
    app.state.readiness = readiness
    app.state.live = live
    app.include_router(health.router)
    include_api(app, state)
    install_page(app)
    if extra_routes is not None:
        extra_routes(app)
    app.mount("/", mcp_app)  # last: every other route answers first
    app.add_middleware(BodyLimit, limit=max_body_bytes)  # outermost: before anything reads a body
    return app
