"""Retention: sent outbox rows and idempotency records older than the retention period are pruned."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

import sqlalchemy as sa
from sqlmodel import col

from domain.models import IdempotencyRecord
from domain.outbox import prune_outbox
from domain.uow import UnitOfWork

logger = logging.getLogger(__name__)


async def prune(uow: UnitOfWork, older_than: timedelta) -> dict[str, int]:
    """Delete what has outlived the retention period; returns how many rows of each kind went."""
    outbox = await prune_outbox(uow, older_than)
    async with uow.write() as tx:
        result = await tx.session.exec(
            sa.delete(IdempotencyRecord).where(col(IdempotencyRecord.created_at) < tx.now - older_than)
        )
    return {"outbox": outbox, "idempotency": int(result.rowcount or 0)}


async def run_retention(uow: UnitOfWork, older_than: timedelta, *, every: float = 3600.0) -> None:
    """Prune now and then every `every` seconds, until cancelled."""
    while True:
        try:
            pruned = await prune(uow, older_than)
            if any(pruned.values()):
                logger.info("retention pruned %s", pruned)
        except Exception:
            logger.exception("retention pass failed; will retry")
        await asyncio.sleep(every)
