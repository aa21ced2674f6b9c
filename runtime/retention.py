"""Retention: sent outbox rows, idempotency records, ended login sessions and what other packages register (inbox
rows, read notifications, ...) are pruned once older than the retention period."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from datetime import timedelta

import sqlalchemy as sa
from sqlmodel import col

from domain.models import AuthSession, IdempotencyRecord
from domain.ports import Pruner
from domain.uow import UnitOfWork
from domain.usecases import prune_outbox

logger = logging.getLogger(__name__)



async def prune(uow: UnitOfWork, older_than: timedelta, extra: Mapping[str, Pruner] | None = None) -> dict[str, int]:
    """Delete what has outlived the retention period; returns how many rows of each kind went."""
    outbox = await prune_outbox(uow, older_than)
    async with uow.write() as tx:
        cutoff = tx.now - older_than
        result = await tx.session.exec(sa.delete(IdempotencyRecord).where(col(IdempotencyRecord.created_at) < cutoff))
        # A session ended (revoked or past its maximum age) before the cutoff can never be used again.
        ended = await tx.session.exec(sa.delete(AuthSession).where(
            sa.or_(col(AuthSession.revoked_at) < cutoff, col(AuthSession.expires_at) < cutoff)))
    pruned = {"outbox": outbox, "idempotency": int(result.rowcount or 0), "sessions": int(ended.rowcount or 0)}
    for name, pruner in (extra or {}).items():
        async with uow.write() as tx:  # one short transaction per kind
            pruned[name] = await pruner(tx, tx.now - older_than)
    return pruned


async def run_retention(
    uow: UnitOfWork, older_than: timedelta, *, every: float = 3600.0, extra: Mapping[str, Pruner] | None = None
) -> None:
    """Prune now and then every `every` seconds, until cancelled."""
    while True:
        try:
            pruned = await prune(uow, older_than, extra)
            if any(pruned.values()):
                logger.info("retention pruned %s", pruned)
        except Exception:
            logger.exception("retention pass failed; will retry")
        await asyncio.sleep(every)
