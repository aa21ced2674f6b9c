"""MCP tool calls over streamable HTTP against a no-op tool of the same server, in the same run.

The server is the real web host (`python -m bench.server`: `todo-agent serve`, MCP mounted at `/`, plus the
bench-only `noop` and `noop_actor` tools on its own MCPServer instance) in a process of its own, on SQLite and
PostgreSQL, with one user owning 10,000 tasks and a personal API token. Each session is the SDK's client as an
agent would use it: `mcp.Client(streamable_http_client(url, http_client=httpx2.AsyncClient(headers=auth)))` in the
default mode (protocol 2026-07-28), all in this process, which therefore shares the 2 cores with the server: its
CPU time is reported next to the server's.

1. 1 session: one call at a time, the tools interleaved round by round.
2. 50 concurrent sessions, closed loop: each session calls the same tool again as soon as the last call returns,
   for a fixed time; calls/s is the total completed over that time.

Targets (issue 4, "Performance"; 2 cores): `add_task` p50 at 1 session within 2x the no-op tool's; at least 300
`list_tasks` calls/s sustained.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import random
import time
from collections.abc import Callable
from contextlib import AsyncExitStack
from typing import Any

import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from bench import harness
from bench.datasets import SEED, DatasetSpec, new_task, pick_words
from bench.harness import CpuMeter, RunContext, SampledProfile, Stats, ms, table
from bench.live import LiveServer, live_data, live_server, load_text, settle, stack_versions

NAME = "mcp"
TITLE = "MCP over streamable HTTP: tool calls vs a no-op tool"
ADD_RATIO = 2.0
LIST_CALLS_S = 300.0
SESSIONS = 50


@dataclasses.dataclass
class Tool:
    key: str
    name: str
    args: Callable[[int], dict[str, Any]]
    describe: str


def tools(server: LiveServer, rng: random.Random) -> list[Tool]:
    actor, data = server.actor, server.data
    today = dt.datetime.now(actor.tz).date()
    fields = ("title", "description", "priority", "tags", "due_at")  # add_task's names for the REST body's fields
    bodies = [{k: v for k, v in new_task(rng, data.tags[actor.id], today).model_dump(mode="json").items()
               if k in fields and v not in (None, "", [])} for _ in range(500)]
    word = pick_words(data.df[actor.id])["one"]
    return [
        Tool("noop", "noop", lambda _i: {}, "the bench-only tool returning 'ok' (transport, session, bearer check)"),
        Tool("noop_actor", "noop_actor", lambda _i: {},
             "the bench-only tool that also looks up the caller, as every real tool does"),
        Tool("add_task", "add_task", lambda i: bodies[i % len(bodies)],
             "title, description, priority, 0-3 tags, 70 % with a due"),
        Tool("list_tasks", "list_tasks", lambda _i: {},
             "no arguments: open and completed tasks sorted by due, first 20 of ~9,800"),
        Tool("search_tasks", "search_tasks", lambda _i: {"query": word},
             f"query={word!r} (a mid-frequency word of the data)"),
    ]


class Sessions:
    """`n` MCP sessions over streamable HTTP, each with its own httpx2 client carrying the bearer token."""

    def __init__(self, server: LiveServer, n: int) -> None:
        self.server, self.n = server, n
        self.clients: list[Client] = []
        self._stack = AsyncExitStack()

    async def __aenter__(self) -> Sessions:
        url = f"{self.server.url}/mcp"
        for _ in range(self.n):
            http = await self._stack.enter_async_context(
                httpx2.AsyncClient(headers=self.server.auth, timeout=120)
            )
            self.clients.append(await self._stack.enter_async_context(
                Client(streamable_http_client(url, http_client=http))
            ))
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._stack.aclose()


async def call(client: Client, tool: Tool, i: int) -> None:
    result = await client.call_tool(tool.name, tool.args(i))
    if result.is_error:
        text = result.content[0].text if result.content else ""  # type: ignore[union-attr]
        raise RuntimeError(f"{tool.name}: tool error: {text[:300]}")


async def one_session(client: Client, tls: list[Tool], n: int, warmup: int) -> dict[str, Stats]:
    calls = [((lambda i, t=t: call(client, t, i)), n) for t in tls]
    stats = await harness.measure_interleaved(calls, warmup=warmup)
    return {t.key: s for t, s in zip(tls, stats, strict=True)}


@dataclasses.dataclass
class Concurrent:
    sessions: int
    seconds: float
    calls: int
    errors: int
    stats: Stats
    server_cpu_ms: float  # per call
    client_cpu_ms: float  # per call
    first_error: str = ""

    @property
    def per_second(self) -> float:
        return self.calls / self.seconds


async def concurrent(server: LiveServer, sessions: Sessions, tool: Tool, seconds: float, *,
                     warmup: float = 1.0) -> Concurrent:
    """Every session calls `tool` in a closed loop; after `warmup` s of steady state, a window of `seconds` is
    measured: the calls that complete inside it (latency, count) and the CPU spent inside it."""
    samples: list[int] = []
    errors = 0
    first_error: list[str] = []
    counter = iter(range(10**9))
    window = [float("inf"), float("inf")]  # perf_counter_ns bounds of the measured window
    stop = False

    async def loop(client: Client) -> None:
        nonlocal errors
        while not stop:
            t0 = time.perf_counter_ns()
            try:
                await call(client, tool, next(counter))
            except Exception as exc:  # noqa: BLE001 - counted, and the benchmark goes on
                if window[0] <= time.perf_counter_ns() <= window[1]:
                    errors += 1
                    first_error[:] = first_error or [f"{type(exc).__name__}: {str(exc)[:200]}"]
                continue
            done = time.perf_counter_ns()
            if window[0] <= done <= window[1]:
                samples.append(done - t0)

    tasks = [asyncio.create_task(loop(c)) for c in sessions.clients]
    try:
        await asyncio.sleep(warmup)
        with CpuMeter(server.pid) as cpu:
            window[0] = time.perf_counter_ns()
            await asyncio.sleep(seconds)
            window[1] = time.perf_counter_ns()
    finally:
        stop = True
        await asyncio.gather(*tasks, return_exceptions=True)
    done = len(samples)
    return Concurrent(
        sessions=len(sessions.clients), seconds=(window[1] - window[0]) / 1e9, calls=done, errors=errors,
        stats=Stats.of(samples or [0]), server_cpu_ms=1000 * cpu.server / max(done, 1),
        client_cpu_ms=1000 * cpu.client / max(done, 1), first_error=first_error[0] if first_error else "",
    )


@dataclasses.dataclass
class BackendRun:
    backend: str
    version: str
    tasks: int
    idle_cores: float
    tools: list[Tool]
    single: dict[str, Stats]
    single_cpu: dict[str, tuple[float, float]]  # server, client CPU ms per call at 1 session
    many: dict[str, Concurrent]
    profiles: list[tuple[str, str, SampledProfile | None]] = dataclasses.field(default_factory=list)
    shipped: dict[str, Stats] = dataclasses.field(default_factory=dict)

    def tool(self, key: str) -> Tool:
        return next(t for t in self.tools if t.key == key)


async def cpu_per_call(server: LiveServer, client: Client, tool: Tool, n: int) -> tuple[float, float]:
    with CpuMeter(server.pid) as cpu:
        for i in range(n):
            await call(client, tool, 10_000 + i)
    return 1000 * cpu.server / n, 1000 * cpu.client / n


async def run_backend(ctx: RunContext, backend_name: str) -> BackendRun:
    spec = DatasetSpec("mcp", 1, 2_000 if ctx.quick else 10_000)
    n, warmup = (40, 5) if ctx.quick else (300, 20)
    seconds, warm = (2.0, 0.5) if ctx.quick else (15.0, 2.0)
    async with live_data(ctx, backend_name, spec) as live:
        async with live_server(live, idle_s=1.0 if ctx.quick else 3.0) as server:
            print(f"\n== {backend_name}: {spec.label}, server pid {server.pid} at {server.url}/mcp", flush=True)
            tls = tools(server, random.Random(SEED + 4))
            async with Sessions(server, 1) as one:
                single = await one_session(one.clients[0], tls, n, warmup)
                for t in tls:
                    s = single[t.key]
                    print(f"  1 session   {t.key:12} p50 {ms(s.p50):>6} p99 {ms(s.p99):>6} ms"
                          f"  ({s.p50 / single['noop'].p50:.1f}x noop)", flush=True)
                single_cpu = {t.key: await cpu_per_call(server, one.clients[0], t, n // 3) for t in tls}
            many: dict[str, Concurrent] = {}
            t0 = time.perf_counter()
            async with Sessions(server, SESSIONS) as sessions:
                print(f"  opened {SESSIONS} sessions in {time.perf_counter() - t0:.1f} s", flush=True)
                for t in tls:
                    await settle(server.pid)
                    many[t.key] = c = await concurrent(server, sessions, t, seconds, warmup=warm)
                    print(f"  {SESSIONS} sessions {t.key:12} {c.per_second:6.0f} calls/s, p50 {ms(c.stats.p50):>6}"
                          f" p99 {ms(c.stats.p99):>6} ms, {c.errors} errors, server CPU {c.server_cpu_ms:.2f}"
                          f" ms/call, client CPU {c.client_cpu_ms:.2f} ms/call", flush=True)
                result = BackendRun(backend_name, server.backend.server_version, spec.users * spec.per_user,
                                    server.idle_cores, tls, single, single_cpu, many)
                await profile_misses(ctx, server, result, sessions)
        if ctx.quick:  # the socket regression check needs a second server: full runs only
            return result
        async with live_server(live, nodelay=False) as shipped:
            keys = ("noop", "list_tasks")
            async with Sessions(shipped, 1) as one:
                result.shipped = await one_session(
                    one.clients[0], [t for t in tools(shipped, random.Random(SEED + 5)) if t.key in keys],
                    60, 2,
                )
            print("  product's own socket (no bench TCP_NODELAY patch), 1 session: " + ", ".join(
                f"{k} p50 {ms(v.p50)} ms" for k, v in result.shipped.items()), flush=True)
    return result


async def profile_misses(ctx: RunContext, server: LiveServer, r: BackendRun, sessions: Sessions) -> None:
    if harness.pyspy() is None:
        r.profiles.append(("", "py-spy is not installed (`pip install py-spy`): no profiles", None))
        return
    seconds = 2.0 if ctx.quick else 12.0
    wanted: list[tuple[str, int]] = []
    if r.single["add_task"].p50 > ADD_RATIO * r.single["noop"].p50:
        wanted += [("noop", 1), ("add_task", 1)]
    if r.many["list_tasks"].per_second < LIST_CALLS_S:
        wanted.append(("list_tasks", SESSIONS))
    for key, count in wanted:
        tool = r.tool(key)
        await settle(server.pid)

        async def repeat(client: Client, tool: Tool = tool) -> int:
            end, i = time.perf_counter() + seconds + 0.5, 0
            while time.perf_counter() < end:
                await call(client, tool, 20_000 + i)
                i += 1
            return i

        results = await asyncio.gather(harness.sample_profile(server.pid, seconds),
                                       *(repeat(c) for c in sessions.clients[:count]))
        prof, done = results[0], sum(results[1:])
        what = f"{key}, {count} session{'s' if count > 1 else ''} ({done} calls in {seconds + 0.5:.1f} s)"
        print(f"  profiled {what}", flush=True)
        r.profiles.append((key, what, prof))


async def run(ctx: RunContext) -> str:
    runs, loads = await harness.each_backend(ctx, run_backend)
    print("\n" + _summary(runs), flush=True)
    return (ctx.header(TITLE, load_text(loads)) + f"- web stack: {stack_versions()}\n\n"
            + "\n\n".join([_method(ctx), _summary(runs), *(_detail(r) for r in runs)]))


# --------------------------------------------------------------------------------------------------- report


def _method(ctx: RunContext) -> str:
    data = "2,000 tasks (quick)" if ctx.quick else "10,000 tasks"
    return (
        f"One user with {data} (the usecases dataset) and a personal API token. The server is `python -m"
        " bench.server` (the real `todo-agent serve`, one uvicorn process, with the bench-only tools on its own"
        " MCPServer instance) in its own process; the clients are this process: each session an `mcp.Client` over"
        " `streamable_http_client` with its own `httpx2.AsyncClient` carrying `Authorization: Bearer`, default"
        " mode (protocol 2026-07-28; the server answers each POST with an SSE stream). **1 session**: one call"
        " at a time, the tools interleaved round by round; CPU per call measured over separate sequential calls."
        f" **{SESSIONS} sessions**: all call the same tool in a closed loop; after {'0.5' if ctx.quick else '2'} s"
        f" of steady state, a {'2' if ctx.quick else '15'} s window counts the calls completing inside it (calls/s,"
        " latency) and the CPU spent inside it. `server CPU` is the server process's user+system CPU"
        " per call (from /proc; PostgreSQL's backends are not included), `client CPU` this process's: both share"
        " the 2 cores, so `1 core / server CPU` is what one core would serve if the client ran elsewhere. Ratios"
        " divide by the `noop` tool measured in the same run."
    )


def _summary(runs: list[BackendRun]) -> str:
    rows: list[list[Any]] = []
    for r in runs:
        add, noop = r.single["add_task"], r.single["noop"]
        rows.append([r.backend, "add_task p50, 1 session", f"<= {ADD_RATIO:.0f}x noop p50",
                     f"{ms(add.p50)} ms = {add.p50 / noop.p50:.1f}x ({ms(noop.p50)} ms)",
                     "yes" if add.p50 <= ADD_RATIO * noop.p50 else "**no**"])
        lst = r.many["list_tasks"]
        ceiling = 1000 / lst.server_cpu_ms if lst.server_cpu_ms else float("nan")
        rows.append([r.backend, f"list_tasks calls/s, {SESSIONS} sessions", f">= {LIST_CALLS_S:.0f}/s",
                     f"{lst.per_second:.0f}/s ({lst.errors} errors; server alone on 1 core: ~{ceiling:.0f}/s)",
                     "yes" if lst.per_second >= LIST_CALLS_S and not lst.errors else "**no**"])
    return "### Summary: targets\n\n" + table(["backend", "figure", "target", "measured", "met"], rows)


def _detail(r: BackendRun) -> str:
    noop1 = r.single["noop"]
    single = table(
        ["tool", "p50", "p90", "p99", "max", "p50 / noop", "p99 / noop", "server CPU ms/call", "client CPU ms/call",
         "n"],
        [[t.name, ms(s.p50), ms(s.p90), ms(s.p99), ms(s.max), f"{s.p50 / noop1.p50:.1f}x",
          f"{s.p99 / noop1.p99:.1f}x", f"{r.single_cpu[t.key][0]:.2f}", f"{r.single_cpu[t.key][1]:.2f}", s.n]
         for t in r.tools for s in [r.single[t.key]]],
    )
    noopm = r.many["noop"]
    many = table(
        ["tool", "calls/s", "errors", "p50", "p90", "p99", "max", "calls/s / noop", "server CPU ms/call",
         "client CPU ms/call", "1 core / server CPU (calls/s)"],
        [[t.name, f"{c.per_second:.0f}", c.errors, ms(c.stats.p50), ms(c.stats.p90), ms(c.stats.p99),
          ms(c.stats.max), f"{c.per_second / noopm.per_second:.2f}x", f"{c.server_cpu_ms:.2f}",
          f"{c.client_cpu_ms:.2f}", f"{1000 / c.server_cpu_ms:.0f}" if c.server_cpu_ms else "-"]
         for t in r.tools for c in [r.many[t.key]]],
    )
    errors = "; ".join(f"{t.name}: {c.errors} error(s), the first `{c.first_error}`" for t in r.tools
                       for c in [r.many[t.key]] if c.errors)
    out = [
        f"### {r.backend} ({r.version}): {r.tasks:,} tasks of one user",
        f"Idle, the server used {100 * r.idle_cores:.1f} % of a core (outbox relay and lease polling). Tools: "
        + "; ".join(f"**{t.name}**: {t.describe}" for t in r.tools) + ".",
        "**1 session** (milliseconds)\n\n" + single,
        f"**{SESSIONS} concurrent sessions, closed loop** (milliseconds)\n\n" + many
        + (f"\n\nErrors: {errors}." if errors else ""),
    ]
    if r.shipped:
        rows = [[k, ms(st.p50), ms(st.p99), ms(r.single[k].p50), f"{st.p50 / r.single[k].p50:.1f}x"]
                for k, st in r.shipped.items()]
        stalled = r.shipped["noop"].p50 > 10 * r.single["noop"].p50
        why = (
            "The product's own socket leaves Nagle's algorithm on, and the parts of each SSE response wait for the"
            " client's delayed ACK (~40 ms)." if stalled else
            "No delayed-ACK stall: the product's `listen()` sets TCP_NODELAY itself (since e4acce7), so the bench's"
            " patch changes nothing and the two servers differ only by noise."
        )
        out.append(
            "**The product's own socket setup** (1 session; a second server process on the same database, without"
            f" the bench's TCP_NODELAY patch, measured after the rest). {why}\n\n"
            + table(["tool", "p50 as shipped", "p99 as shipped", "p50 with the bench patch", "ratio"], rows)
        )
    out += harness.server_profile_sections(r.profiles)
    return "\n\n".join(out)
