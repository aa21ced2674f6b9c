"""REST over real HTTP: create, get and filtered lists against a no-op endpoint of the same server, in the same run.

The server is the real web host (`python -m bench.server`: `todo-agent serve` plus the bench-only `GET /bench/noop`
and `GET /bench/noop-auth` on its own app instance) in a process of its own, on SQLite and PostgreSQL, with one
user owning 10,000 tasks (the usecases dataset) and a personal API token. The load generator is this process: a
minimal HTTP/1.1 keep-alive client on asyncio (a request is a few prebuilt bytes; ~0.1 ms of client CPU each, so
the client leaves the second core to the server). Three measurements:

1. 1 client: one connection, one request at a time, the operations interleaved round by round.
2. Open loop: 100 users x 2 requests/s = 200 requests/s on a fixed schedule (evenly spaced send times, 100
   keep-alive connections, more opened when all are busy), latency measured from each request's SCHEDULED send
   time, so a stalled server or client is charged in full (no coordinated omission).
3. Maximum sustainable throughput: the same open loop, the rate raised step by step until p99 exceeds 100 ms, a
   request fails, or fewer than 95 % of the scheduled requests complete within the step.

Targets (issue 3, "Performance"; 2 cores): filtered list over 10,000 tasks p99 < 25 ms at 200 requests/s; create
p50 at 1 client at most 3x the no-op endpoint's p50.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import json
import random
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from bench import harness
from bench.datasets import SEED, DatasetSpec, new_task
from bench.harness import CpuMeter, RunContext, SampledProfile, Stats, ms, table
from bench.live import LiveServer, live_data, live_server, load_text, settle, stack_versions

NAME = "rest"
TITLE = "REST over HTTP: create, get, filtered list vs a no-op endpoint"
LIST_P99_MS = 25.0
CREATE_RATIO = 3.0
LOAD_RATE = 200.0  # 100 users x 2 requests/s
USERS = 100
MAX_CONNECTIONS = 400  # the open loop opens more connections than USERS when all are busy, up to this
RAMP_P99_MS = 100.0
RAMP_RATES = [50, 100, 150, 200, 250, 300, 400, 500, 650, 800, 1000, 1300, 1600, 2000, 2500, 3200]

# --------------------------------------------------------------------------------------------------- HTTP client


class HttpConnection:
    """One HTTP/1.1 keep-alive connection: send prebuilt request bytes, read the status and body."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def open(self) -> HttpConnection:
        self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        return self

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None

    async def send(self, request: bytes) -> tuple[int, bytes]:
        if self._writer is None:
            await self.open()
        assert self._reader is not None and self._writer is not None
        self._writer.write(request)
        head = await self._reader.readuntil(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        length, chunked, close = 0, False, False
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding" and b"chunked" in value.lower():
                chunked = True
            elif name == b"connection" and b"close" in value.lower():
                close = True
        if chunked:
            body = bytearray()
            while True:
                size = int((await self._reader.readuntil(b"\r\n")).split(b";")[0], 16)
                body += await self._reader.readexactly(size + 2)
                if size == 0:
                    break
                del body[-2:]
            payload = bytes(body)
        else:
            payload = await self._reader.readexactly(length)
        if close:
            self.close()
        return status, payload


def http_get(server: LiveServer, path: str, *, auth: bool = True) -> bytes:
    token = f"Authorization: Bearer {server.token}\r\n" if auth else ""
    return f"GET {path} HTTP/1.1\r\nHost: {server.host}:{server.port}\r\n{token}\r\n".encode()


def http_post(server: LiveServer, path: str, body: dict[str, Any]) -> bytes:
    data = json.dumps(body).encode()
    return (
        f"POST {path} HTTP/1.1\r\nHost: {server.host}:{server.port}\r\nAuthorization: Bearer {server.token}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n"
    ).encode() + data


# --------------------------------------------------------------------------------------------------- operations


@dataclasses.dataclass
class Op:
    key: str
    name: str
    request: Callable[[int], bytes]
    describe: str
    expect: int = 200
    baseline: bool = False

    @property
    def is_list(self) -> bool:
        return self.key.startswith("list")


def operations(server: LiveServer, rng: random.Random) -> list[Op]:
    actor, data = server.actor, server.data
    ids = list(data.live_ids[actor.id])
    rng.shuffle(ids)
    top_tag = data.tags[actor.id][0]
    top_project = data.projects[actor.id][1]  # the biggest project after the Inbox
    today = dt.datetime.now(actor.tz).date()
    bodies = [new_task(rng, data.tags[actor.id], today).model_dump(mode="json", exclude_none=True)
              for _ in range(500)]
    filtered = "/api/v1/tasks?" + urlencode({"status": "open", "priority": "high", "sort": "due", "limit": 20})
    tagged = "/api/v1/tasks?" + urlencode({"tag": top_tag, "limit": 20})
    in_project = "/api/v1/tasks?" + urlencode({"project": top_project, "limit": 20})
    noop, noop_auth = http_get(server, "/bench/noop", auth=False), http_get(server, "/bench/noop-auth")
    list_filtered, list_tag = http_get(server, filtered), http_get(server, tagged)
    list_project = http_get(server, in_project)
    return [
        Op("noop", "no-op endpoint", lambda _i: noop, "GET /bench/noop: no auth, no database", baseline=True),
        Op("noop-auth", "no-op + bearer token", lambda _i: noop_auth,
           "GET /bench/noop-auth: the API-token dependency only (one read transaction)"),
        Op("create", "create", lambda i: http_post(server, "/api/v1/tasks", bodies[i % len(bodies)]),
           "POST /api/v1/tasks: title, description, priority, 0-3 tags, 70 % with a due", expect=201),
        Op("get", "get", lambda i: http_get(server, f"/api/v1/tasks/{ids[i % len(ids)]}"),
           "GET /api/v1/tasks/{id}, random live ids"),
        Op("list-filtered", "list status+priority", lambda _i: list_filtered, f"GET {filtered}"),
        Op("list-tag", "list tag", lambda _i: list_tag, f"GET {tagged} (the most used tag)"),
        Op("list-project", "list project", lambda _i: list_project,
           f"GET {in_project} (the biggest project but the Inbox)"),
    ]


# --------------------------------------------------------------------------------------------------- measurements


async def one_client(server: LiveServer, ops: list[Op], n: int, warmup: int) -> dict[str, Stats]:
    """One connection, one request at a time; the operations interleaved round by round."""
    conn = await HttpConnection(server.host, server.port).open()

    def caller(op: Op) -> Callable[[int], Any]:
        async def call(i: int) -> None:
            status, body = await conn.send(op.request(i))
            if status != op.expect:
                raise RuntimeError(f"{op.name}: HTTP {status}: {body[:300]!r}")
        return call

    try:
        stats = await harness.measure_interleaved([(caller(op), n) for op in ops], warmup=warmup)
    finally:
        conn.close()
    return {op.key: s for op, s in zip(ops, stats, strict=True)}


@dataclasses.dataclass
class Load:
    rate: float
    seconds: float
    sent: int
    ok: int
    errors: int
    achieved: float  # completed requests per second over the step
    stats: Stats | None
    server_cpu_ms: float  # per request
    client_cpu_ms: float  # per request
    connections: int
    error_kinds: dict[str, int] = dataclasses.field(default_factory=dict)

    @property
    def overloaded(self) -> bool:
        """Requests failed or were still queued: CPU per request then means little (part of the work was for
        requests that timed out, part happens after the window)."""
        return self.errors > 0 or self.ok < 0.95 * self.sent

    def sustained(self) -> bool:
        return (self.errors == 0 and self.stats is not None and self.stats.p99 <= RAMP_P99_MS
                and self.ok >= 0.95 * self.sent)

    def why_not(self) -> str:
        if self.errors:
            return f"{self.errors} errors"
        if self.stats is None or self.ok < 0.95 * self.sent:
            return f"only {self.ok} of {self.sent} completed"
        return f"p99 {ms(self.stats.p99)} ms"


async def open_loop(server: LiveServer, op: Op, rate: float, seconds: float, *, users: int = USERS,
                    timeout: float = 10.0) -> Load:
    """Send `rate` requests/s for `seconds` on a fixed schedule; latency counts from each scheduled send time."""
    everyone = [await HttpConnection(server.host, server.port).open() for _ in range(users)]
    idle: asyncio.Queue[HttpConnection] = asyncio.Queue()
    for conn in everyone:
        idle.put_nowait(conn)
    opened = users
    samples: list[int] = []
    errors = 0
    kinds: dict[str, int] = {}
    last_done_ns = 0
    n = max(1, int(rate * seconds))
    interval_ns = int(1e9 / rate)
    pending: set[asyncio.Task[None]] = set()

    async def one(i: int, scheduled_ns: int) -> None:
        nonlocal errors, opened, last_done_ns
        if idle.empty() and opened < MAX_CONNECTIONS:
            conn = HttpConnection(server.host, server.port)
            everyone.append(conn)
            opened += 1
        else:  # at the cap, wait for a connection: the wait counts, latency runs from the scheduled time
            conn = await idle.get()
        try:
            status, _body = await asyncio.wait_for(conn.send(op.request(i)), timeout)
        except (OSError, TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError,
                IndexError) as exc:
            conn.close()
            errors += 1
            kind = "timeout" if isinstance(exc, TimeoutError) else type(exc).__name__
            kinds[kind] = kinds.get(kind, 0) + 1
        else:
            if status == op.expect:
                last_done_ns = time.perf_counter_ns()
                samples.append(last_done_ns - scheduled_ns)
            else:
                errors += 1
                kinds[f"HTTP {status}"] = kinds.get(f"HTTP {status}", 0) + 1
        idle.put_nowait(conn)

    start_ns = time.perf_counter_ns() + 20_000_000
    with CpuMeter(server.pid) as cpu:
        i = 0
        while i < n:
            now = time.perf_counter_ns()
            while i < n and start_ns + i * interval_ns <= now:
                task = asyncio.create_task(one(i, start_ns + i * interval_ns))
                pending.add(task)
                task.add_done_callback(pending.discard)
                i += 1
            if i < n:
                await asyncio.sleep(max(0.0, (start_ns + i * interval_ns - time.perf_counter_ns()) / 1e9))
        if pending:
            _done, late = await asyncio.wait(set(pending), timeout=timeout + 1)
            for task in late:
                task.cancel()
            errors += len(late)
            if late:
                kinds["still waiting at the end"] = len(late)
    wall = max(n * interval_ns, last_done_ns - start_ns) / 1e9
    for conn in everyone:
        conn.close()
    return Load(
        rate=rate, seconds=seconds, sent=n, ok=len(samples), errors=errors, achieved=len(samples) / wall,
        stats=Stats.of(samples) if samples else None, server_cpu_ms=1000 * cpu.server / n,
        client_cpu_ms=1000 * cpu.client / n, connections=opened, error_kinds=kinds,
    )


async def ramp(server: LiveServer, op: Op, step_s: float, rates: list[int], *, timeout: float = 10.0
               ) -> list[Load]:
    """Raise the open-loop rate until a step is not sustained; the steps run, the last one failing."""
    steps: list[Load] = []
    await settle(server.pid)
    for rate in rates:
        step = await open_loop(server, op, rate, step_s, timeout=timeout)
        if not step.sustained() and step.errors == 0 and step.ok >= 0.95 * step.sent:
            # Only p99 failed: on a shared machine one neighbour's burst can do that; the step gets a second try.
            await settle(server.pid)
            step = min(step, await open_loop(server, op, rate, step_s, timeout=timeout),
                       key=lambda s: s.stats.p99 if s.stats else float("inf"))
        steps.append(step)
        print(f"    ramp {op.key:14} {rate:5d}/s: p99 {ms(step.stats.p99) if step.stats else '-':>6} ms,"
              f" {step.achieved:6.0f}/s done, {step.errors} errors,"
              f" server CPU {step.server_cpu_ms:.2f} ms/req", flush=True)
        if not step.sustained():
            break
        await settle(server.pid)
    return steps


async def sequential_for(server: LiveServer, op: Op, seconds: float) -> int:
    """One client, one request at a time, for `seconds` (for a profile); returns the number of requests."""
    conn = await HttpConnection(server.host, server.port).open()
    end = time.perf_counter() + seconds
    i = 0
    try:
        while time.perf_counter() < end:
            await conn.send(op.request(i))
            i += 1
    finally:
        conn.close()
    return i


# --------------------------------------------------------------------------------------------------- running


@dataclasses.dataclass
class BackendRun:
    backend: str
    version: str
    tasks: int
    started_s: float
    load_s: float
    idle_cores: float
    ops: list[Op]
    single: dict[str, Stats]
    loaded: dict[str, Load]
    ramps: dict[str, list[Load]]
    profiles: list[tuple[str, str, SampledProfile | None]] = dataclasses.field(default_factory=list)
    shipped: dict[str, Stats] = dataclasses.field(default_factory=dict)  # 1 client, server as shipped

    def op(self, key: str) -> Op:
        return next(o for o in self.ops if o.key == key)

    def max_rate(self, key: str) -> Load | None:
        passed = [s for s in self.ramps.get(key, []) if s.sustained()]
        return passed[-1] if passed else None


async def run_backend(ctx: RunContext, backend_name: str) -> BackendRun:
    spec = DatasetSpec("rest", 1, 2_000 if ctx.quick else 10_000)
    n, warmup = (40, 5) if ctx.quick else (500, 30)
    load_s = 1.5 if ctx.quick else 20.0
    timeout = 3.0 if ctx.quick else 10.0  # a request still unanswered after this counts as an error
    load_keys = ("noop", "list-filtered") if ctx.quick else ("noop", "noop-auth", "create", "get",
                                                                      "list-filtered", "list-tag", "list-project")
    async with live_data(ctx, backend_name, spec) as live:
        async with live_server(live, idle_s=1.0 if ctx.quick else 3.0) as server:
            print(f"\n== {backend_name}: {spec.label}, loaded in {server.data.load_seconds:.1f} s; server pid"
                  f" {server.pid} up in {server.started_s:.1f} s at {server.url}", flush=True)
            ops = operations(server, random.Random(SEED + 2))
            by = {op.key: op for op in ops}
            await settle(server.pid)
            single = await one_client(server, ops, n, warmup)
            noop = single["noop"].p50
            for op in ops:
                s = single[op.key]
                print(f"  1 client  {op.key:14} p50 {ms(s.p50):>6} p99 {ms(s.p99):>6} ms"
                      f"  ({s.p50 / noop:.1f}x no-op)", flush=True)
            loaded: dict[str, Load] = {}
            for op in (by[key] for key in load_keys):
                await settle(server.pid)
                loaded[op.key] = load = await open_loop(server, op, LOAD_RATE, load_s, timeout=timeout)
                st = load.stats
                print(f"  200/s     {op.key:14} p50 {ms(st.p50) if st else '-':>6}"
                      f" p99 {ms(st.p99) if st else '-':>6} ms, {load.errors} errors, server CPU"
                      f" {load.server_cpu_ms:.2f} ms/req, client CPU {load.client_cpu_ms:.2f} ms/req", flush=True)
            ramp_ops = ["noop", "list-filtered"] if ctx.quick else ["noop", "noop-auth", "create", "get",
                                                                    "list-filtered", "list-tag", "list-project"]
            rates = RAMP_RATES[:4] if ctx.quick else RAMP_RATES
            ramps = {key: await ramp(server, by[key], 1.0 if ctx.quick else 5.0, rates, timeout=timeout)
                     for key in ramp_ops}
            result = BackendRun(backend_name, server.backend.server_version, spec.users * spec.per_user,
                                server.started_s, load_s, server.idle_cores, ops, single, loaded, ramps)
            await profile_misses(ctx, server, result)
        if ctx.quick:  # the socket regression check needs a second server: full runs only
            return result
        async with live_server(live, nodelay=False) as shipped:
            keys = ("noop", "get", "list-filtered")
            shipped_ops = [op for op in operations(shipped, random.Random(SEED + 3)) if op.key in keys]
            result.shipped = await one_client(shipped, shipped_ops, 100, 3)
            print("  product's own socket (no bench TCP_NODELAY patch), 1 client: " + ", ".join(
                f"{k} p50 {ms(v.p50)} ms" for k, v in result.shipped.items()), flush=True)
    return result


async def profile_misses(ctx: RunContext, server: LiveServer, r: BackendRun) -> None:
    """py-spy the server while it repeats each operation that misses its target (and the no-op for reference)."""
    if harness.pyspy() is None:
        r.profiles.append(("", "py-spy is not installed (`pip install py-spy`): no profiles", None))
        return
    seconds = 1.5 if ctx.quick else 12.0
    wanted: list[tuple[str, str]] = []
    if r.single["create"].p50 > CREATE_RATIO * r.single["noop"].p50:
        wanted.append(("create", "1 client"))
    for key in ("list-filtered", "list-tag", "list-project"):
        if key not in r.loaded:
            continue
        st = r.loaded[key].stats
        if st is None or st.p99 >= LIST_P99_MS:
            wanted.append((key, f"{LOAD_RATE:.0f}/s"))
    if wanted:
        wanted.insert(0, ("noop", "1 client"))
    for key, how in wanted:
        op = r.op(key)
        await settle(server.pid)
        if how == "1 client":
            prof, count = await asyncio.gather(harness.sample_profile(server.pid, seconds),
                                               sequential_for(server, op, seconds + 0.5))
            what = f"{op.name}, 1 client ({count} requests in {seconds + 0.5:.0f} s)"
        else:
            prof, _load = await asyncio.gather(harness.sample_profile(server.pid, seconds),
                                               open_loop(server, op, LOAD_RATE, seconds + 1.0, timeout=3.0))
            what = f"{op.name}, open loop at {how}"
        print(f"  profiled {what}", flush=True)
        r.profiles.append((key, what, prof))


async def run(ctx: RunContext) -> str:
    runs, loads = await harness.each_backend(ctx, run_backend)
    body = render(ctx, runs)
    print("\n" + _summary(runs), flush=True)
    load = load_text(loads)
    return ctx.header(TITLE, load) + f"- web stack: {stack_versions()}\n\n" + body


# --------------------------------------------------------------------------------------------------- report


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.1f}x" if b else "-"


def render(ctx: RunContext, runs: list[BackendRun]) -> str:
    parts = [_method(ctx), _summary(runs)]
    for r in runs:
        parts.append(_detail(r))
    return "\n\n".join(parts)


def _method(ctx: RunContext) -> str:
    data = "2,000 tasks (quick)" if ctx.quick else "10,000 tasks"
    return (
        f"One user with {data} (the usecases dataset: 30 % completed, 2 % deleted, 70 % with a due, 0-3 of 30 tags)"
        " and a personal API token, sent as `Authorization: Bearer` on every request but the no-op. The server is"
        " `python -m bench.server` (the real `todo-agent serve`, one uvicorn process, plus the bench-only no-op"
        " routes on its own app instance) in its own process; the load generator is the benchmark process, a"
        " minimal asyncio HTTP/1.1 keep-alive client (prebuilt request bytes). **1 client**: one connection,"
        " one request at a time, all operations interleaved round by round. **Open loop**: 100 users x 2"
        " requests/s = 200 requests/s, evenly spaced send times, latency measured from each request's scheduled"
        " send time (no coordinated omission). **Max throughput**: the open loop raised step by step"
        f" ({', '.join(map(str, RAMP_RATES[:8]))}, ... requests/s, {'1' if ctx.quick else '5'} s each) until p99 >"
        f" {RAMP_P99_MS:.0f} ms, an error, or < 95 % of the step's requests completing (a step failing on p99 alone"
        " gets a second try, the better one counts); the figure is the last step sustained. `server CPU` is the"
        " server process's user+system CPU time per request (from /proc;"
        " PostgreSQL's own backends are separate processes and not included), `client CPU` the load generator's:"
        " unlike latency, neither grows while a process waits for a core, so they are the steadiest figures on"
        " this shared 2-core machine. Ratios divide by the no-op endpoint measured in the same run."
    )


def _summary(runs: list[BackendRun]) -> str:
    rows: list[list[Any]] = []
    for r in runs:
        noop1, create1 = r.single["noop"], r.single["create"]
        rows.append([r.backend, "create p50, 1 client", f"<= {CREATE_RATIO:.0f}x no-op p50",
                     f"{ms(create1.p50)} ms = {create1.p50 / noop1.p50:.1f}x ({ms(noop1.p50)} ms)",
                     "yes" if create1.p50 <= CREATE_RATIO * noop1.p50 else "**no**"])
        for key in ("list-filtered", "list-tag", "list-project"):
            if key not in r.loaded:
                continue
            load = r.loaded[key]
            p99 = load.stats.p99 if load.stats else float("inf")
            met = p99 < LIST_P99_MS and load.errors == 0
            rows.append([r.backend, f"{r.op(key).name} p99 at {LOAD_RATE:.0f}/s", f"< {LIST_P99_MS:.0f} ms",
                         f"{ms(p99)} ms, {load.errors} errors", "yes" if met else "**no**"])
    return "### Summary: targets\n\n" + table(["backend", "figure", "target", "measured", "met"], rows)


def _detail(r: BackendRun) -> str:
    noop1 = r.single["noop"]
    single = table(
        ["operation", "p50", "p90", "p99", "max", "p50 / no-op", "p99 / no-op", "n"],
        [[op.name, ms(s.p50), ms(s.p90), ms(s.p99), ms(s.max), _ratio(s.p50, noop1.p50), _ratio(s.p99, noop1.p99),
          s.n] for op in r.ops for s in [r.single[op.key]]],
    )
    noopl = r.loaded["noop"].stats
    loaded_rows = []
    for op in r.ops:
        if op.key not in r.loaded:
            continue
        load = r.loaded[op.key]
        st = load.stats
        loaded_rows.append([
            op.name, f"{load.achieved:.0f}",
            ", ".join(f"{v} {k}" for k, v in load.error_kinds.items()) if load.errors else "0",
            ms(st.p50) if st else "-", ms(st.p90) if st else "-",
            ms(st.p99) if st else "-", ms(st.max) if st else "-",
            _ratio(st.p50, noopl.p50) if st and noopl else "-", _ratio(st.p99, noopl.p99) if st and noopl else "-",
            "overloaded" if load.overloaded else f"{load.server_cpu_ms:.2f}", f"{load.client_cpu_ms:.2f}",
        ])
    loaded = table(["operation", "done/s", "errors", "p50", "p90", "p99", "max", "p50 / no-op", "p99 / no-op",
                    "server CPU ms/req", "client CPU ms/req"], loaded_rows)
    ramp_rows = []
    noop_max = r.max_rate("noop")
    for key, steps in r.ramps.items():
        best = r.max_rate(key)
        failed = steps[-1] if steps and not steps[-1].sustained() else None
        ceiling = 1000 / best.server_cpu_ms if best and best.server_cpu_ms > 0 else float("nan")
        ramp_rows.append([
            r.op(key).name, f"{best.rate:.0f}" if best else "< " + f"{steps[0].rate:.0f}",
            f"{best.achieved:.0f}" if best else "-",
            ms(best.stats.p50) if best and best.stats else "-", ms(best.stats.p99) if best and best.stats else "-",
            f"{failed.rate:.0f}/s: {failed.why_not()}" if failed else "not reached",
            f"{best.server_cpu_ms:.2f}" if best else "-", f"{best.client_cpu_ms:.2f}" if best else "-",
            f"{ceiling:.0f}" if best else "-",
            f"{best.rate / noop_max.rate:.2f}x" if best and noop_max else "-",
        ])
    ramps = table(["operation", "max sustained req/s", "done/s", "p50", "p99", "first step not sustained",
                   "server CPU ms/req", "client CPU ms/req", "1 core / server CPU (req/s)", "max / no-op max"],
                  ramp_rows)
    out = [
        f"### {r.backend} ({r.version}): {r.tasks:,} tasks of one user",
        f"Server up in {r.started_s:.1f} s; idle, it used {100 * r.idle_cores:.1f} % of a core (the outbox relay"
        " polls 5 times a second, the lease is renewed): at a low request rate that shows as extra CPU per request."
        " Requests: " + "; ".join(f"**{op.name}** `{op.describe}`" for op in r.ops)
        + ".",
        "**1 client** (milliseconds)\n\n" + single,
        f"**Open loop, {USERS} users x 2 requests/s = {LOAD_RATE:.0f} requests/s for {r.load_s:.0f} s** (milliseconds"
        " from the scheduled send time)\n\n" + loaded,
        "**Maximum sustainable throughput** (open loop, rate raised until a step fails; milliseconds)\n\n" + ramps,
    ]
    if r.shipped:
        rows = [[r.op(k).name, ms(st.p50), ms(st.p99), ms(r.single[k].p50), f"{st.p50 / r.single[k].p50:.1f}x"]
                for k, st in r.shipped.items()]
        stalled = r.shipped["noop"].p50 > 10 * r.single["noop"].p50
        why = (
            "`todo-agent serve` binds with socket.create_server (protocol 0), so asyncio leaves Nagle's algorithm"
            " on for accepted connections; uvicorn writes a response's headers and body separately and the body"
            " waits for the client's delayed ACK (~40 ms) on every keep-alive request after the first. Every other"
            " table here is measured with TCP_NODELAY set on the listening socket (inherited on Linux), the fix."
            if stalled else
            "No delayed-ACK stall: the product's `listen()` sets TCP_NODELAY on the listening socket itself (since"
            " e4acce7), so the bench's patch changes nothing and the two servers differ only by noise."
        )
        out.append(
            "**The product's own socket setup** (1 client; a second server process on the same database, without"
            f" the bench's TCP_NODELAY patch, measured after the rest). {why}\n\n"
            + table(["operation", "p50 as shipped", "p99 as shipped", "p50 with the bench patch", "ratio"], rows)
        )
    out += harness.server_profile_sections(r.profiles)
    return "\n\n".join(out)
