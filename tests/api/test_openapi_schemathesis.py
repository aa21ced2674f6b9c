"""schemathesis over the OpenAPI schema of every REST route, against a real uvicorn server on a fresh SQLite file:
no 5xx, every 4xx is problem+json, and responses conform to the documented schemas and status codes."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
import schemathesis
import uvicorn
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from mcp import Client
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from agent.agent import Agent
from agent.mcp_client import McpToolbox
from agent.scripted_model import ScriptedModel
from agent.store import ConversationStore
from domain.db import Database
from domain.uow import UnitOfWork
from mcp_server import McpPorts, build_server
from runtime.migrate import upgrade
from tests.api.conftest import api_state_over
from tests.infra import free_port, sqlite_url
from web.api import include_api

SECRET = "s" * 48


def _agent(uow: UnitOfWork, conversations: ConversationStore) -> Agent:
    """The chat agent on the real MCP server (in-process) with a model script of no steps: every turn streams
    `turn_started`, an `error` (the script has no step) and `turn_end`."""

    @asynccontextmanager
    async def tools_for(user_id: int) -> AsyncIterator[McpToolbox]:
        async with Client(build_server(McpPorts(uow=uow, secret=SECRET, fixed_user_id=user_id))) as client:
            yield McpToolbox(client)

    return Agent(ScriptedModel([]), tools_for, conversations, uow.clock)


def _app(url: str) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        db = Database(url)
        state = api_state_over(UnitOfWork(db), SECRET)
        state.agent = _agent(state.uow, state.conversations)
        app.state.api = state
        yield
        await db.dispose()

    app = FastAPI(title="todo-agent", lifespan=lifespan)
    include_api(app)
    return app


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url = sqlite_url(Path(tmp_path_factory.mktemp("st")) / "api.db")
    upgrade(url)
    port = free_port()
    srv = uvicorn.Server(uvicorn.Config(_app(url), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 10
    while not srv.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield base
    srv.should_exit = True
    thread.join(10)


@pytest.fixture(scope="module")
def auth_headers(server: str) -> dict[str, str]:
    email = f"st-{uuid.uuid4().hex[:8]}@example.com"
    httpx.post(f"{server}/api/v1/auth/register", json={"email": email, "password": "schemathesis!"}).raise_for_status()
    login = httpx.post(f"{server}/api/v1/auth/login", json={"email": email, "password": "schemathesis!"})
    token = login.raise_for_status().json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    for i in range(3):
        httpx.post(f"{server}/api/v1/tasks", json={"title": f"seed {i}", "tags": ["seed"]}, headers=headers)
    return headers


ENDLESS = {"/api/v1/stream"}


def _operations() -> list[schemathesis.APIOperation]:
    app = FastAPI(title="todo-agent")
    include_api(app)
    loaded = schemathesis.openapi.from_dict(app.openapi())
    # The live stream never ends by itself; tests/services/test_stream.py covers it.
    return [op for op in (result.ok() for result in loaded.get_all_operations()) if op.path not in ENDLESS]


OPERATIONS = _operations()


def problem_json_for_client_errors(response: schemathesis.Response) -> None:
    """Every 4xx answer is RFC 9457 problem+json."""
    if 400 <= response.status_code < 500:
        assert response.headers["content-type"][0].startswith("application/problem+json"), response.text
        body = response.json()
        assert body["status"] == response.status_code and body["title"] and body["detail"]


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda op: f"{op.method.upper()} {op.path}")
def test_every_route_answers_without_5xx_and_with_problem_json(
    operation: schemathesis.APIOperation, server: str, auth_headers: dict[str, str]
) -> None:
    """Random valid and invalid requests per route; login goes unauthenticated so its limiter stays in play."""
    headers = {} if operation.path == "/api/v1/auth/login" else auth_headers

    @given(case=operation.as_strategy())
    @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
    def check(case: schemathesis.Case) -> None:
        response = case.call(base_url=server, headers=headers, timeout=10)
        case.validate_response(
            response,
            checks=[not_a_server_error, status_code_conformance, content_type_conformance,
                    response_schema_conformance],
        )
        problem_json_for_client_errors(response)

    check()
