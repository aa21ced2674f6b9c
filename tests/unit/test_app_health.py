"""The web host's probes: /healthz answers without the database, /readyz reports the database, outbox and lease."""

from __future__ import annotations

import asyncio
import shutil
import socket
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from domain.schemas import TaskCreate
from domain.usecases import Actor, create_task, create_user
from runtime.apps import create_app
from runtime.bootstrap import Runtime, background, build_runtime, close_runtime
from runtime.settings import Settings
from tests.infra import sqlite_url


def runtime_on(url: str, data_dir: Path) -> Runtime:
    settings = Settings(data_dir=data_dir, database_url=url, bus="inprocess", relay_poll_seconds=0.05)
    return build_runtime(settings, role="test", priority=0)


def client_for(rt: Runtime) -> httpx.AsyncClient:
    # ASGITransport sends no lifespan events: the relay and the lease keeper stay stopped unless a test starts them.
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(rt)), base_url="http://testserver")


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.fixture
async def runtime(migrated_file: Path, tmp_path: Path) -> AsyncIterator[Runtime]:
    """A runtime of low priority (not tests/hosts.py's web host) on a fresh copy of the migrated SQLite file."""
    path = Path(shutil.copy(migrated_file, tmp_path / "todo.db"))
    rt = runtime_on(sqlite_url(path), tmp_path)
    yield rt
    await close_runtime(rt)


UNREACHABLE = {
    "sqlite-in-missing-directory": lambda: sqlite_url("/nonexistent-todo-agent-dir/sub/todo.db"),
    "postgres-on-closed-port": lambda: f"postgresql+psycopg://postgres@127.0.0.1:{closed_port()}/todo",
}


@pytest.fixture(params=sorted(UNREACHABLE))
async def unreachable(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Runtime]:
    rt = runtime_on(UNREACHABLE[request.param](), tmp_path)
    yield rt
    await close_runtime(rt)


async def test_healthz_answers_ok_without_touching_the_database(unreachable: Runtime) -> None:
    async with client_for(unreachable) as client:
        response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_reports_an_empty_outbox_and_no_lease_on_a_fresh_database(runtime: Runtime) -> None:
    async with client_for(runtime) as client:
        response = await client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ready",
        "database": "ok",
        "outbox": {"pending": 0, "oldest_pending_age_seconds": None, "failing": 0},
        "leader": False,
    }


async def test_readyz_counts_the_events_a_use_case_wrote_while_the_relay_is_stopped(runtime: Runtime) -> None:
    user = await create_user(runtime.uow, "ada@example.com")
    actor = user_actor(user.id)
    await create_task(runtime.uow, actor, TaskCreate(title="Water the plants"))
    await create_task(runtime.uow, actor, TaskCreate(title="Call the plumber"))
    async with client_for(runtime) as client:
        body = (await client.get("/readyz")).json()
    assert body["status"] == "ready"
    assert body["outbox"]["pending"] == 2
    assert body["outbox"]["oldest_pending_age_seconds"] >= 0
    assert body["outbox"]["failing"] == 0


async def test_readyz_is_503_with_a_one_line_reason_when_the_database_is_unreachable(unreachable: Runtime) -> None:
    async with client_for(unreachable) as client:
        response = await client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["database"] and "\n" not in body["database"]
    assert "sqlalche.me" not in body["database"]


async def test_in_the_background_the_process_takes_the_lease_and_the_relay_drains_the_outbox(
    runtime: Runtime,
) -> None:
    user = await create_user(runtime.uow, "bob@example.com")
    await create_task(runtime.uow, user_actor(user.id), TaskCreate(title="Renew passport"))
    async with background(runtime), client_for(runtime) as client:
        body = await poll_readyz(client, lambda b: b["leader"] and b["outbox"]["pending"] == 0)
    assert body["outbox"] == {"pending": 0, "oldest_pending_age_seconds": None, "failing": 0}
    assert runtime.lease.held is False  # released on a clean exit


async def poll_readyz(
    client: httpx.AsyncClient, done: Callable[[dict[str, Any]], bool], timeout: float = 10.0
) -> dict[str, Any]:
    """Ask /readyz until `done(body)` holds (or fail after `timeout` seconds)."""
    body: dict[str, Any] = {}
    async with asyncio.timeout(timeout):
        while not done(body := (await client.get("/readyz")).json()):
            await asyncio.sleep(0.05)
    return body


def user_actor(user_id: int) -> Actor:
    return Actor(id=user_id, timezone="UTC")
