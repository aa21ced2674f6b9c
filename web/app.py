"""The FastAPI web host: built from a Runtime, it runs the leader duties in the background while it serves."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from web.bootstrap import Runtime, background
from web.routes import health


def create_app(rt: Runtime) -> FastAPI:
    """The web host for one runtime (the REST API, MCP and chat routes join in later issues)."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        async with background(rt):
            yield

    app = FastAPI(title="todo-agent", lifespan=lifespan)
    app.state.runtime = rt
    app.include_router(health.router)
    return app
