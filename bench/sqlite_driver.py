"""SQLite's two drivers side by side: "inline" (sqlite3 on the loop's thread) and "aiosqlite" (a thread per connection).

`python -m bench.sqlite_driver [--quick]` (or `run(ctx)` from the bench runner) loads 10,000 tasks of one user into
one SQLite file, opens it through a Database per driver, and measures the same use cases (get_task, a filtered
list_tasks, create_task) interleaved call by call: latency p50/p99 and this process's CPU per call (every thread,
so aiosqlite's own threads count). Then: the event loop's lag while each driver answers lists (what an inline query
costs the loop), 20 concurrent creates + 20 lists from one loop, and two processes creating at once (the busy retry).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from bench.datasets import SEED, DatasetSpec, load_dataset, new_task
from bench.harness import Backend, RunContext, SqlRecorder, _migrate, load_average, ms, percentile, table
from domain.db import Database, SqliteDriver
from domain.schemas import TaskCreate, TaskQuery
from domain.sqlite_inline import BusyCount
from domain.uow import UnitOfWork
from domain.usecases import Actor, create_task, get_task, list_tasks

DRIVERS: list[SqliteDriver] = ["inline", "aiosqlite"]
Call = Callable[[int], Awaitable[Any]]


class Sampled:
    """Wall and CPU time of each call, in ms."""

    def __init__(self) -> None:
        self.wall: list[float] = []
        self.cpu: list[float] = []

    def row(self) -> tuple[float, float, float]:
        wall = sorted(self.wall)
        return percentile(wall, 50), percentile(wall, 99), statistics.fmean(self.cpu)


async def _interleaved(calls: dict[tuple[str, str], Call], n: int, warmup: int) -> dict[tuple[str, str], Sampled]:
    for call in calls.values():
        for i in range(warmup):
            await call(i)
    out = {key: Sampled() for key in calls}
    for r in range(n):
        for key, call in calls.items():
            c0, t0 = time.process_time(), time.perf_counter()
            await call(warmup + r)
            t1, c1 = time.perf_counter(), time.process_time()
            out[key].wall.append((t1 - t0) * 1e3)
            out[key].cpu.append((c1 - c0) * 1e3)
    return out


async def _loop_lag(work: Call, calls: int) -> tuple[float, float]:
    """p99 and max lateness (ms) of a 1 ms ticker while `calls` calls of `work` run four at a time."""
    late: list[float] = []
    done = asyncio.Event()

    async def ticker() -> None:
        while not done.is_set():
            t0 = time.perf_counter()
            await asyncio.sleep(0.001)
            late.append(max(0.0, (time.perf_counter() - t0) * 1e3 - 1.0))

    tick = asyncio.create_task(ticker())
    for start in range(0, calls, 4):
        await asyncio.gather(*(work(i) for i in range(start, min(calls, start + 4))))
    done.set()
    await tick
    late.sort()
    return percentile(late, 99), late[-1]


async def _burst(uow: UnitOfWork, actor: Actor, query: TaskQuery) -> tuple[float, int]:
    """20 creates and 20 lists at once from this loop: wall ms, how many completed."""
    t0 = time.perf_counter()
    async with asyncio.timeout(60):
        results = await asyncio.gather(
            *(create_task(uow, actor, TaskCreate(title=f"burst {i}")) for i in range(20)),
            *(list_tasks(uow, actor, query) for _ in range(20)))
    return (time.perf_counter() - t0) * 1e3, len(results)


_CHILD = """
import asyncio, sys
from domain.db import Database
from domain.schemas import TaskCreate
from domain.uow import UnitOfWork
from domain.usecases import Actor, create_task
async def main(url, driver, user_id, n):
    db = Database(url, sqlite_driver=driver)
    uow = UnitOfWork(db)
    await create_task(uow, Actor(id=user_id), TaskCreate(title="child warm-up"))
    print("ready", flush=True)
    for i in range(n):
        await create_task(uow, Actor(id=user_id), TaskCreate(title=f"child {i}"))
    await db.dispose()
asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])))
"""


async def _two_processes(url: str, driver: SqliteDriver, uow: UnitOfWork, actor: Actor, n: int) -> tuple[float, str]:
    """This process and a child create `n` tasks each at the same time on the same file (from the child's first
    commit on): wall ms, outcome."""
    refused0 = BusyCount.refused
    t0 = time.perf_counter()
    child = await asyncio.create_subprocess_exec(sys.executable, "-c", _CHILD, url, driver, str(actor.id), str(n),
                                                 stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    assert child.stdout is not None
    await child.stdout.readline()  # "ready" (or end of file if it failed): from now on both processes write
    errors: list[BaseException] = []
    for i in range(n):
        try:
            await create_task(uow, actor, TaskCreate(title=f"parent {i}"))
        except Exception as error:  # noqa: BLE001 (reported in the table)
            errors.append(error)
    _, stderr = await child.communicate()
    wall = (time.perf_counter() - t0) * 1e3
    if child.returncode != 0 or errors:
        tail = stderr.decode().strip().splitlines()[-1:] if stderr else []
        return wall, f"FAILED: child rc={child.returncode} {tail}, parent errors={len(errors)}"
    retried = f", {BusyCount.refused - refused0} busy BEGINs retried here" if driver == "inline" else ""
    return wall, f"ok: {2 * n} creates{retried}"


async def run(ctx: RunContext) -> str:
    n, per_user = (60, 2_000) if ctx.quick else (400, 10_000)
    folder = Path(tempfile.mkdtemp(prefix="todo-agent-sqlite-driver-"))
    url = f"sqlite+aiosqlite:///{folder / 'bench.db'}"
    loads: list[float] = []
    dbs: dict[str, Database] = {}
    try:
        await _migrate(url)
        loader = Database(url, sqlite_driver="aiosqlite")
        backend = Backend("sqlite", url, loader, UnitOfWork(loader), SqlRecorder(loader), sqlite3.sqlite_version)
        rng = random.Random(SEED)
        data = await load_dataset(backend, DatasetSpec("sqlite-driver", 1, per_user), rng)
        await loader.dispose()
        actor = data.actors[0]
        ids = data.live_ids[actor.id]
        query = TaskQuery(status=["open"], priority=["high", "urgent"], tag=[data.tags[actor.id][0]])
        day = dt.datetime.now(dt.UTC).date()
        calls: dict[tuple[str, str], Call] = {}
        for driver in DRIVERS:
            db = dbs[driver] = Database(url, sqlite_driver=driver)
            uow = UnitOfWork(db, source="todo-agent/bench")
            pick = random.Random(7)

            def getter(_i: int, uow: UnitOfWork = uow, pick: random.Random = pick) -> Awaitable[Any]:
                return get_task(uow, actor, pick.choice(ids))

            def lister(_i: int, uow: UnitOfWork = uow) -> Awaitable[Any]:
                return list_tasks(uow, actor, query)

            def creator(_i: int, uow: UnitOfWork = uow, pick: random.Random = pick) -> Awaitable[Any]:
                return create_task(uow, actor, new_task(pick, data.tags[actor.id], day))

            calls |= {("get_task", driver): getter, ("list_tasks filtered", driver): lister,
                      ("create_task", driver): creator}
        loads.append(load_average())
        samples = await _interleaved(calls, n, warmup=20)
        loads.append(load_average())
        rows = []
        for op in ("get_task", "list_tasks filtered", "create_task"):
            inline, aio = samples[(op, "inline")].row(), samples[(op, "aiosqlite")].row()
            rows.append([op, ms(inline[0]), ms(aio[0]), f"{inline[0] / aio[0]:.2f}", ms(inline[1]), ms(aio[1]),
                         f"{inline[1] / aio[1]:.2f}", ms(inline[2]), ms(aio[2]), f"{inline[2] / aio[2]:.2f}"])
        extra = []
        for driver in DRIVERS:
            uow = UnitOfWork(dbs[driver])

            def listing(_i: int, uow: UnitOfWork = uow) -> Awaitable[Any]:
                return list_tasks(uow, actor, query)

            lag99, lag_max = await _loop_lag(listing, 4 * (n // 4 or 1))
            burst_ms, completed = await _burst(uow, actor, query)
            two_ms, outcome = await _two_processes(url, driver, uow, actor, max(20, n // 4))
            extra.append([driver, ms(lag99), ms(lag_max), f"{completed}/40 in {ms(burst_ms)} ms",
                          f"{outcome} in {ms(two_ms)} ms"])
    finally:
        for db in dbs.values():
            await db.dispose()
        shutil.rmtree(folder, ignore_errors=True)
    body = [
        ctx.header("SQLite drivers: inline vs aiosqlite", ", ".join(f"{x:.2f}" for x in loads)),
        f"- data: {per_user:,} tasks of one user in one SQLite file (WAL); {n} calls of each operation per driver,"
        " interleaved call by call after 20 warm-up calls; CPU = this process's CPU (all threads) per call\n",
        table(["use case", "inline p50 ms", "aiosqlite p50 ms", "p50 ratio", "inline p99 ms", "aiosqlite p99 ms",
               "p99 ratio", "inline CPU ms", "aiosqlite CPU ms", "CPU ratio"], rows),
        "",
        "Loop lag: a 1 ms ticker's lateness while filtered lists run four at a time (an inline statement holds the"
        " loop for its duration). Burst: 20 creates + 20 lists gathered on one loop. Two processes: this process and"
        " a child create tasks at once on the same file (the child's and our BEGIN IMMEDIATE meet SQLITE_BUSY).\n",
        table(["driver", "loop lag p99 ms", "loop lag max ms", "burst", "two processes"], extra),
    ]
    return "\n".join(body) + "\n"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.sqlite_driver", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="2,000 tasks and 60 calls per operation (a smoke run)")
    args = parser.parse_args(argv)
    command = "python -m bench.sqlite_driver" + (" --quick" if args.quick else "")
    ctx = RunContext(quick=args.quick, backends=["sqlite"], results=None, command=command)
    print(asyncio.run(run(ctx)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
