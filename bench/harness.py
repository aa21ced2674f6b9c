"""The shared benchmark harness: timing and statistics, tables, RESULTS.md sections, SQL capture and plans,
profiles, and backends (a migrated fresh SQLite file or throwaway PostgreSQL database) with a baseline.

Figures on a small shared machine are noisy: every backend also measures its own floor in the same run
(`SELECT 1` on a pooled connection, and an empty read transaction of the unit of work) so that a figure can be
read as a multiple of the floor as well as in milliseconds.
"""

from __future__ import annotations

import asyncio
import cProfile
import dataclasses
import datetime as dt
import gc
import importlib.metadata
import os
import platform
import pstats
import re
import secrets
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import make_url

from domain.db import Database
from domain.uow import UnitOfWork

T = TypeVar("T")

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
DEFAULT_PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
BENCH_DATABASE_PREFIX = "todo_agent_bench_"


# --------------------------------------------------------------------------------------------------- timing


@dataclasses.dataclass(frozen=True)
class Stats:
    """Latency statistics of one operation, in milliseconds."""

    n: int
    p50: float
    p90: float
    p99: float
    max: float
    mean: float

    @classmethod
    def of(cls, samples_ns: Sequence[int]) -> Stats:
        ms = sorted(s / 1e6 for s in samples_ns)
        return cls(
            n=len(ms), p50=percentile(ms, 50), p90=percentile(ms, 90), p99=percentile(ms, 99),
            max=ms[-1], mean=statistics.fmean(ms),
        )


def percentile(sorted_values: Sequence[float], pct: float) -> float:
    """Linear-interpolated percentile of already sorted values."""
    if not sorted_values:
        return float("nan")
    k = (len(sorted_values) - 1) * pct / 100
    lo = int(k)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (k - lo)


async def measure_interleaved(
    calls: Sequence[tuple[Callable[[int], Awaitable[Any]], int]], *, warmup: int = 10
) -> list[Stats]:
    """Measure several operations in rounds (one call of each per round, until each has had its `n`), so that
    a burst of load from a neighbour on the machine spreads over all of them instead of hitting one."""
    for fn, _n in calls:
        for i in range(warmup):
            await fn(i)
    gc.collect()
    samples: list[list[int]] = [[] for _ in calls]
    for r in range(max(n for _fn, n in calls)):
        for k, (fn, n) in enumerate(calls):
            if r < n:
                t0 = time.perf_counter_ns()
                await fn(warmup + r)
                samples[k].append(time.perf_counter_ns() - t0)
    return [Stats.of(s) for s in samples]


async def measure(fn: Callable[[int], Awaitable[Any]], n: int, *, warmup: int = 10) -> Stats:
    """Call `fn(i)` `warmup` times untimed, then `n` times timed one by one with perf_counter_ns."""
    for i in range(warmup):
        await fn(i)
    gc.collect()
    samples: list[int] = []
    for i in range(n):
        t0 = time.perf_counter_ns()
        await fn(warmup + i)
        samples.append(time.perf_counter_ns() - t0)
    return Stats.of(samples)


def ms(value: float) -> str:
    return f"{value:.2f}" if value < 100 else f"{value:.0f}"


# --------------------------------------------------------------------------------------------------- tables


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A Markdown table, padded so that it also reads well on a terminal."""
    cells = [[str(h) for h in headers], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]

    def line(row: Sequence[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |"

    numeric = [all(_is_number(r[i]) for r in cells[1:]) and len(cells) > 1 for i in range(len(headers))]
    rule = "|" + "|".join(("-" * (w + 1) + ":") if num else ("-" * (w + 2)) for w, num in zip(
        widths, numeric, strict=True)) + "|"
    return "\n".join([line(cells[0]), rule, *(line(r) for r in cells[1:])])


def _is_number(text: str) -> bool:
    return bool(re.fullmatch(r"[-+]?[\d.,]+(e[-+]?\d+)?[x%]?|—|-", text))


# --------------------------------------------------------------------------------------------------- RESULTS.md

_HEADER = """# Benchmark results

Written by `python -m bench` (see `bench/__init__.py`); each benchmark rewrites only its own section, between
its `<!-- bench:NAME -->` markers. Latencies are in milliseconds, measured at the use-case level (a domain
function called with a unit of work, as REST and MCP call it) on the machine named in each section; every
section also gives the floor of its backend measured in the same run, so figures can be read as ratios.
"""


def write_section(path: Path, name: str, body: str) -> None:
    """Replace (or append) the section `name` of a results file, keeping every other section as it was."""
    start, end = f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"
    text = path.read_text() if path.exists() else _HEADER
    block = f"{start}\n{body.rstrip()}\n{end}"
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.DOTALL)
    if pattern.search(text):
        text = pattern.sub(lambda _m: block, text, count=1)
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    path.write_text(text if text.endswith("\n") else text + "\n")


def git_commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
        return out + (" (with uncommitted changes)" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "?"


@dataclasses.dataclass
class RunContext:
    """What every benchmark module gets: the options of this run and where its figures go."""

    quick: bool
    backends: list[str]
    results: Path | None
    command: str
    postgres_admin: str | None = None
    postgres_version: str | None = None
    notes: list[str] = dataclasses.field(default_factory=list)

    def machine(self) -> str:
        pg = f"PostgreSQL {self.postgres_version}" if self.postgres_version else "PostgreSQL not measured"
        return (
            f"{os.cpu_count()} CPUs ({_cpu_model()}), Linux {platform.release()}, Python {platform.python_version()},"
            f" SQLite {sqlite3.sqlite_version}, {pg}; SQLAlchemy {_version('sqlalchemy')}, SQLModel"
            f" {_version('sqlmodel')}, pydantic {_version('pydantic')}, aiosqlite {_version('aiosqlite')},"
            f" psycopg {_version('psycopg')}"
        )

    def header(self, title: str, load: str) -> str:
        """The first lines of a section: what was run, when, on what, and how busy the machine was."""
        now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
        mode = "quick" if self.quick else "full"
        return (
            f"## {title}\n\n"
            f"- date: {now} ({mode} run)\n"
            f"- commit: {git_commit()}\n"
            f"- machine: {self.machine()}\n"
            f"- load average (1 min) of the machine during the run: {load}\n"
            f"- command: `{self.command}`\n"
        )


def load_average() -> float:
    try:
        return os.getloadavg()[0]
    except OSError:
        return float("nan")


async def each_backend(
    ctx: RunContext, run_backend: Callable[[RunContext, str], Awaitable[T]]
) -> tuple[list[T], list[float]]:
    """`run_backend` on every backend of the run, in turn; also the load average before and after each."""
    loads = [load_average()]
    runs: list[T] = []
    for backend_name in ctx.backends:
        runs.append(await run_backend(ctx, backend_name))
        loads.append(load_average())
    return runs, loads


# --------------------------------------------------------------------------------------------------- SQL capture


@dataclasses.dataclass
class Captured:
    statement: str
    parameters: Any
    ns: int = 0


class SqlRecorder:
    """Records the statements an engine sends and the wall time spent inside cursor.execute (which, with the
    async adapters of aiosqlite and psycopg, includes fetching the rows), while a `recording()` block is open."""

    def __init__(self, db: Database) -> None:
        self._engine = db.engine.sync_engine
        self.statements: list[Captured] = []
        self.sql_ns = 0
        self._open: list[tuple[Captured, int]] = []

    def _before(self, _conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any,
                _executemany: bool) -> None:
        item = Captured(statement, parameters)
        self.statements.append(item)
        self._open.append((item, time.perf_counter_ns()))

    def _after(self, _conn: Any, _cursor: Any, _statement: str, _parameters: Any, _context: Any,
               _executemany: bool) -> None:
        if self._open:
            item, t0 = self._open.pop()
            item.ns = time.perf_counter_ns() - t0
            self.sql_ns += item.ns

    @contextmanager
    def recording(self) -> Iterator[SqlRecorder]:
        self.statements, self.sql_ns, self._open = [], 0, []
        event.listen(self._engine, "before_cursor_execute", self._before)
        event.listen(self._engine, "after_cursor_execute", self._after)
        try:
            yield self
        finally:
            event.remove(self._engine, "before_cursor_execute", self._before)
            event.remove(self._engine, "after_cursor_execute", self._after)


@dataclasses.dataclass(frozen=True)
class SqlShare:
    """Where the time of one call goes: inside the driver (SQL) versus everything else (Python)."""

    total_ms: float
    sql_ms: float
    statements: float
    cpu_ms: float  # CPU time of this process (all its threads, so aiosqlite's too): immune to waiting for a core

    @property
    def python_ms(self) -> float:
        return max(self.total_ms - self.sql_ms, 0.0)

    @property
    def sql_pct(self) -> float:
        return 100 * self.sql_ms / self.total_ms if self.total_ms else 0.0


async def sql_share(recorder: SqlRecorder, fn: Callable[[int], Awaitable[Any]], n: int) -> SqlShare:
    """Mean wall time, SQL time and statement count per call over `n` calls with the recorder attached."""
    total = sql = count = cpu = 0
    for i in range(n):
        with recorder.recording():
            c0 = time.process_time_ns()
            t0 = time.perf_counter_ns()
            await fn(i)
            total += time.perf_counter_ns() - t0
            cpu += time.process_time_ns() - c0
        sql += recorder.sql_ns
        count += sum(1 for s in recorder.statements if not _is_tx_control(s.statement))
    return SqlShare(total_ms=total / n / 1e6, sql_ms=sql / n / 1e6, statements=count / n, cpu_ms=cpu / n / 1e6)


def _is_tx_control(statement: str) -> bool:
    return statement.strip().upper() in ("BEGIN", "BEGIN IMMEDIATE", "COMMIT", "ROLLBACK", "SELECT 1")


# --------------------------------------------------------------------------------------------------- plans


@dataclasses.dataclass
class Plan:
    label: str
    statement: str
    text: str
    indexes: list[str]
    full_scans: list[str]
    sorts: bool

    @property
    def verdict(self) -> str:
        used = ", ".join(dict.fromkeys(self.indexes)) or "none"
        scan = f"; full scan of {', '.join(dict.fromkeys(self.full_scans))}" if self.full_scans else ""
        sort = "; sorts" if self.sorts else ""
        return f"index: {used}{scan}{sort}"


_SQLITE_INDEX = re.compile(r"USING (?:COVERING )?INDEX (\w+)|USING (INTEGER PRIMARY KEY)")
_PG_INDEX = re.compile(r"(?:Index Scan|Index Only Scan|Bitmap Index Scan)(?: Backward)? (?:using|on) (\w+)")
_PG_SEQ = re.compile(r"Seq Scan on (\w+)")


def summarize_plan(dialect: str, label: str, statement: str, text: str) -> Plan:
    if dialect == "sqlite":
        indexes = [name or "primary key" for name, _pk in _SQLITE_INDEX.findall(text)]
        indexes += ["task_fts (FTS5)" for line in text.splitlines() if "VIRTUAL TABLE INDEX" in line]
        scans = [
            line.split()[1] for line in text.splitlines()
            if line.strip().startswith("SCAN ") and "USING" not in line and "VIRTUAL" not in line
            and "CONSTANT ROW" not in line
        ]
        sorts = "TEMP B-TREE" in text
    else:
        indexes = _PG_INDEX.findall(text)
        scans = _PG_SEQ.findall(text)
        sorts = bool(re.search(r"^\s*(->\s*)?(Incremental )?Sort\b", text, re.MULTILINE)) or "Sort Key" in text
    return Plan(label, statement, text, indexes, scans, sorts)


async def explain(db: Database, statement: str, parameters: Any) -> str:
    """The plan of a captured statement: EXPLAIN QUERY PLAN on SQLite, EXPLAIN (ANALYZE, BUFFERS) elsewhere."""
    async with db.engine.connect() as conn:
        if db.sqlite:
            result = await conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)
            rows = result.all()
            depth: dict[int, int] = {}
            lines = []
            for row in rows:
                node_id, parent, _unused, detail = tuple(row)
                depth[node_id] = depth.get(parent, -1) + 1
                lines.append("  " * depth[node_id] + detail)
            return "\n".join(lines)
        result = await conn.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters)
        text = "\n".join(r[0] for r in result.all())
        await conn.rollback()
        return text


def classify(statement: str) -> str | None:
    """Name the queries a list call makes: the page, the total count, the tags of the page."""
    head = " ".join(statement.split())[:400].lower()
    if head.startswith("select count(*)"):
        return "count"
    if head.startswith("select task_tag.task_id, tag.name"):
        return "tags"
    if head.startswith("select task.id") and " limit " in " ".join(statement.split()).lower():
        return "page"
    return None


def render_sql(statement: str, parameters: Any) -> str:
    """The statement with its parameters, for reading (not for executing)."""
    text = " ".join(statement.split())
    return f"{text}\n-- parameters: {parameters!r}"


# --------------------------------------------------------------------------------------------------- profiles

_BUCKETS = [
    ("pydantic (views, validation)", ("pydantic", "pydantic_core")),
    ("SQLAlchemy ORM (loading, session, identity map)", ("sqlalchemy/orm",)),
    ("SQLAlchemy SQL compile / expression building", ("sqlalchemy/sql",)),
    ("SQLAlchemy engine + result + async adapter", ("sqlalchemy/engine", "sqlalchemy/ext", "sqlalchemy/util",
                                                    "sqlalchemy/connectors", "sqlalchemy/dialects",
                                                    "sqlalchemy/pool", "sqlalchemy/event")),
    ("SQLModel", ("sqlmodel",)),
    ("driver calls (aiosqlite / psycopg + libpq sends; on 2 busy cores this includes time descheduled while the"
     " server runs)", ("aiosqlite", "psycopg", "sqlite3")),
    ("asyncio, greenlet and waiting for the driver", ("asyncio", "greenlet", "selectors", "threading", "queue",
                                                       "concurrent")),
    ("domain code", ("/domain/",)),
    ("benchmark harness", ("/bench/",)),
]


_WAIT = "waiting for I/O (epoll: the database answering)"


def _bucket(filename: str) -> str:
    for name, parts in _BUCKETS:
        if any(p in filename for p in parts):
            return name
    if filename == "~":
        return "built-in C functions (json, re, datetime, ...)"
    return "other Python"


@dataclasses.dataclass
class Profile:
    calls: int
    wall_ms: float
    buckets: list[tuple[str, float]]
    top: list[tuple[str, int, float, float]]  # function, calls, tottime ms/call, cumtime ms/call


async def profile(fn: Callable[[int], Awaitable[Any]], n: int, *, top: int = 15) -> Profile:
    """cProfile `n` calls of `fn` on this thread; time per call, by package bucket and by function."""
    prof = cProfile.Profile()
    t0 = time.perf_counter_ns()
    prof.enable()
    for i in range(n):
        await fn(i)
    prof.disable()
    wall = (time.perf_counter_ns() - t0) / 1e6
    st = pstats.Stats(prof)
    raw: dict[Any, Any] = st.stats  # type: ignore[attr-defined]
    sums: dict[str, float] = {}
    for (filename, _line, func), (_cc, _nc, tt, _ct, _callers) in raw.items():
        key = _WAIT if filename == "~" and ("poll" in func or "select" in func) else _bucket(filename)
        sums[key] = sums.get(key, 0.0) + tt
    buckets = sorted(((k, v * 1000 / n) for k, v in sums.items()), key=lambda kv: -kv[1])
    ranked = sorted(raw.items(), key=lambda kv: -kv[1][2])[:top]
    rows = [
        (_short(f"{fname}:{line}({func})"), nc // n, tt * 1000 / n, ct * 1000 / n)
        for (fname, line, func), (_cc, nc, tt, ct, _callers) in ranked
    ]
    return Profile(calls=n, wall_ms=wall / n, buckets=buckets, top=rows)


def _short(where: str) -> str:
    for marker in ("site-packages/", "lib/python3", str(ROOT) + "/"):
        if marker in where:
            where = where.split(marker, 1)[1]
    return where


# --------------------------------------------------------------------------------------------------- backends


@dataclasses.dataclass
class Backend:
    """A migrated, empty database of one kind, with its unit of work and its own floor measured."""

    name: str
    url: str
    db: Database
    uow: UnitOfWork
    recorder: SqlRecorder
    server_version: str
    baseline: dict[str, Stats] = dataclasses.field(default_factory=dict)

    @property
    def floor_ms(self) -> float:
        """p50 of an empty read transaction of the unit of work: the cheapest possible use case."""
        stats = self.baseline.get("empty read tx")
        return stats.p50 if stats else float("nan")

    async def measure_baseline(self, n: int) -> dict[str, Stats]:
        raw = await _raw_connection(self.url)

        async def raw_select_one(_i: int) -> None:
            cursor = await raw.execute("SELECT 1")
            await cursor.fetchall()

        async def select_one(_i: int) -> None:
            async with self.db.engine.connect() as conn:
                await conn.exec_driver_sql("SELECT 1")

        async def empty_tx(_i: int) -> None:
            async with self.uow.read() as tx:
                await tx.session.exec(sa.select(sa.literal(1)))  # type: ignore[call-overload]

        try:
            self.baseline = {
                "SELECT 1 (driver alone)": await measure(raw_select_one, n, warmup=20),
                "SELECT 1 (pooled SQLAlchemy connection)": await measure(select_one, n, warmup=20),
                "empty read tx": await measure(empty_tx, n, warmup=20),
            }
        finally:
            await raw.close()
        return self.baseline


async def _raw_connection(url: str) -> Any:
    """A plain driver connection to the same database (no SQLAlchemy, no pool): the round-trip floor."""
    if url.startswith("sqlite"):
        import aiosqlite

        return await aiosqlite.connect(url.split(":///", 1)[1])
    import psycopg

    return await psycopg.AsyncConnection.connect(_libpq(url), autocommit=True)


def postgres_admin_url() -> str | None:
    """BENCH_POSTGRES_URL or TEST_DATABASE_URL (an admin URL), else the local server if it lets `postgres` in."""
    url = os.environ.get("BENCH_POSTGRES_URL") or os.environ.get("TEST_DATABASE_URL") or DEFAULT_PG_ADMIN
    try:
        import psycopg

        with psycopg.connect(_libpq(url), connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except Exception:  # noqa: BLE001 - any failure means: no PostgreSQL for this run
        return None
    return url


def postgres_version(admin_url: str) -> str:
    import psycopg

    with psycopg.connect(_libpq(admin_url)) as conn:
        row = conn.execute("SHOW server_version").fetchone()
    return str(row[0]) if row else "?"


def _libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _create_pg_database(admin_url: str) -> str:
    import psycopg
    from psycopg import sql

    name = f"{BENCH_DATABASE_PREFIX}{os.getpid()}_{secrets.token_hex(4)}"
    with psycopg.connect(_libpq(admin_url), autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return make_url(admin_url).set(drivername="postgresql+psycopg", database=name).render_as_string(
        hide_password=False
    )


def _drop_pg_database(admin_url: str, url: str) -> None:
    import psycopg
    from psycopg import sql

    name = make_url(url).database or ""
    if not name.startswith(BENCH_DATABASE_PREFIX):
        raise ValueError(f"refusing to drop {name!r}: not a benchmark database")
    with psycopg.connect(_libpq(admin_url), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


async def _migrate(url: str) -> None:
    from runtime.migrate import upgrade

    # Alembic's environment runs asyncio.run itself: give it a thread of its own.
    await asyncio.to_thread(upgrade, url)


@asynccontextmanager
async def open_backend(ctx: RunContext, name: str, *, baseline_n: int) -> AsyncIterator[Backend]:
    """A fresh migrated database: a temporary SQLite file, or a throwaway PostgreSQL database dropped after."""
    if name == "sqlite":
        folder = tempfile.mkdtemp(prefix="todo-agent-bench-")
        url = f"sqlite+aiosqlite:///{Path(folder) / 'bench.db'}"
        version = sqlite3.sqlite_version
        cleanup: Callable[[], None] = lambda: shutil.rmtree(folder, ignore_errors=True)  # noqa: E731
    elif name == "postgres":
        if ctx.postgres_admin is None:
            raise RuntimeError("PostgreSQL is not reachable")
        admin = ctx.postgres_admin
        url = await asyncio.to_thread(_create_pg_database, admin)
        version = ctx.postgres_version or "?"
        cleanup = lambda: _drop_pg_database(admin, url)  # noqa: E731
    else:
        raise ValueError(f"unknown backend {name!r}: sqlite or postgres")
    db: Database | None = None
    try:
        await _migrate(url)
        db = Database(url)
        backend = Backend(name, url, db, UnitOfWork(db, source="todo-agent/bench"), SqlRecorder(db), version)
        await backend.measure_baseline(baseline_n)
        yield backend
    finally:
        if db is not None:
            await db.dispose()
        await asyncio.to_thread(cleanup)


def die(message: str) -> None:
    print(f"bench: error: {message}", file=sys.stderr)
    raise SystemExit(2)


# --------------------------------------------------------------------------------------------------- processes


_CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def process_cpu_seconds(pid: int | None = None) -> float:
    """User + system CPU time of a process (all its threads) from /proc; this process when `pid` is None."""
    if pid is None:
        return time.process_time()
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / _CLK_TCK  # utime, stime (fields 14 and 15 of stat)


class CpuMeter:
    """CPU seconds spent by a server process and by this process (the client) over a block:

        with CpuMeter(server_pid) as cpu: ...
        cpu.server, cpu.client, cpu.wall
    """

    def __init__(self, server_pid: int) -> None:
        self.pid = server_pid
        self.server = self.client = self.wall = 0.0

    def __enter__(self) -> CpuMeter:
        self._s0, self._c0, self._t0 = process_cpu_seconds(self.pid), time.process_time(), time.perf_counter()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.server = process_cpu_seconds(self.pid) - self._s0
        self.client = time.process_time() - self._c0
        self.wall = time.perf_counter() - self._t0


# --------------------------------------------------------------------------------------------------- sampled profiles


def pyspy() -> str | None:
    """The py-spy executable (`pip install py-spy`), next to this Python or on PATH."""
    beside = Path(sys.executable).with_name("py-spy")
    return str(beside) if beside.exists() else shutil.which("py-spy")


# Own time of a sample goes to the package of its innermost frame (py-spy names files relative to their
# sys.path entry: "sqlalchemy/orm/loading.py", "domain/usecases/tasks.py"); first match wins.
_SERVER_BUCKETS = [
    ("HTTP server (uvicorn + h11 parsing)", ("uvicorn/", "h11/", "httptools/")),
    ("MCP SDK (session, JSON-RPC, transport, tool dispatch)", ("mcp/", "mcp_types/")),
    ("SSE (sse_starlette)", ("sse_starlette/",)),
    ("FastAPI (routing, dependencies, validation glue, serialization)", ("fastapi/",)),
    ("Starlette (routing, middleware, requests, responses)", ("starlette/",)),
    ("pydantic (validation, serialization)", ("pydantic/", "pydantic_core/", "pydantic_settings/")),
    ("SQLAlchemy ORM (session, loading, unit of work)", ("sqlalchemy/orm/",)),
    ("SQLAlchemy SQL (expressions, compile, cache keys)", ("sqlalchemy/sql/",)),
    ("SQLAlchemy engine, pool, result, async adapter", ("sqlalchemy/",)),
    ("SQLModel", ("sqlmodel/",)),
    ("database driver (aiosqlite: hand-offs to its thread and SQLite's C code; psycopg)",
     ("aiosqlite/", "psycopg/", "psycopg_binary/", "psycopg_pool/", "sqlite3/")),
    ("JSON (json module)", ("json/",)),
    ("logging", ("logging/",)),
    ("anyio", ("anyio/",)),
    ("asyncio, threads, queues, greenlet", ("asyncio/", "threading.py", "selectors.py", "concurrent/", "queue.py",
                                            "greenlet/", "contextvars")),
    ("JWT (pyjwt)", ("jwt/",)),
    ("domain code (use cases, views, queries)", ("domain/",)),
    ("web code (routes, deps, problems)", ("web/",)),
    ("mcp_server code (tools, guard, context)", ("mcp_server/",)),
    ("services code (in-process event handlers)", ("services/",)),
    ("benchmark runner", ("bench/",)),
    ("typing, dataclasses, enum, datetime, re, uuid (stdlib)", ("typing.py", "dataclasses.py", "enum.py",
                                                                "datetime.py", "re/", "uuid.py", "functools.py",
                                                                "inspect.py", "copy.py", "abc.py")),
]

# Innermost frames that are a thread waiting, not working (py-spy's own idle test misses them in this sandbox).
_IDLE_LEAVES = ("EpollSelector.select (selectors.py", "_connection_worker_thread (aiosqlite/core.py:59)",
                "Condition.wait (threading.py", "Queue.get (queue.py", "_worker (concurrent/futures/thread.py")


def _frame_path(frame: str) -> str:
    inside = frame.rsplit(" (", 1)[-1].rstrip(")")
    return inside.rsplit(":", 1)[0]


def _in(*prefixes: str) -> Callable[[str], bool]:
    return lambda frame: _frame_path(frame).startswith(prefixes)


def _named(*names: str) -> Callable[[str], bool]:
    return lambda frame: frame.split(" (", 1)[0].rsplit(".", 1)[-1] in names


# Inclusive: the share of samples whose stack passes through any frame matching (they overlap). SQLAlchemy runs
# its synchronous core inside greenlets, and a sample taken inside one shows only the greenlet's frames, not the
# coroutine that called it: the rows about callers (domain, token check) therefore count only their async parts,
# and the "inside a SQLAlchemy greenlet" row says how much is not attributed to a caller.
_SERVER_LAYERS: list[tuple[str, Callable[[str], bool]]] = [
    ("SQLAlchemy + SQLModel, anywhere", _in("sqlalchemy/", "sqlmodel/")),
    ("database driver, anywhere (aiosqlite hand-offs, psycopg)", _in("aiosqlite/", "psycopg/")),
    ("pydantic, anywhere", _in("pydantic/", "pydantic_core/")),
    ("MCP SDK, anywhere", _in("mcp/")),
    ("logging, anywhere", _in("logging/")),
    ("FastAPI dependencies + request validation (solve_dependencies)", _named("solve_dependencies")),
    ("FastAPI response validation + serialization (serialize_response)", _named("serialize_response")),
    ("domain use case, its async part (domain/usecases/)", _in("domain/usecases/")),
    ("token check and user lookup, async part (authenticate_token, actor_for, verify_token)",
     _named("authenticate_token", "actor_for", "verify_token", "current_actor")),
    ("outbox relay publishing events (runtime/relay.py), async part", _in("runtime/relay")),
    ("in-process services handling the events (services/), async part", _in("services/")),
]
_GREENLET_ROW = "inside a SQLAlchemy greenlet (ORM/Core sync code; caller not visible)"
_TRUNCATED_ROW = "stack cut short by the sampler (deep ASGI stacks read while running; caller not visible)"


@dataclasses.dataclass
class SampledProfile:
    """A py-spy profile of a server process: where its non-idle samples went."""

    seconds: float
    rate: int
    samples: int  # non-idle samples of every thread
    main: int  # of which on the event loop's thread
    buckets: list[tuple[str, float]]  # % of all non-idle samples, by package of the innermost frame
    layers: list[tuple[str, float]]  # % of all non-idle samples whose stack passes through ...
    top: list[tuple[str, float]]  # innermost functions, % of samples

    def render(self, *, top: int = 12) -> str:
        worker = self.samples - self.main
        head = (
            f"py-spy, {self.seconds:.0f} s at {self.rate} Hz: {self.samples} non-idle samples"
            f" ({self.samples / self.seconds / self.rate:.0%} of one core), {self.main} on the event loop's thread"
            f" and {worker} in other threads (aiosqlite's SQLite thread, the thread pool)."
        )
        own = table(["own time in", "% of samples"], [(k, f"{v:.1f}") for k, v in self.buckets if v >= 0.5])
        layers = table(["stack passes through (overlapping)", "% of samples"],
                       [(k, f"{v:.1f}") for k, v in self.layers])
        fns = table(["innermost function", "% of samples"], [(f"`{k}`", f"{v:.1f}") for k, v in self.top[:top]])
        return "\n\n".join([head, own, layers, "<details><summary>Top functions</summary>\n\n" + fns
                            + "\n\n</details>"])


async def sample_profile(pid: int, seconds: float, *, rate: int = 200) -> SampledProfile | None:
    """Run py-spy on `pid` for `seconds` (without pausing it) and summarize; None when py-spy is missing."""
    text = await record_pyspy(pid, seconds, rate=rate)
    return None if text is None else parse_pyspy(text, seconds, rate)


async def record_pyspy(pid: int, seconds: float, *, rate: int = 200) -> str | None:
    """py-spy's raw output (collapsed stacks, --threads) for `pid` over `seconds`; None when py-spy is missing or
    failed. BENCH_PYSPY_KEEP=DIR keeps each raw output there, e.g. for a flame graph."""
    exe = pyspy()
    if exe is None:
        return None
    out = Path(tempfile.mkdtemp(prefix="todo-agent-pyspy-")) / "profile.txt"
    try:
        proc = await asyncio.create_subprocess_exec(
            exe, "record", "--pid", str(pid), "--duration", str(max(1, round(seconds))), "--rate", str(rate),
            "--format", "raw", "--threads", "--nonblocking", "--output", str(out),
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
        )
        _out, err = await proc.communicate()
        if proc.returncode != 0 or not out.exists():
            print(f"bench: py-spy failed: {err.decode(errors='replace')[-500:]}", file=sys.stderr)
            return None
        keep = os.environ.get("BENCH_PYSPY_KEEP")
        if keep:
            Path(keep).mkdir(parents=True, exist_ok=True)
            shutil.copy(out, Path(keep) / f"pyspy-{pid}-{time.strftime('%H%M%S')}.txt")
        return out.read_text()
    finally:
        shutil.rmtree(out.parent, ignore_errors=True)


def busy_stacks(text: str) -> Iterator[tuple[str, list[str], int]]:
    """(thread, frames outermost first, samples) of each stack in py-spy's raw output whose innermost frame is
    work, not a wait (epoll, a queue)."""
    for line in text.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        parts = stack.split(";")
        thread = parts[0].split(": ", 1)[-1] if parts[0].startswith("thread (") else ""
        frames = parts[1:] if parts[0].startswith("thread (") else parts
        if frames and not frames[-1].startswith(_IDLE_LEAVES):
            yield thread, frames, int(count_text)


def parse_pyspy(text: str, seconds: float, rate: int) -> SampledProfile:
    """Summarize py-spy's raw output with --threads: `thread (TID): NAME;outer (file:line);...;inner (file:line) N`.
    Samples whose innermost frame is a wait (epoll, a queue) are dropped: they are idle, not work."""
    total = main = in_greenlet = truncated = 0
    own: dict[str, int] = {}
    layer: dict[str, int] = {name: 0 for name, _ in _SERVER_LAYERS}
    leaf: dict[str, int] = {}
    for thread, frames, count in busy_stacks(text):
        total += count
        if thread == "MainThread":
            main += count
        inner = frames[-1]
        bucket = _server_bucket(inner)
        own[bucket] = own.get(bucket, 0) + count
        leaf[inner] = leaf.get(inner, 0) + count
        for name, test in _SERVER_LAYERS:
            if any(test(f) for f in frames):
                layer[name] += count
        if thread == "MainThread" and not frames[0].startswith(("_run_module_as_main", "<module>")):
            if _frame_path(frames[0]).startswith(("sqlalchemy/", "sqlmodel/")):
                in_greenlet += count
            else:
                truncated += count
    pct = (lambda n: 100 * n / total) if total else (lambda _n: 0.0)
    return SampledProfile(
        seconds=seconds, rate=rate, samples=total, main=main,
        buckets=sorted(((k, pct(v)) for k, v in own.items()), key=lambda kv: -kv[1]),
        layers=[*((name, pct(layer[name])) for name, _ in _SERVER_LAYERS), (_GREENLET_ROW, pct(in_greenlet)),
                (_TRUNCATED_ROW, pct(truncated))],
        top=sorted(((k, pct(v)) for k, v in leaf.items()), key=lambda kv: -kv[1]),
    )


def _server_bucket(frame: str) -> str:
    path = _frame_path(frame)
    for name, prefixes in _SERVER_BUCKETS:
        if path.startswith(prefixes):
            return name
    return "other (built-ins, stdlib)"


def server_profile_sections(profiles: Sequence[tuple[str, str, SampledProfile | None]]) -> list[str]:
    """Report sections for py-spy profiles of the server, as (key, what, profile); a None profile failed (or,
    without a key, was not taken and `what` says why)."""
    out: list[str] = []
    for key, what, prof in profiles:
        if prof is None:
            out.append(f"Profile: {what}" if not key else f"**Profile of the server: {what}**: py-spy failed.")
            continue
        out.append(f"**Profile of the server: {what}**\n\n" + prof.render())
    return out
