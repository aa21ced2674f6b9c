"""The database engines (domain.db, domain.sqlite_inline): SQLite's two drivers, queued writes and the busy retry
against another process's write lock without blocking the loop; PostgreSQL's autocommit reads and its recovery from
a connection the server ended, with no pre-ping."""

from __future__ import annotations

import asyncio
import sqlite3
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa
from psycopg.pq import TransactionStatus
from sqlalchemy.engine import make_url
from sqlalchemy.util import greenlet_spawn

import domain.db
from domain.db import Database, SqliteDriver
from domain.models import User
from domain.schemas import TaskCreate, TaskQuery
from domain.sqlite_inline import begin_immediate
from domain.uow import Tx, UnitOfWork
from domain.usecases import create_task, get_task, get_user, list_tasks
from tests.conftest import new_actor
from tests.infra import throwaway_database

DRIVERS: list[SqliteDriver] = ["inline", "aiosqlite"]

# Holds SQLite's write lock from another process: BEGIN IMMEDIATE, say so, wait, commit.
_HOLDER = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
conn.execute("COMMIT")
print("released", flush=True)
"""


@pytest.fixture(params=DRIVERS)
async def sqlite_uow(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[UnitOfWork]:
    """A migrated SQLite database of the test's own on the given driver."""
    async with throwaway_database("sqlite", tmp_path) as migrated:
        db = Database(migrated.url, sqlite_driver=request.param)
        try:
            yield UnitOfWork(db)
        finally:
            await db.dispose()


class Ticker:
    """Counts how often the event loop ran it: it cannot tick while something blocks the loop."""

    def __init__(self) -> None:
        self.ticks = 0
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(0.005)
            self.ticks += 1

    async def __aenter__(self) -> Ticker:
        self._task = asyncio.create_task(self._run())
        await asyncio.sleep(0)
        return self

    async def __aexit__(self, *_: Any) -> None:
        assert self._task is not None
        self._task.cancel()


def test_the_driver_is_the_one_asked_for(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'x.db'}"
    assert Database(url).engine.dialect.driver == domain.db.DEFAULT_SQLITE_DRIVER
    assert Database(url, sqlite_driver="inline").engine.dialect.driver == "inline"
    assert Database(url, sqlite_driver="aiosqlite").engine.dialect.driver == "aiosqlite"
    assert Database(url, sqlite_driver="inline").url == url  # the configured URL, for whoever reads it


async def test_the_setting_chooses_the_driver(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from runtime.bootstrap import build_unit_of_work
    from runtime.settings import Settings

    monkeypatch.setenv("TODO_AGENT_SQLITE_DRIVER", "aiosqlite")
    uow = build_unit_of_work(Settings(data_dir=tmp_path), role="web")
    try:
        assert uow.db.engine.dialect.driver == "aiosqlite"
    finally:
        await uow.db.dispose()


async def test_concurrent_writes_and_reads_from_one_loop_all_complete(uow: UnitOfWork) -> None:
    actor = await new_actor(uow)

    async def create(i: int) -> int:
        return (await create_task(uow, actor, TaskCreate(title=f"concurrent {i}"))).id

    async def listing(_: int) -> int:
        return (await list_tasks(uow, actor, TaskQuery(limit=100))).count

    async with asyncio.timeout(60):  # a deadlock guard, not a measurement
        results = await asyncio.gather(*(create(i) for i in range(20)), *(listing(i) for i in range(20)))
    assert len(set(results[:20])) == 20
    assert (await list_tasks(uow, actor, TaskQuery(limit=100))).count == 20


async def test_each_driver_passes_a_use_case_round_trip(sqlite_uow: UnitOfWork) -> None:
    actor = await new_actor(sqlite_uow)
    made = await create_task(sqlite_uow, actor, TaskCreate(title="Buy milk", tags=["home"]))
    got = await get_task(sqlite_uow, actor, made.id)
    assert (got.title, got.tags) == ("Buy milk", ["home"])
    async with sqlite_uow.db.engine.connect() as conn:  # Core on an AsyncConnection too
        assert (await conn.exec_driver_sql("SELECT count(*) FROM task")).scalar() == 1


async def test_a_write_waits_for_another_process_without_blocking_the_loop(
    sqlite_uow: UnitOfWork, monkeypatch: pytest.MonkeyPatch
) -> None:
    actor = await new_actor(sqlite_uow)
    refused: list[int] = []

    def recording(connection: Any, budget: float = 5.0) -> int:
        refused.append(begin_immediate(connection, budget))
        return refused[-1]

    monkeypatch.setattr(domain.db, "begin_immediate", recording)
    path = make_url(sqlite_uow.db.url).database
    holder = await asyncio.create_subprocess_exec(sys.executable, "-c", _HOLDER, str(path), "0.5",
                                                  stdout=asyncio.subprocess.PIPE)
    assert holder.stdout is not None
    try:
        assert (await holder.stdout.readline()).strip() == b"locked"
        async with Ticker() as ticker:
            before = ticker.ticks
            made = await create_task(sqlite_uow, actor, TaskCreate(title="after the other process"))
            during = ticker.ticks - before
        assert (await holder.stdout.readline()).strip() == b"released"  # it committed: we did not break its lock
    finally:
        await holder.wait()
    assert made.id > 0
    assert during >= 3, "the loop did not run while the write waited"
    if sqlite_uow.db.sqlite_driver == "inline":
        assert refused and refused[0] > 0  # our BEGIN IMMEDIATE was refused, slept on the loop, then got the lock


async def test_begin_immediate_gives_up_after_its_budget(tmp_path: Path) -> None:
    path = tmp_path / "busy.db"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("PRAGMA journal_mode=WAL")
    holder.execute("BEGIN IMMEDIATE")
    waiting = sqlite3.connect(path, isolation_level=None, timeout=0, check_same_thread=False)
    try:
        async with Ticker() as ticker:
            with pytest.raises(sa.exc.OperationalError, match="locked"):
                await greenlet_spawn(begin_immediate, waiting, 0.1)
            assert ticker.ticks >= 3
        holder.execute("COMMIT")
        assert await greenlet_spawn(begin_immediate, waiting, 0.1) == 0  # a free lock is taken at once
        waiting.execute("COMMIT")
    finally:
        waiting.close()
        holder.close()


async def test_two_databases_in_one_process_take_turns(sqlite_uow: UnitOfWork) -> None:
    """A second Database on the same file (its own pool and queue) waits for the first one's write transaction on
    the loop instead of deadlocking against it."""
    actor = await new_actor(sqlite_uow)
    other_db = Database(sqlite_uow.db.url, sqlite_driver=sqlite_uow.db.sqlite_driver)
    other = UnitOfWork(other_db)
    order: list[str] = []

    async def long_write() -> None:
        async with sqlite_uow.write() as tx:
            await tx.session.exec(sa.update(User).where(sa.column("id") == actor.id).values(timezone="UTC"))
            order.append("first holds the lock")
            await asyncio.sleep(0.3)
        order.append("first committed")

    async def second_write() -> None:
        await asyncio.sleep(0.05)
        await create_task(other, actor, TaskCreate(title="second"))
        order.append("second committed")

    try:
        async with asyncio.timeout(30):
            await asyncio.gather(long_write(), second_write())
    finally:
        await other_db.dispose()
    assert order == ["first holds the lock", "first committed", "second committed"]


# ------------------------------------------------------------------------------------------------- PostgreSQL


async def _transaction_status(tx: Tx) -> TransactionStatus:
    connection = await tx.session.connection()
    raw = await connection.get_raw_connection()
    driver: psycopg.AsyncConnection[Any] = raw.driver_connection  # type: ignore[assignment]
    return driver.info.transaction_status


@pytest.fixture
async def pg_uow(postgres_url: str, tmp_path: Path) -> AsyncIterator[UnitOfWork]:
    """A migrated PostgreSQL database of the test's own: nothing else connects to it."""
    async with throwaway_database("postgres", tmp_path) as db:
        yield UnitOfWork(db)


async def test_postgres_plain_reads_send_no_begin(pg_uow: UnitOfWork) -> None:
    async with pg_uow.read() as tx:
        assert (await tx.session.exec(sa.select(sa.literal(1)))).one() == (1,)
        assert await _transaction_status(tx) == TransactionStatus.IDLE  # autocommit: no transaction was opened
    async with pg_uow.read(consistent=True) as tx:
        level = (await tx.session.exec(sa.text("SHOW transaction_isolation"))).one()[0]
        assert (level, await _transaction_status(tx)) == ("repeatable read", TransactionStatus.INTRANS)
    async with pg_uow.write() as tx:
        level = (await tx.session.exec(sa.text("SHOW transaction_isolation"))).one()[0]
        assert (level, await _transaction_status(tx)) == ("read committed", TransactionStatus.INTRANS)
    async with pg_uow.read() as tx:  # the same pooled connection, handed back in autocommit again
        await tx.session.exec(sa.select(sa.literal(1)))
        assert await _transaction_status(tx) == TransactionStatus.IDLE


async def _backends(url: str) -> set[int]:
    libpq = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    async with await psycopg.AsyncConnection.connect(libpq, autocommit=True) as conn:
        query = "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        rows = await (await conn.execute(query)).fetchall()
        return {int(row[0]) for row in rows}


async def _terminate(url: str, pids: set[int]) -> None:
    libpq = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    async with await psycopg.AsyncConnection.connect(libpq, autocommit=True) as conn:
        for pid in pids:
            await conn.execute("SELECT pg_terminate_backend(%s)", [pid])
    async with asyncio.timeout(10):
        while await _backends(url) & pids:
            await asyncio.sleep(0.02)


async def test_postgres_use_cases_survive_a_terminated_connection(pg_uow: UnitOfWork) -> None:
    assert not pg_uow.db.engine.pool._pre_ping  # type: ignore[attr-defined]
    actor = await new_actor(pg_uow)
    await create_task(pg_uow, actor, TaskCreate(title="before"))
    ours = await _backends(pg_uow.db.url)
    assert ours
    await _terminate(pg_uow.db.url, ours)
    assert (await get_user(pg_uow, user_id=actor.id)).id == actor.id  # a read, on a new connection
    await _terminate(pg_uow.db.url, await _backends(pg_uow.db.url))
    assert (await create_task(pg_uow, actor, TaskCreate(title="after"))).title == "after"  # and a write
    assert not (await _backends(pg_uow.db.url)) & ours


async def test_a_write_waiting_too_long_for_its_turn_fails_instead_of_hanging(
    sqlite_uow: UnitOfWork, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A write transaction opened while this process's other one is still open (here: nested, which can never
    proceed) fails after the busy budget, as a wait for SQLite's lock would, instead of queueing forever."""
    monkeypatch.setattr(domain.db, "BUSY_BUDGET_SECONDS", 0.1)
    actor = await new_actor(sqlite_uow)
    async with asyncio.timeout(30):
        async with sqlite_uow.write():
            with pytest.raises(sa.exc.OperationalError, match="turn to write"):
                await create_task(sqlite_uow, actor, TaskCreate(title="nested"))
    assert (await create_task(sqlite_uow, actor, TaskCreate(title="afterwards"))).title == "afterwards"
