"""Shared fixtures: a migrated database per backend (SQLite file and a throwaway PostgreSQL database), a unit of
work with a controllable clock, and a fresh user per test (tests isolate by users, not by re-created schemas),
with the helpers that make users and tasks for them."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

from domain.db import Database
from domain.schemas import TaskCreate, TaskView
from domain.uow import UnitOfWork
from domain.usecases import Actor, create_task, create_user
from runtime.migrate import upgrade
from tests.infra import create_test_database, drop_test_database, postgres_admin_url, require_or_skip, sqlite_url

pytest_plugins = ["tests.hosts"]  # the embedded web host's fixtures (runtime, migrated_file)

settings.register_profile(
    "ci", max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
settings.register_profile(
    "dev", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
settings.load_profile("ci" if os.environ.get("CI") == "true" else os.environ.get("HYPOTHESIS_PROFILE", "dev"))


class Clock:
    """Real time unless a test sets it; `advance` moves a set clock."""

    def __init__(self) -> None:
        self.fixed: datetime | None = None

    def now(self) -> datetime:
        return self.fixed if self.fixed is not None else datetime.now(UTC)

    def set(self, when: datetime) -> None:
        self.fixed = when

    def advance(self, **delta: float) -> None:
        self.fixed = self.now() + timedelta(**delta)


def migrate(url: str) -> None:
    """Alembic runs its own event loop, so run it off the test loop's thread."""
    with ThreadPoolExecutor(1) as pool:
        pool.submit(upgrade, url).result()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    admin = postgres_admin_url()
    if admin is None:
        require_or_skip("PostgreSQL is not reachable: set TEST_DATABASE_URL or start it on 127.0.0.1:5432")
    url = create_test_database(admin)
    migrate(url)
    yield url
    drop_test_database(admin, url)


@pytest.fixture(scope="session")
def sqlite_db_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = sqlite_url(Path(tmp_path_factory.mktemp("db")) / "todo.db")
    migrate(url)
    return url


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest) -> str:
    name = "sqlite_db_url" if request.param == "sqlite" else "postgres_url"
    return str(request.getfixturevalue(name))


@pytest.fixture(scope="session")
async def database(db_url: str) -> AsyncIterator[Database]:
    db = Database(db_url)
    yield db
    await db.dispose()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def uow(database: Database, clock: Clock) -> UnitOfWork:
    return UnitOfWork(database, clock)


async def new_actor(uow: UnitOfWork, timezone: str = "UTC", *, admin: bool = False) -> Actor:
    user = await create_user(uow, f"user-{uuid.uuid4().hex[:12]}@example.com", timezone=timezone, is_admin=admin)
    return Actor(id=user.id, timezone=user.timezone, is_admin=user.is_admin)


async def new_task(uow: UnitOfWork, actor: Actor, title: str = "Task", **fields: Any) -> TaskView:
    """A task of the actor's, made by the create use case (any TaskCreate field can be given)."""
    return await create_task(uow, actor, TaskCreate(title=title, **fields))


@pytest.fixture
async def actor(uow: UnitOfWork) -> Actor:
    return await new_actor(uow)


@pytest.fixture
async def other(uow: UnitOfWork) -> Actor:
    return await new_actor(uow)
