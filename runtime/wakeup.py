"""Waking the relay across processes on PostgreSQL: a transaction that writes outbox rows sends `NOTIFY`, and the
relay's process `LISTEN`s, so an event written by another process (a service, the stdio MCP server) is relayed
at once instead of at the relay's next poll. SQLite has no such channel: there the poll remains."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from sqlalchemy.engine import make_url

from domain.uow import OUTBOX_CHANNEL as CHANNEL

logger = logging.getLogger(__name__)

RETRY_SECONDS = (0.5, 30.0)  # first and longest wait before listening again after the connection failed


def libpq_url(url: str) -> str:
    """The SQLAlchemy URL (postgresql+psycopg://...) as libpq takes it."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def listen_for_outbox(url: str, wake: Callable[[], None]) -> None:
    """Call `wake` on every outbox notification until cancelled; reconnects (and wakes once) after a failure."""
    import psycopg  # only PostgreSQL deployments listen

    delay = RETRY_SECONDS[0]
    while True:
        try:
            async with await psycopg.AsyncConnection.connect(libpq_url(url), autocommit=True) as conn:
                await conn.execute(f"LISTEN {CHANNEL}")
                delay = RETRY_SECONDS[0]
                wake()  # rows may have been written while nobody listened
                async for _ in conn.notifies():
                    wake()
        except psycopg.Error as exc:
            logger.warning("outbox listener: %s; listening again in %.1f s", exc, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, RETRY_SECONDS[1])
