"""Fixtures of the command-line tests: the installed `todo-agent` run as a real process on a default SQLite data
directory or on a fresh PostgreSQL database, the one-line error every mistake must be, and a way to check from
the outside what a command left in the database."""

from __future__ import annotations

import subprocess
from collections.abc import AsyncIterator, Awaitable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from domain.db import Database
from domain.errors import AuthenticationFailed
from domain.uow import UnitOfWork
from tests.conftest import migrate
from tests.infra import (
    TODO_AGENT,
    clean_env,
    create_test_database,
    drop_test_database,
    postgres_admin_url,
    require_or_skip,
    sqlite_url,
)


@dataclass
class Cli:
    """Runs the installed command with a clean TODO_AGENT_ environment."""

    env: dict[str, str]
    url: str

    def __call__(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(TODO_AGENT), *args], input=stdin, env=self.env, capture_output=True, text=True, timeout=60
        )


def assert_one_line_error(result: subprocess.CompletedProcess[str], *fragments: str) -> None:
    """The command failed (exit code 1) with one `error: ...` line naming every fragment, and no traceback."""
    assert result.returncode == 1, result
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0]


@pytest.fixture
def sqlite_cli(tmp_path: Path) -> Cli:
    """The default database: a SQLite file in a data directory that does not exist yet."""
    data = tmp_path / "data"
    return Cli(clean_env(data_dir=str(data)), sqlite_url(data / "todo-agent.db"))


@pytest.fixture
def postgres_cli(tmp_path: Path) -> Iterator[Cli]:
    """A fresh, unmigrated PostgreSQL database named by TODO_AGENT_DATABASE_URL."""
    admin = postgres_admin_url()
    if admin is None:
        require_or_skip("PostgreSQL is not reachable: set TEST_DATABASE_URL or start it on 127.0.0.1:5432")
    url = create_test_database(admin)
    yield Cli(clean_env(data_dir=str(tmp_path / "data"), database_url=url), url)
    drop_test_database(admin, url)


@pytest.fixture(params=["sqlite", "postgres"])
def cli(request: pytest.FixtureRequest) -> Cli:
    """Either backend, ready for use: PostgreSQL migrated with runtime.migrate.upgrade, SQLite by the command."""
    if request.param == "sqlite":
        result: Cli = request.getfixturevalue("sqlite_cli")
        return result
    postgres: Cli = request.getfixturevalue("postgres_cli")
    migrate(postgres.url)
    return postgres


@asynccontextmanager
async def unit_of_work(url: str) -> AsyncIterator[UnitOfWork]:
    """A unit of work on the command's database, opened from this process as another client would."""
    db = Database(url)
    try:
        yield UnitOfWork(db)
    finally:
        await db.dispose()


async def accepted(check: Awaitable[object]) -> bool:
    """Whether a credential check passes (False when it raises AuthenticationFailed)."""
    try:
        await check
    except AuthenticationFailed:
        return False
    return True
