"""SQL helpers the services share: row locks on PostgreSQL, deletes, and joining an open transaction."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import sqlalchemy as sa

from domain.uow import Tx, UnitOfWork

S = TypeVar("S", bound=sa.Select[Any])


def for_update(tx: Tx, stmt: S, *, read: bool = False, skip_locked: bool = False) -> S:
    """Lock the selected rows on PostgreSQL (SQLite's write transactions are serial already)."""
    if dialect(tx) == "postgresql":
        return stmt.with_for_update(read=read, skip_locked=skip_locked)
    return stmt


def dialect(tx: Tx) -> str:
    """The name of the transaction's database dialect."""
    bind = tx.session.bind
    return bind.dialect.name if bind is not None else "sqlite"


class TxUnitOfWork(UnitOfWork):
    """A unit of work whose transactions are one already open: lets a use case join the delivering transaction."""

    def __init__(self, outer: UnitOfWork, tx: Tx) -> None:
        super().__init__(outer.db, outer.clock, source=outer.source)
        self._tx = tx

    @asynccontextmanager
    async def write(self) -> AsyncIterator[Tx]:
        """The open transaction itself (committed or rolled back by its owner)."""
        yield self._tx

    @asynccontextmanager
    async def read(self) -> AsyncIterator[Tx]:
        """The open transaction itself."""
        yield self._tx


async def delete_where(tx: Tx, table: type[Any], *conditions: sa.ColumnElement[bool]) -> int:
    """Delete the rows of `table` matching every condition; returns how many."""
    result = await tx.session.exec(sa.delete(table).where(*conditions))
    return int(result.rowcount or 0)
