"""Two real processes share one SQLite file: only the lease holder relays, and the other takes over when it dies."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlmodel import col, select

from domain.db import Database
from domain.models import Lease, OutboxEvent
from domain.schemas import TaskCreate
from domain.uow import UnitOfWork
from domain.usecases import Actor, create_task, create_user, outbox_status
from runtime.migrate import upgrade
from tests.infra import sqlite_url

ROOT = Path(__file__).resolve().parents[2]
TTL = 1.0
RENEW = 0.2


class Worker:
    """One relay_worker process and the files it writes."""

    def __init__(self, tmp: Path, url: str, holder: str) -> None:
        self.holder = holder
        self.log = tmp / f"{holder}.log"
        self.stderr = tmp / f"{holder}.stderr"
        command = [sys.executable, "-m", "tests.integration.relay_worker", "--db", url, "--holder", holder,
                   "--log", str(self.log), "--ttl", str(TTL), "--renew", str(RENEW)]
        with self.stderr.open("w") as err:
            self.process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=err)

    @property
    def ready(self) -> bool:
        return Path(f"{self.log}.ready").exists()

    def sent(self) -> list[str]:
        """Event ids in the log, in order (each line must name this holder)."""
        lines = self.log.read_text().splitlines() if self.log.exists() else []
        assert all(line.split()[1] == self.holder for line in lines)
        return [line.split()[0] for line in lines]

    def diagnostics(self) -> str:
        return f"--- {self.holder} stderr:\n{self.stderr.read_text()}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=10)


async def eventually(condition: Callable[[], object], seconds: float, why: Callable[[], str]) -> None:
    deadline = time.monotonic() + seconds
    while not await _holds(condition):
        if time.monotonic() > deadline:
            pytest.fail(f"not within {seconds}s\n{why()}")
        await asyncio.sleep(0.05)


async def _holds(condition: Callable[[], object]) -> bool:
    result = condition()
    if asyncio.iscoroutine(result):
        result = await result
    return bool(result)


async def make_events(uow: UnitOfWork, actor: Actor, n: int) -> list[str]:
    """Create n tasks from this (third) process; the ids of their events."""
    before = set(await all_event_ids(uow))
    for i in range(n):
        await create_task(uow, actor, TaskCreate(title=f"task {i}"))
    return [e for e in await all_event_ids(uow) if e not in before]


async def all_event_ids(uow: UnitOfWork) -> list[str]:
    async with uow.read() as tx:
        return list((await tx.session.exec(select(OutboxEvent.event_id).order_by(col(OutboxEvent.seq)))).all())


async def lease(uow: UnitOfWork) -> Lease | None:
    async with uow.read() as tx:
        return (await tx.session.exec(select(Lease).where(Lease.name == "runtime"))).first()


async def live_holder(uow: UnitOfWork) -> str | None:
    row = await lease(uow)
    return row.holder if row is not None and row.expires_at > uow.clock.now() else None


@pytest.mark.slow
async def test_only_the_lease_holder_relays_and_the_other_process_takes_over_when_it_is_killed(
    tmp_path: Path,
) -> None:
    url = sqlite_url(tmp_path / "shared.db")
    await asyncio.to_thread(upgrade, url)
    db = Database(url)
    uow = UnitOfWork(db)
    workers = {name: Worker(tmp_path, url, name) for name in ("alpha", "beta")}

    def why() -> str:
        return "\n".join(w.diagnostics() for w in workers.values())

    try:
        user = await create_user(uow, f"two-{uuid.uuid4().hex[:8]}@example.com")
        actor = Actor(id=user.id)
        await eventually(lambda: all(w.ready for w in workers.values()) and live_holder(uow), 30, why)
        holder = workers[str(await live_holder(uow)).partition(":")[0]]  # the bootstrap's `role:host:pid:suffix`
        [other] = [w for w in workers.values() if w is not holder]

        first = await make_events(uow, actor, 5)
        await eventually(lambda: holder.sent() == first and _drained(uow), 10, why)
        assert other.sent() == []

        os.kill(holder.process.pid, signal.SIGKILL)
        holder.process.wait(timeout=10)
        killed_at = time.monotonic()
        second = await make_events(uow, actor, 5)
        await eventually(lambda: other.sent() == second and _drained(uow), TTL + 4, why)
        assert time.monotonic() - killed_at < TTL + 3

        delivered = Counter(holder.sent() + other.sent())
        assert set(delivered) == set(await all_event_ids(uow)) == set(first + second)
        assert set(delivered.values()) == {1}

        other.process.send_signal(signal.SIGTERM)  # a clean exit releases the lease
        assert other.process.wait(timeout=10) == 0, why()
        assert await live_holder(uow) is None
    finally:
        for worker in workers.values():
            worker.stop()
        await db.dispose()


async def _drained(uow: UnitOfWork) -> bool:
    return (await outbox_status(uow)).pending == 0
