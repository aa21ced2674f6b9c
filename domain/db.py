"""Async database engines: SQLite (WAL, BEGIN IMMEDIATE for writes) and PostgreSQL, same code.

SQLite runs on one of two drivers (`sqlite_driver`): "inline" (domain.sqlite_inline: sqlite3 called on the event
loop's thread, no per-statement thread hop; busy_timeout 0, a busy write lock is waited for with asyncio.sleep) or
"aiosqlite" (a thread per connection; busy_timeout 5 s in that thread). Either way write transactions of one process
take an asyncio lock before BEGIN IMMEDIATE, so they queue on the loop instead of on SQLite's lock.

PostgreSQL: no pre-ping round trip per checkout; a checkout instead polls the idle connection's socket (a server that
ended the session has sent its FATAL notice or closed the socket) and replaces a dead connection, and a disconnect
met by a statement invalidates the pool's older connections. Plain reads run in autocommit (no BEGIN/COMMIT).
"""

from __future__ import annotations

import asyncio
import os
import select
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import event, exc
from sqlalchemy.dialects import registry
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.caller_cache import CallerCache
from domain.sqlite_inline import BUSY_BUDGET_SECONDS, DatabaseBusy, begin_immediate

registry.register("sqlite.inline", "domain.sqlite_inline", "SQLiteDialect_inline")

SqliteDriver = Literal["inline", "aiosqlite"]
DEFAULT_SQLITE_DRIVER: SqliteDriver = "inline"  # measured faster: bench/sqlite_driver.py
PG_POOL_RECYCLE_SECONDS = 1800


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


class WriteGate:
    """One asyncio.Lock per event loop (a Database may serve several loops, e.g. a test's and a TestClient's)."""

    def __init__(self) -> None:
        self._locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = weakref.WeakKeyDictionary()

    def lock(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        found = self._locks.get(loop)
        if found is None:
            found = self._locks[loop] = asyncio.Lock()
        return found


class WriteSession(AsyncSession):
    """A session for write transactions: entering it (`async with db.writer() as session`) waits for the process's
    turn to write on SQLite before any BEGIN (up to the busy budget, then DatabaseBusy, as SQLite's own lock
    would); leaving it gives the turn back (`gate` None: no queueing, PostgreSQL)."""

    def __init__(self, *args: Any, gate: WriteGate | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._gate = gate
        self._gate_lock: asyncio.Lock | None = None

    async def __aenter__(self) -> WriteSession:
        if self._gate is not None:
            lock = self._gate.lock()
            try:
                async with asyncio.timeout(BUSY_BUDGET_SECONDS):  # as long as a write waits for SQLite's own lock
                    await lock.acquire()
            except TimeoutError:
                error = TimeoutError(f"waited {BUSY_BUDGET_SECONDS:g} s for this process's turn to write")
                raise DatabaseBusy("BEGIN IMMEDIATE", None, error) from None
            self._gate_lock = lock
        try:
            await super().__aenter__()
        except BaseException:
            self._release()
            raise
        return self

    async def __aexit__(self, type_: Any, value: Any, traceback: Any) -> None:
        try:
            await super().__aexit__(type_, value, traceback)
        finally:
            self._release()

    def _release(self) -> None:
        lock, self._gate_lock = self._gate_lock, None
        if lock is not None:
            lock.release()


class Database:
    """One engine and session makers: `reader` for queries (autocommit on PostgreSQL), `snapshot_reader` for
    queries that must see one snapshot, `writer` for write transactions (immediate and queued on SQLite)."""

    def __init__(self, url: str, *, echo: bool = False, pool_size: int = 10,
                 sqlite_driver: SqliteDriver | None = None) -> None:
        self.url = url
        self.sqlite = is_sqlite(url)
        sqlite_driver = sqlite_driver or DEFAULT_SQLITE_DRIVER
        self.sqlite_driver: SqliteDriver | None = sqlite_driver if self.sqlite else None
        kwargs: dict[str, Any] = {"echo": echo}
        engine_url: Any = url
        if self.sqlite:
            engine_url = make_url(url).set(drivername=f"sqlite+{sqlite_driver}")
            # inline: never wait on the loop's thread for a lock (begin_immediate retries asynchronously)
            kwargs["connect_args"] = {"timeout": 0.0, "check_same_thread": False} if sqlite_driver == "inline" \
                else {"timeout": BUSY_BUDGET_SECONDS}
        else:
            kwargs.update(pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=False,
                          pool_recycle=PG_POOL_RECYCLE_SECONDS)
        self.engine: AsyncEngine = create_async_engine(engine_url, **kwargs)
        gate = None
        if self.sqlite:
            _configure_sqlite(self.engine, url, inline=sqlite_driver == "inline")
            gate = WriteGate()
            read_engine = snapshot_engine = self.engine
        else:
            _configure_postgres(self.engine)
            read_engine = self.engine.execution_options(isolation_level="AUTOCOMMIT")
            snapshot_engine = self.engine.execution_options(isolation_level="REPEATABLE READ")
        write_engine = self.engine.execution_options(immediate=True)
        self.reader = async_sessionmaker(read_engine, class_=AsyncSession, expire_on_commit=False)
        self.snapshot_reader = async_sessionmaker(snapshot_engine, class_=AsyncSession, expire_on_commit=False)
        self.writer: async_sessionmaker[AsyncSession] = async_sessionmaker(
            write_engine, class_=WriteSession, expire_on_commit=False, gate=gate)
        # Called after each commit through this database that wrote outbox rows (UnitOfWork.write), by whichever
        # unit of work made it: the process's relay registers its wake-up here once.
        self.events_committed: list[Callable[[], None]] = []
        self.callers = CallerCache()  # verified bearer callers of this process (runtime.bootstrap sets the TTL)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    async def dispose(self) -> None:
        await self.engine.dispose()


def _configure_sqlite(engine: AsyncEngine, url: str, *, inline: bool) -> None:
    busy_ms = 0 if inline else int(BUSY_BUDGET_SECONDS * 1000)

    @event.listens_for(engine.sync_engine, "do_connect")
    def _before_connect(_dialect: Any, _record: Any, _args: Any, _kwargs: Any) -> None:
        create_private_sqlite_file(url)  # before SQLite creates it with the umask's mode

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control from the driver so writes can BEGIN IMMEDIATE (no upgrade deadlocks).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        immediate = conn.get_execution_options().get("immediate", False)
        if immediate and inline:
            begin_immediate(conn.connection.dbapi_connection)  # type: ignore[arg-type]
        else:
            conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def _configure_postgres(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "checkout")
    def _on_checkout(_dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        if not connection_alive(record.driver_connection):
            raise exc.DisconnectionError("the server closed the connection")  # the pool connects again


def connection_alive(connection: Any) -> bool:
    """Whether an idle psycopg connection still looks usable, without a round trip: it is not closed and its socket
    has nothing to read (an idle session receives nothing unless the server is ending it, e.g. pg_terminate_backend
    or a restart: a FATAL notice, then end of file)."""
    if connection is None or connection.closed:
        return False
    try:
        fd = connection.pgconn.socket
    except Exception:  # noqa: BLE001 (psycopg raises OperationalError on a bad connection)
        return False
    if hasattr(select, "poll"):
        poller = select.poll()
        poller.register(fd, select.POLLIN | select.POLLERR | select.POLLHUP)
        return not poller.poll(0)
    readable, _, broken = select.select([fd], [], [fd], 0)
    return not readable and not broken
