"""The REST API: its routers and error mapping, attached to the host app by `web.app.create_app`."""

from __future__ import annotations

from fastapi import FastAPI

from web import problems
from web.deps import ApiState
from web.routes import (
    account,
    audit,
    auth,
    chat,
    conversations,
    notifications,
    planning,
    projects,
    sessions,
    stream,
    tags,
    tasks,
)

ROUTERS = (
    auth.router, sessions.router, account.router, tasks.router, projects.router, tags.router, planning.router,
    conversations.router, notifications.router, audit.router, stream.router, chat.router,
)


def include_api(app: FastAPI, state: ApiState | None = None) -> None:
    """Mount every REST router on `app` and answer its errors as problem+json; `state` may be set later."""
    if state is not None:
        app.state.api = state
    problems.install(app)
    for router in ROUTERS:
        app.include_router(router)
