"""The runtime lease: which one of the processes sharing a database runs the relay, the services and the scheduler.

One row per lease name. A holder renews it every `renew_every` seconds for `ttl` seconds; anyone may take it once
it has expired. Each acquisition increments `epoch`, a fencing token. A higher-priority process that finds it held
by a lower-priority one writes a request on the row (`wanted_by`); the holder sees it at its next renewal, stops
its work, then releases, and the lease stays reserved for the requester for one ttl, so there is never more than
one holder and nobody else slips in between.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import KW_ONLY, dataclass, field
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from domain.models import Lease
from domain.uow import Tx, UnitOfWork
from runtime.tasks import wait_through_cancellation

logger = logging.getLogger(__name__)

# The one table of lease priorities: when processes share a database, the highest priority leads (runs the relay).
PRIORITY_WEB = 10  # the web host (`todo-agent serve`)
PRIORITY_CLIENT = 5  # the stdio MCP server and the terminal chat
PRIORITY_SERVICE = 1  # a service process: below the web host and the clients, it leads only when they are gone


@dataclass(eq=False)
class LeaseKeeper:
    """Takes, renews and releases one named lease; `held` and `epoch` describe our current hold."""

    uow: UnitOfWork
    name: str = "runtime"
    _: KW_ONLY
    holder: str
    priority: int = 0
    ttl: float = 15.0  # seconds a hold lasts without a renewal
    renew_every: float = 5.0
    held: bool = field(default=False, init=False)
    epoch: int = field(default=0, init=False)

    async def try_acquire(self) -> bool:
        """Take the lease if it is free, expired or ours (renewing it if held); else ask a lower-priority holder."""
        if self.held:
            return await self.renew()
        epoch: int | None = None
        try:
            async with self.uow.write() as tx:
                epoch = await self._take(tx)
                if epoch is None:
                    epoch = await self._create_or_request(tx)
        except IntegrityError:
            epoch = None  # another process created the row at the same moment: it holds the lease
        if epoch is not None:
            self.held, self.epoch = True, epoch
            logger.info("lease %s taken by %s (epoch %d)", self.name, self.holder, epoch)
        return self.held

    async def renew(self) -> bool:
        """Extend our hold by ttl; False if someone else holds it or a higher-priority process asked for it."""
        # After a False caused by a request we still hold the row: the caller stops its work, then release()s.
        if self.epoch == 0:
            return False
        async with self.uow.write() as tx:
            stmt = (
                sa.update(Lease)
                .where(*self._ours(), sa.not_(self._requested_by_other()))
                .values(expires_at=tx.now + timedelta(seconds=self.ttl))
            )
            self.held = (await tx.session.exec(stmt)).rowcount == 1
        return self.held

    async def release(self) -> None:
        """Give the lease up now (clean exit, or yielding to a request), if we still hold it."""
        if self.epoch == 0:
            return
        async with self.uow.write() as tx:
            live = col(Lease.expires_at) > tx.now
            stmt = sa.update(Lease).where(*self._ours(), live).values(expires_at=tx.now)
            released = (await tx.session.exec(stmt)).rowcount == 1
        self.held = False
        if released:
            logger.info("lease %s released by %s (epoch %d)", self.name, self.holder, self.epoch)

    async def still_held(self) -> bool:
        """Whether the database still shows our hold (same epoch, not expired): a fence for the relay."""
        if not self.held:
            return False
        async with self.uow.read() as tx:
            row = (await tx.session.exec(select(Lease).where(Lease.name == self.name))).first()
            now = tx.now
        return row is not None and row.holder == self.holder and row.epoch == self.epoch and row.expires_at > now

    async def run_while_leader(self, work: Callable[[], Awaitable[None]]) -> None:
        """Run `work` whenever we hold the lease and cancel it as soon as the hold is lost; release on exit."""
        try:
            while True:
                if await self._in_time(self.try_acquire, "acquire") and await self._lead(work):
                    return
                await asyncio.sleep(self.renew_every)
        finally:
            await self._release_quietly()

    async def _lead(self, work: Callable[[], Awaitable[None]]) -> bool:
        """Run work while renewals succeed; True if the work ended by itself (its error propagates)."""
        task: asyncio.Future[None] = asyncio.ensure_future(work())
        try:
            while not task.done():
                await asyncio.wait({task}, timeout=self.renew_every)
                if not task.done() and not await self._in_time(self.renew, "renew"):
                    logger.warning("lease %s: %s stops its work (epoch %d)", self.name, self.holder, self.epoch)
                    break
        finally:
            await _cancel_and_wait(task)
            await self._release_quietly()  # only after the work has stopped: never two holders at once
        if task.cancelled():
            return False
        task.result()
        return True

    async def _in_time(self, step: Callable[[], Awaitable[bool]], what: str) -> bool:
        # A step that cannot finish within ttl/3 counts as a loss: the work must stop before the lease expires.
        try:
            async with asyncio.timeout(self.ttl / 3):
                return await step()
        except Exception as exc:
            logger.warning("lease %s: %s by %s failed (%r); not holding it", self.name, what, self.holder, exc)
            self.held = False
            return False

    async def _release_quietly(self) -> None:
        try:
            async with asyncio.timeout(self.ttl / 3):
                await self.release()
        except Exception as exc:  # the lease then simply expires after ttl
            logger.warning("lease %s: release by %s failed (%r)", self.name, self.holder, exc)
            self.held = False

    def _ours(self) -> tuple[sa.ColumnElement[bool], ...]:
        return col(Lease.name) == self.name, col(Lease.holder) == self.holder, col(Lease.epoch) == self.epoch

    def _requested_by_other(self) -> sa.ColumnElement[bool]:
        """A request on the row by a process of higher priority than ours (wanted_by IS NULL makes it false)."""
        return sa.and_(
            col(Lease.wanted_by).is_not(None),
            col(Lease.wanted_by) != self.holder,
            col(Lease.wanted_priority) > self.priority,
        )

    async def _take(self, tx: Tx) -> int | None:
        """Take the row if it is ours or expired and not reserved for someone above us; the new epoch or None."""
        expires = col(Lease.expires_at)
        reserved = sa.and_(self._requested_by_other(), expires > tx.now - timedelta(seconds=self.ttl))
        stmt = (
            sa.update(Lease)
            .where(col(Lease.name) == self.name, sa.or_(col(Lease.holder) == self.holder, expires <= tx.now))
            .where(sa.not_(reserved))
            .values(
                holder=self.holder, priority=self.priority, epoch=col(Lease.epoch) + 1,
                expires_at=tx.now + timedelta(seconds=self.ttl), wanted_by=None, wanted_priority=0,
            )
        )
        if (await tx.session.exec(stmt)).rowcount != 1:
            return None
        return (await tx.session.exec(select(Lease.epoch).where(Lease.name == self.name))).one()

    async def _create_or_request(self, tx: Tx) -> int | None:
        """Create the first row (epoch 1), or ask a live lower-priority holder to yield; the epoch if created."""
        row = (await tx.session.exec(select(Lease).where(Lease.name == self.name))).first()
        if row is None:
            expires_at = tx.now + timedelta(seconds=self.ttl)
            tx.session.add(Lease(name=self.name, holder=self.holder, priority=self.priority, epoch=1,
                                 expires_at=expires_at))
            await tx.session.flush()  # IntegrityError if another process inserted it first
            return 1
        outranked = row.wanted_by not in (None, self.holder) and row.wanted_priority >= self.priority
        if row.priority < self.priority and row.expires_at > tx.now and not outranked:
            stmt = sa.update(Lease).where(
                col(Lease.name) == self.name, col(Lease.holder) == row.holder, col(Lease.epoch) == row.epoch
            )
            await tx.session.exec(stmt.values(wanted_by=self.holder, wanted_priority=self.priority))
            if row.wanted_by != self.holder:
                logger.info("lease %s: %s asks %s to yield", self.name, self.holder, row.holder)
        return None


async def _cancel_and_wait(task: asyncio.Future[None]) -> None:
    """Cancel `task` and wait until it has really stopped, even if we are cancelled meanwhile."""
    task.cancel()
    if (interrupted := await wait_through_cancellation(task)) is not None:
        raise interrupted
