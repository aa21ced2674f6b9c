"""Async database engines: SQLite (WAL, busy_timeout, BEGIN IMMEDIATE for writes) and PostgreSQL, same code."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def create_private_sqlite_file(url: str) -> None:
    """Create a SQLite database file that does not exist yet readable by its owner only (0600), in a 0700
    directory if that is new too. SQLite gives the -wal, -shm and journal files the database file's mode; an
    existing file keeps its mode (its owner chose it)."""
    if not is_sqlite(url):
        return
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    path = Path(database)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))  # an empty file is an empty database
    except FileExistsError:
        pass


class Database:
    """One engine and two session makers: `reader` for queries, `writer` for immediate write transactions."""

    def __init__(self, url: str, *, echo: bool = False, pool_size: int = 10) -> None:
        self.url = url
        self.sqlite = is_sqlite(url)
        kwargs: dict[str, Any] = {"echo": echo}
        if self.sqlite:
            kwargs["connect_args"] = {"timeout": 5.0}
        else:
            kwargs.update(pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)
        self.engine: AsyncEngine = create_async_engine(url, **kwargs)
        if self.sqlite:
            _configure_sqlite(self.engine)
        write_engine = self.engine.execution_options(immediate=True)
        self.reader = async_sessionmaker(self.engine, class_=AsyncSession, expire_on_commit=False)
        self.writer = async_sessionmaker(write_engine, class_=AsyncSession, expire_on_commit=False)
        # Called after each commit through this database that wrote outbox rows (UnitOfWork.write), by whichever
        # unit of work made it: the process's relay registers its wake-up here once.
        self.events_committed: list[Callable[[], None]] = []

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    async def dispose(self) -> None:
        await self.engine.dispose()


def _configure_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "do_connect")
    def _before_connect(_dialect: Any, _record: Any, _args: Any, _kwargs: Any) -> None:
        create_private_sqlite_file(str(engine.url))  # before SQLite creates it with the umask's mode

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control from the driver so writes can BEGIN IMMEDIATE (no upgrade deadlocks).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=5000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        immediate = conn.get_execution_options().get("immediate", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
