"""SQL helpers the services share: deletes by condition (row locks and dialect INSERTs are on domain.uow.Tx)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from domain.uow import Tx


async def delete_where(tx: Tx, table: type[Any], *conditions: sa.ColumnElement[bool]) -> int:
    """Delete the rows of `table` matching every condition; returns how many."""
    result = await tx.session.exec(sa.delete(table).where(*conditions))
    return int(result.rowcount or 0)
