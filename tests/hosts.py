"""The embedded web host as `todo-agent serve` builds it, for tests: a runtime on a fresh migrated SQLite file
(copied from a per-module template), a signed-in user, the user's stored tasks, and a polling helper."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

import pytest
from sqlmodel import col, select

from domain.access_tokens import issue_access_token
from domain.models import Task
from domain.usecases import create_user
from runtime.bootstrap import Runtime, build_runtime, close_runtime
from runtime.lease import PRIORITY_WEB
from runtime.settings import Settings
from tests.api.conftest import User
from tests.conftest import migrate
from tests.infra import sqlite_url

T = TypeVar("T")


@pytest.fixture(scope="module")
def migrated_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "todo.db"
    migrate(sqlite_url(path))
    return path


@pytest.fixture
async def runtime(migrated_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Runtime]:
    """The web host's runtime (in-process bus, fast scheduler and relay, no heartbeats unless a test sets them)."""
    monkeypatch.setenv("TODO_AGENT_SCHEDULER_SECONDS", "0.05")
    monkeypatch.setenv("TODO_AGENT_STREAM_PING_SECONDS", "0")
    path = Path(shutil.copy(migrated_file, tmp_path / "todo.db"))
    settings = Settings(data_dir=tmp_path, database_url=sqlite_url(path), bus="inprocess", relay_poll_seconds=0.05)
    rt = build_runtime(settings, role="web", priority=PRIORITY_WEB)
    yield rt
    await close_runtime(rt)


async def eventually(check: Callable[[], Awaitable[T | None]], timeout: float = 10.0) -> T:
    """Poll `check` until it returns something (not None)."""
    async with asyncio.timeout(timeout):
        while (value := await check()) is None:
            await asyncio.sleep(0.05)
    return value


async def user_of(rt: Runtime, email: str = "ada@example.com", timezone: str = "Europe/Berlin") -> User:
    """A user of the runtime's database with a five-minute access token."""
    view = await create_user(rt.uow, email, timezone=timezone)
    token = issue_access_token(view.id, rt.secret, now=datetime.now(UTC), ttl=timedelta(minutes=5))
    return User(id=view.id, headers={"Authorization": f"Bearer {token}"})


async def tasks_of(rt: Runtime, user_id: int) -> list[Task]:
    """The user's task rows as stored in the runtime's database (whatever surface wrote them), oldest first:
    without an ORDER BY, PostgreSQL returns rows in whatever order its heap holds them."""
    async with rt.uow.read() as tx:
        query = select(Task).where(col(Task.owner_id) == user_id).order_by(col(Task.id))
        return list((await tx.session.exec(query)).all())
