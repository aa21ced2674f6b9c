"""Waiting for an asyncio task to end even while we are being cancelled (the lease's work, the relay's bookkeeping)."""

from __future__ import annotations

import asyncio


async def wait_through_cancellation(task: asyncio.Future[None]) -> asyncio.CancelledError | None:
    """Wait until `task` is done, however often we are cancelled meanwhile; the cancellation we got, if any, for the
    caller to raise once it has dealt with the task."""
    interrupted: asyncio.CancelledError | None = None
    while not task.done():
        try:
            await asyncio.wait({task})
        except asyncio.CancelledError as exc:
            interrupted = exc
    return interrupted
