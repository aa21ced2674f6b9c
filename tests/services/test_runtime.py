"""The embedded default as `todo-agent serve` builds it: the lease holder's relay, services and scheduler run in
the web host's lifespan on the real clock, and its open streams end when the lifespan does."""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest
from fastapi import FastAPI
from sqlmodel import col, select

from domain.access_tokens import issue_access_token
from domain.models import Task
from domain.schemas import RecurrenceSpec, TaskCreate
from domain.usecases import Actor, complete_task, create_task, create_user
from services.audit_log import AuditQuery, list_audit
from tests.api.conftest import User
from tests.conftest import migrate
from tests.infra import sqlite_url
from tests.services.test_stream import stream
from web.app import create_app
from web.bootstrap import Runtime, build_runtime, close_runtime
from web.settings import Settings

pytestmark = pytest.mark.slow

T = TypeVar("T")


@pytest.fixture(scope="module")
def migrated_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "todo.db"
    migrate(sqlite_url(path))
    return path


@pytest.fixture
async def runtime(migrated_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Runtime]:
    monkeypatch.setenv("TODO_AGENT_SCHEDULER_SECONDS", "0.05")
    monkeypatch.setenv("TODO_AGENT_STREAM_PING_SECONDS", "0")
    path = Path(shutil.copy(migrated_file, tmp_path / "todo.db"))
    settings = Settings(data_dir=tmp_path, database_url=sqlite_url(path), bus="inprocess", relay_poll_seconds=0.05)
    rt = build_runtime(settings, role="web", priority=10)
    yield rt
    await close_runtime(rt)


async def eventually(check: Callable[[], Awaitable[T | None]], timeout: float = 10.0) -> T:
    """Poll `check` until it returns something (not None)."""
    async with asyncio.timeout(timeout):
        while (value := await check()) is None:
            await asyncio.sleep(0.05)
    return value


async def user_of(rt: Runtime) -> User:
    view = await create_user(rt.uow, "ada@example.com", timezone="Europe/Berlin")
    token = issue_access_token(view.id, rt.secret, now=datetime.now(UTC), ttl=timedelta(minutes=5))
    return User(id=view.id, headers={"Authorization": f"Bearer {token}"})


async def test_the_web_host_runs_the_services_and_the_scheduler_while_it_leads(runtime: Runtime) -> None:
    app: FastAPI = create_app(runtime)
    ada = await user_of(runtime)
    actor = Actor(id=ada.id, timezone="Europe/Berlin")
    async with app.router.lifespan_context(app), stream(app, ada) as reader:
        due = datetime.now(UTC) + timedelta(seconds=2)
        task = await create_task(runtime.uow, actor, TaskCreate(title="Tea", due_at=due, reminders=[0],
                                                                recurrence=RecurrenceSpec(rule="daily")))
        created = await reader.event()
        assert (created.event, json.loads(created.data)["id"]) == ("task.changed", task.id)
        note = await reader.event(timeout=10)
        assert note.event == "notification" and json.loads(note.data)["task_id"] == task.id
        assert datetime.now(UTC) >= due

        await complete_task(runtime.uow, actor, task.id)

        async def successor() -> Task | None:
            async with runtime.uow.read() as tx:
                return (await tx.session.exec(select(Task).where(col(Task.predecessor_id) == task.id))).first()

        succ = await eventually(successor)
        seen = [json.loads((await reader.event()).data) for _ in range(2)]
        assert [s["id"] for s in seen] == [task.id, succ.id]

        async def audited() -> list[dict[str, Any]] | None:
            page = await list_audit(runtime.uow, actor, AuditQuery())
            return [e.model_dump() for e in page.data] if page.count == 3 else None

        trail = await eventually(audited)
    assert [e["task_id"] for e in trail] == [succ.id, task.id, task.id]
    assert runtime.lease.held is False


async def test_open_streams_end_when_the_web_host_stops(runtime: Runtime) -> None:
    app: FastAPI = create_app(runtime)
    ada = await user_of(runtime)
    async with stream(app, ada) as reader:
        async with app.router.lifespan_context(app):
            assert runtime.live.subscribers(ada.id) == 1
        assert await reader.ended(timeout=5)  # the server ended it, not the client
    assert runtime.live.subscribers(ada.id) == 0
