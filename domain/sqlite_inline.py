"""SQLite for the async engine without a thread: the "inline" driver (`sqlite+inline://`).

SQLAlchemy's asyncio layer runs every ORM/Core operation inside a greenlet and lets an async dialect's DBAPI adapter
hand each statement to the event loop (aiosqlite then passes it to its own thread and back: two loop wake-ups per
execute/fetch). This dialect is flagged async, so `create_async_engine` and `AsyncSession` work unchanged, but its
DBAPI is the standard `sqlite3` module called directly: a statement runs synchronously on the loop's thread with no
hand-off at all. The trade: a long statement blocks the loop for its duration; writes never wait on SQLite's busy
handler on the loop (`begin_immediate` retries with `asyncio.sleep`, and Database serializes in-process writers).
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from types import ModuleType
from typing import Any

from sqlalchemy import exc, pool
from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite
from sqlalchemy.engine.url import URL
from sqlalchemy.util import await_

BUSY_BUDGET_SECONDS = 5.0  # how long a write waits for another process's write lock before failing

_FIRST_DELAY = 0.001
_MAX_DELAY = 0.05


class DatabaseBusy(exc.OperationalError):
    """A write waited its whole budget for SQLite's write lock (or this process's turn to write) and gave up:
    nothing was written, and the same request may succeed in a moment (REST answers 503 with Retry-After)."""


class InlineCursor(sqlite3.Cursor):
    async def _async_soft_close(self) -> None:
        """What AsyncConnection.execute calls before handing a result back (an async driver closes its cursor,
        keeping the rows it buffered): sqlite3 reads the remaining rows on this thread whenever asked, so nothing."""


class InlineConnection(sqlite3.Connection):
    def cursor(self, factory: Any = InlineCursor) -> Any:
        return super().cursor(factory)


class SQLiteDialect_inline(SQLiteDialect_pysqlite):  # noqa: N801 (SQLAlchemy's dialect naming)
    """pysqlite's dialect, declared async so the asyncio extension accepts it; statements run on the caller's thread."""

    driver = "inline"
    is_async = True
    supports_statement_cache = True
    has_terminate = False

    @classmethod
    def import_dbapi(cls) -> ModuleType:
        return sqlite3

    @classmethod
    def get_pool_class(cls, url: URL) -> type[pool.Pool]:
        # the asyncio-aware queue pool (waits for a free connection with await) for files, one shared connection
        # for a memory database (as aiosqlite's dialect does)
        return pool.AsyncAdaptedQueuePool if cls._is_url_file_db(url) else pool.StaticPool

    def connect(self, *cargs: Any, **cparams: Any) -> Any:
        cparams.setdefault("factory", InlineConnection)
        return super().connect(*cargs, **cparams)

    def get_driver_connection(self, connection: Any) -> Any:
        return connection

    # AsyncConnection.execute/exec_driver_sql insist that the statement awaited something (a check against sync
    # drivers): after each statement, await a coroutine that is already done. It switches greenlets, never the loop.
    def do_execute(self, cursor: Any, statement: str, parameters: Any, context: Any = None) -> None:  # noqa: ARG002
        cursor.execute(statement, parameters)
        await_(_done())

    def do_execute_no_params(self, cursor: Any, statement: str, context: Any = None) -> None:  # noqa: ARG002
        cursor.execute(statement)
        await_(_done())

    def do_executemany(self, cursor: Any, statement: str, parameters: Any, context: Any = None) -> None:  # noqa: ARG002
        cursor.executemany(statement, parameters)
        await_(_done())


async def _done() -> None:
    return None


class BusyCount:
    """This process's BEGIN IMMEDIATE attempts refused as busy and retried (for benchmarks and diagnostics)."""

    refused = 0


def is_busy(error: sqlite3.Error) -> bool:
    """SQLITE_BUSY or one of its extended codes: another connection holds the lock."""
    code = getattr(error, "sqlite_errorcode", None)
    return code is not None and code & 0xFF == sqlite3.SQLITE_BUSY


def begin_immediate(dbapi_connection: sqlite3.Connection, budget: float = BUSY_BUDGET_SECONDS) -> int:
    """BEGIN IMMEDIATE on a connection whose busy_timeout is 0, from inside SQLAlchemy's greenlet: while another
    connection (another process, or another Database in this one) holds the write lock, sleep on the event loop with
    a growing backoff and try again, for up to `budget` seconds; then raise OperationalError ("database is locked").
    Returns how many attempts were refused (0 when the lock was free)."""
    deadline = time.monotonic() + budget
    delay = _FIRST_DELAY
    refused = 0
    while True:
        try:
            dbapi_connection.execute("BEGIN IMMEDIATE")
            return refused
        except sqlite3.OperationalError as error:
            remaining = deadline - time.monotonic()
            if not is_busy(error):
                raise exc.OperationalError("BEGIN IMMEDIATE", None, error) from error
            if remaining <= 0:
                raise DatabaseBusy("BEGIN IMMEDIATE", None, error) from error
        refused += 1
        BusyCount.refused += 1
        await_(asyncio.sleep(min(delay, remaining)))
        delay = min(delay * 2, _MAX_DELAY)
