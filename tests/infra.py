"""Where the test suite finds its real services and processes: throwaway PostgreSQL databases, the installed
`todo-agent` command with a clean environment, and free local ports.

No fixtures live here: conftest files build theirs from these functions.
"""

from __future__ import annotations

import asyncio
import functools
import os
import secrets
import socket
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import NoReturn

import psycopg
import pytest
from psycopg import sql
from sqlalchemy.engine import URL, make_url

from domain.db import Database

TEST_DATABASE_PREFIX = "todo_agent_test_"
_DEFAULT_PROBE = "127.0.0.1:5432"
TODO_AGENT = Path(sys.executable).with_name("todo-agent")  # the command this virtualenv installed
PASSWORD = "correct horse battery staple\n"  # as a person types it on --password-stdin


def postgres_admin_url() -> str | None:
    """TEST_DATABASE_URL, else the local server on 127.0.0.1:5432 if it lets `postgres` in, else None."""
    explicit = os.environ.get("TEST_DATABASE_URL")
    if explicit:
        return explicit
    host, _, port = os.environ.get("TODO_AGENT_TEST_PG_PROBE", _DEFAULT_PROBE).rpartition(":")
    return _probe_local_postgres(host, int(port))


@functools.cache
def _probe_local_postgres(host: str, port: int) -> str | None:
    # A cheap TCP check first: psycopg rounds connect timeouts below 2 s up to 2 s.
    try:
        socket.create_connection((host, port), timeout=1).close()
    except OSError:
        return None
    try:
        psycopg.connect(host=host, port=port, user="postgres", dbname="postgres", connect_timeout=1).close()
    except psycopg.Error:
        return None
    return f"postgresql+psycopg://postgres@{host}:{port}/postgres"


def require_or_skip(reason: str) -> NoReturn:
    """Skip the test for want of a service, except under CI, where a missing service is a failure."""
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


def create_test_database(admin_url: str) -> str:
    """Create a uniquely named empty database and return its SQLAlchemy URL (postgresql+psycopg)."""
    name = f"{TEST_DATABASE_PREFIX}{os.getpid()}_{secrets.token_hex(4)}"
    with psycopg.connect(_libpq_url(make_url(admin_url)), autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = make_url(admin_url).set(drivername="postgresql+psycopg", database=name)
    return url.render_as_string(hide_password=False)


def drop_test_database(admin_url: str, url: str) -> None:
    """Drop a database made by create_test_database, closing any connections still open to it."""
    name = make_url(url).database
    if not name or not name.startswith(TEST_DATABASE_PREFIX):
        raise ValueError(f"refusing to drop {name!r}: not a database made by create_test_database")
    with psycopg.connect(_libpq_url(make_url(admin_url)), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def clean_env(**settings: str) -> dict[str, str]:
    """This process's environment without any TODO_AGENT_ variable, plus the given settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TODO_AGENT_")}
    return env | {f"TODO_AGENT_{name.upper()}": value for name, value in settings.items()}


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def sqlite_url(path: str | os.PathLike[str]) -> str:
    """The async SQLAlchemy URL of a SQLite file."""
    return f"sqlite+aiosqlite:///{Path(path)}"


def _libpq_url(url: URL) -> str:
    """The same server and database as a plain postgresql:// URL that psycopg accepts."""
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


@asynccontextmanager
async def throwaway_url(kind: str, folder: Path) -> AsyncIterator[str]:
    """The URL of an empty database of its own, not migrated: a SQLite file in `folder`, or a PostgreSQL database
    dropped afterwards."""
    admin = None
    if kind == "sqlite":
        url = sqlite_url(folder / "own.db")
    else:
        admin = postgres_admin_url()
        if admin is None:
            require_or_skip("PostgreSQL is not reachable: set TEST_DATABASE_URL or start it on 127.0.0.1:5432")
        url = create_test_database(admin)
    try:
        yield url
    finally:
        if admin is not None:
            drop_test_database(admin, url)


@asynccontextmanager
async def throwaway_database(kind: str, folder: Path) -> AsyncIterator[Database]:
    """A migrated database of its own (throwaway_url, migrated to the newest revision)."""
    from runtime.migrate import upgrade

    async with throwaway_url(kind, folder) as url:
        await asyncio.to_thread(upgrade, url)  # Alembic runs its own event loop
        db = Database(url)
        try:
            yield db
        finally:
            await db.dispose()
