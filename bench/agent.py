"""Agent overhead per turn, model latency excluded, behind 10, 1,000 and 100,000 earlier messages.

The agent is the one the web host and `todo-agent chat` build (`runtime.chat.build_agent`: the MCP app of this process
reached in-process through an ASGI transport with a 5-minute JWT of audience `mcp`, the conversation store on the
same database), with its chat model replaced by one that answers at once. Two kinds of turn:

- text: one model call whose answer is text;
- tool: one model call asking for `get_task` (a real tool call through MCP to the database), then one model call
  answering in text.

Each conversation's history is bulk-inserted with SQLAlchemy Core (exchanges of a question, a `get_task` call, its
result and an answer, alternating with question-and-answer exchanges), then ANALYZE. After each timed turn the rows
it added are deleted (untimed), so every turn sees the same history. Turns of every kind and size run interleaved,
round by round. Targets (issue 5, "Performance"): p50 below 15 ms, and p50 behind 100,000 messages below 1.5x the
p50 behind 10.
"""

from __future__ import annotations

import asyncio
import cProfile
import dataclasses
import datetime as dt
import functools
import gc
import inspect
import json
import logging
import os
import pstats
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import sqlalchemy as sa
from sqlmodel import col

from agent.agent import Agent
from agent.model import Message as ChatMessage
from agent.model import ModelEnd, ModelEvent, ModelText, ModelToolCall, ToolSpec
from agent.store import Conversation, Message, NewMessage
from agent.window import message_tokens
from bench import harness
from bench.datasets import analyze
from bench.harness import Backend, RunContext, Stats, ms, table
from domain.schemas import TaskCreate
from domain.usecases import Actor, create_task, create_user

NAME = "agent"
TITLE = "Agent overhead per turn, model latency excluded"
P50_TARGET_MS = 15.0
RATIO_TARGET = 1.5
MODES = ("text", "tool")
QUESTION = "what is due this week for the garden project, and which of those are high priority?"
ANSWER = ("Two tasks are due this week: water the plants on Thursday (high priority) and order seeds on Friday; "
          "nothing else in the garden project has a date yet.")


@dataclasses.dataclass(frozen=True)
class InstantModel:
    """A chat model that answers at once: text, or (in `tool` mode) a get_task call first and text after it."""

    task_id: int
    with_tool: bool

    async def stream(self, messages: list[ChatMessage], tools: list[ToolSpec]) -> AsyncIterator[ModelEvent]:  # noqa: ARG002
        if self.with_tool and messages[-1]["role"] == "user":
            yield ModelText("Let me look that up.")
            arguments = json.dumps({"task_id": self.task_id})
            yield ModelToolCall(id=f"call_{uuid.uuid4().hex[:12]}", name="get_task", arguments=arguments)
            yield ModelEnd("TOOL_CALL")
            return
        yield ModelText(ANSWER)
        yield ModelEnd("COMPLETE")


@dataclasses.dataclass(frozen=True)
class History:
    size: int
    conversation_id: int
    last_seq: int


# --------------------------------------------------------------------------------------------------- data


def exchange(n: int, task_id: int, *, with_tool: bool) -> list[NewMessage]:
    """One earlier exchange: a question and an answer, with a get_task call and its result between them."""
    question = NewMessage("user", f"question {n}: {QUESTION}")
    answer = NewMessage("assistant", f"answer {n}: {ANSWER}")
    if not with_tool:
        return [question, answer]
    call_id = f"h{n}"
    call = {"id": call_id, "name": "get_task", "arguments": json.dumps({"task_id": task_id})}
    result = json.dumps({"id": task_id, "title": "Water the plants", "description": "the ones on the balcony too",
                         "status": "open", "priority": "high", "tags": ["garden", "home"], "version": 3,
                         "due_at": "2026-11-26T18:00:00+01:00", "all_day": False, "recurrence": None,
                         "reminders": [30], "created_at": "2026-11-20T09:12:44Z"})
    return [question, NewMessage("assistant", "Let me look that up.", tool_calls=[call]),
            NewMessage("tool", result, tool_call_id=call_id), answer]


def history(size: int, task_id: int) -> list[NewMessage]:
    """`size` messages: a tool exchange (4), then text (2) and tool (4) exchanges in turn; ends with an answer."""
    out = exchange(0, task_id, with_tool=True)
    n = 1
    while len(out) < size:
        out += exchange(n, task_id, with_tool=False) + exchange(n + 1, task_id, with_tool=True)
        n += 2
    if len(out) != size:
        raise ValueError(f"{size} is not 4 + 6k messages")
    return out


async def seed(backend: Backend, user_id: int, size: int, task_id: int) -> History:
    """A conversation of `user_id` active now, holding `size` earlier messages (bulk-inserted)."""
    now = dt.datetime.now(dt.UTC)
    tokens: dict[tuple[str, bool], int] = {}
    rows: list[dict[str, Any]] = []
    for seq, m in enumerate(history(size, task_id), start=1):
        key = (m.role, bool(m.tool_calls))
        if key not in tokens:
            tokens[key] = message_tokens(m)  # the same shape every time: count once per kind
        rows.append({"seq": seq, "role": m.role, "content": m.content, "tool_calls": m.tool_calls,
                     "tool_call_id": m.tool_call_id, "status": m.status, "token_count": tokens[key],
                     "created_at": now - dt.timedelta(seconds=size - seq)})
    async with backend.db.engine.begin() as conn:
        insert = sa.insert(Conversation).values(
            user_id=user_id, started_at=now - dt.timedelta(seconds=size), last_activity_at=now,
            title=f"history of {size:,}")
        conversation_id = (await conn.execute(insert.returning(col(Conversation.id)))).scalar_one() or 0
        for start in range(0, len(rows), 10_000):
            chunk = [r | {"conversation_id": conversation_id} for r in rows[start:start + 10_000]]
            await conn.execute(sa.insert(Message), chunk)
    return History(size, conversation_id, size)


async def forget_turn(backend: Backend, h: History) -> None:
    """Delete what a turn added, so the next turn sees the same history."""
    async with backend.db.engine.begin() as conn:
        await conn.execute(sa.delete(Message).where(
            sa.column("conversation_id") == h.conversation_id, sa.column("seq") > h.last_seq))


# --------------------------------------------------------------------------------------------------- the agent


@asynccontextmanager
async def hosted_agent(backend: Backend) -> AsyncIterator[Agent]:
    """The agent as `runtime.chat.build_agent` builds it, on this backend, with the MCP session manager running."""
    from mcp_server import build_server, http_app
    from runtime.bootstrap import build_runtime, mcp_ports
    from runtime.chat import build_agent, close_agent
    from runtime.settings import Settings

    # As a host configures logging (before MCPServer would install its rich handler at INFO), but at WARNING:
    # at INFO every in-process MCP request is also a log line.
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    with tempfile.TemporaryDirectory(prefix="todo-agent-bench-agent-") as folder:
        settings = Settings(database_url=backend.url, data_dir=folder, secret_key="bench-" + "s" * 40)
        built = build_runtime(settings, role="bench", priority=0)
        await built.db.dispose()  # its own engine is never used: the runtime runs on the backend's
        rt = dataclasses.replace(built, db=backend.db, uow=backend.uow)
        server = build_server(mcp_ports(rt))
        agent = build_agent_with_a_model(build_agent, rt, http_app(server, mcp_ports(rt)), folder)
        async with server.session_manager.run():
            try:
                yield agent
            finally:
                await close_agent(agent)


def build_agent_with_a_model(build: Callable[..., Agent | None], rt: Any, app: Any, folder: str) -> Agent:
    """build_agent builds nothing without a model configured: give it an empty script (the bench swaps models)."""
    script = os.path.join(folder, "script.json")
    with open(script, "w") as handle:
        handle.write("[]")
    saved = os.environ.get("TODO_AGENT_MODEL")
    os.environ["TODO_AGENT_MODEL"] = f"scripted:{script}"
    try:
        agent = build(rt, app)
    finally:
        if saved is None:
            os.environ.pop("TODO_AGENT_MODEL", None)
        else:
            os.environ["TODO_AGENT_MODEL"] = saved
    if agent is None:
        raise RuntimeError("build_agent built no agent")
    return agent


@dataclasses.dataclass
class Bench:
    backend: Backend
    agent: Agent
    user: Actor
    models: dict[str, InstantModel]
    histories: list[History]

    def turn(self, mode: str, h: History) -> Callable[[int], Awaitable[None]]:
        async def one(_i: int) -> None:
            self.agent.model = self.models[mode]
            async for event in self.agent.run_turn(self.user.id, h.conversation_id, message=QUESTION):
                if event.type == "error":
                    raise RuntimeError(f"the turn failed: {event.message}")
                if event.type == "turn_started" and event.new_conversation:
                    raise RuntimeError("the turn started a new conversation")
        return one

    async def forget(self, h: History) -> None:
        await forget_turn(self.backend, h)


@dataclasses.dataclass
class Result:
    mode: str
    size: int
    stats: Stats
    cpu_ms: float
    sql_ms: float
    statements: float


async def measure(b: Bench, n: int, warmup: int) -> list[Result]:
    """Every (mode, size) once per round, each turn's rows deleted after it (untimed)."""
    configs = [(mode, h) for mode in MODES for h in b.histories]
    for mode, h in configs:
        for i in range(warmup):
            await b.turn(mode, h)(i)
            await b.forget(h)
    gc.collect()
    wall: list[list[int]] = [[] for _ in configs]
    cpu: list[int] = [0 for _ in configs]
    for r in range(n):
        for k, (mode, h) in enumerate(configs):
            c0, t0 = time.process_time_ns(), time.perf_counter_ns()
            await b.turn(mode, h)(r)
            wall[k].append(time.perf_counter_ns() - t0)
            cpu[k] += time.process_time_ns() - c0
            await b.forget(h)
    results = []
    for k, (mode, h) in enumerate(configs):
        sql_ms, statements = await sql_per_turn(b, mode, h, max(n // 10, 5))
        results.append(Result(mode, h.size, Stats.of(wall[k]), cpu[k] / n / 1e6, sql_ms, statements))
    return results


async def sql_per_turn(b: Bench, mode: str, h: History, n: int) -> tuple[float, float]:
    sql = count = 0
    for i in range(n):
        with b.backend.recorder.recording() as rec:
            await b.turn(mode, h)(i)
        sql += rec.sql_ns
        count += sum(1 for s in rec.statements if not harness._is_tx_control(s.statement))
        await b.forget(h)
    return sql / n / 1e6, count / n


# --------------------------------------------------------------------------------------------------- running


async def run(ctx: RunContext) -> str:
    sizes = (10, 1_000, 10_000) if ctx.quick else (10, 1_000, 100_000)
    n, warmup = (20, 3) if ctx.quick else (200, 10)
    loads = [harness.load_average()]
    rows: list[list[Any]] = []
    verdicts: list[str] = []
    details: list[str] = []
    for backend_name in ctx.backends:
        async with harness.open_backend(ctx, backend_name, baseline_n=50 if ctx.quick else 300) as backend:
            print(f"\n== {backend_name}", flush=True)
            user, task_id, histories = await prepare(backend, sizes)
            async with hosted_agent(backend) as agent:
                models = {mode: InstantModel(task_id, with_tool=mode == "tool") for mode in MODES}
                b = Bench(backend, agent, user, models, histories)
                results = await measure(b, n, warmup)
                loads.append(harness.load_average())
                for r in results:
                    print(f"  {r.mode:4} {r.size:>7,} earlier: p50 {ms(r.stats.p50):>6} p99 {ms(r.stats.p99):>6} ms"
                          f"  cpu {ms(r.cpu_ms)} ms  sql {ms(r.sql_ms)} ms in {r.statements:.0f} stmts", flush=True)
                rows += summary_rows(backend, results)
                verdicts += verdict_lines(backend, results)
                details.append(await detail(b, ctx))
            loads.append(harness.load_average())
    load = f"{min(loads):.1f} to {max(loads):.1f} (sampled between backends; 2 CPUs)"
    summary = table(["backend", "turn", "earlier messages", "p50", "p90", "p99", "max", "p50 / p50 at 10",
                     "client CPU", "SQL", "stmts", "p50 < 15 ms"], rows)
    print("\n" + summary + "\n\n" + "\n".join(verdicts), flush=True)
    return "\n\n".join([ctx.header(TITLE, load), method(sizes, n), "### Summary (milliseconds)", summary,
                        "\n".join(verdicts), *details])


async def prepare(backend: Backend, sizes: tuple[int, ...]) -> tuple[Actor, int, list[History]]:
    """A user (Europe/Berlin) with one task, and a conversation of each size."""
    user = await create_user(backend.uow, f"agent-{uuid.uuid4().hex[:8]}@example.com", timezone="Europe/Berlin")
    actor = Actor(id=user.id, timezone=user.timezone)
    task = await create_task(backend.uow, actor, TaskCreate(title="Water the plants", priority="high"))
    t0 = time.perf_counter()
    histories = [await seed(backend, user.id, size, task.id) for size in sizes]
    await analyze(backend)
    print(f"  seeded {sum(sizes):,} messages in {time.perf_counter() - t0:.1f} s", flush=True)
    return actor, task.id, histories


def summary_rows(backend: Backend, results: list[Result]) -> list[list[Any]]:
    base = {r.mode: r.stats.p50 for r in results if r.size == min(x.size for x in results)}
    return [[backend.name, r.mode, f"{r.size:,}", ms(r.stats.p50), ms(r.stats.p90), ms(r.stats.p99), ms(r.stats.max),
             f"{r.stats.p50 / base[r.mode]:.2f}x", ms(r.cpu_ms), ms(r.sql_ms), f"{r.statements:.0f}",
             "yes" if r.stats.p50 < P50_TARGET_MS else "**no**"] for r in results]


def verdict_lines(backend: Backend, results: list[Result]) -> list[str]:
    lines = []
    for mode in MODES:
        own = sorted((r for r in results if r.mode == mode), key=lambda r: r.size)
        small, large = own[0], own[-1]
        p50, p99 = large.stats.p50 / small.stats.p50, large.stats.p99 / small.stats.p99
        ok = "meets" if p50 < RATIO_TARGET else "**misses**"
        lines.append(f"- {backend.name}, {mode} turns: {large.size:,} : {small.size:,} earlier messages = {p50:.2f}x"
                     f" at p50 ({p99:.2f}x at p99): {ok} the {RATIO_TARGET}x target; p50"
                     f" {ms(min(r.stats.p50 for r in own))}-{ms(max(r.stats.p50 for r in own))} ms"
                     f" ({'meets' if all(r.stats.p50 < P50_TARGET_MS for r in own) else '**misses**'} 15 ms);"
                     f" client CPU {ms(min(r.cpu_ms for r in own))}-{ms(max(r.cpu_ms for r in own))} ms per turn.")
    return lines


async def detail(b: Bench, ctx: RunContext) -> str:
    floor = "; ".join(f"{k}: p50 {ms(v.p50)} ms" for k, v in b.backend.baseline.items())
    largest = max(b.histories, key=lambda h: h.size)
    n = 20 if ctx.quick else 100
    return "\n\n".join([
        f"### {b.backend.name}: where a turn's time goes\n\nFloor of this engine in the same run: {floor}.",
        await phase_breakdown(b, 10 if ctx.quick else 50),
        await profile_turns(b, "text", largest, n),
        await profile_turns(b, "tool", largest, n),
    ])


# --------------------------------------------------------------------------------------------------- breakdown


class Phases:
    """Wall time per phase of a turn, from wrappers around the store's, the toolbox's and the MCP client's methods.

    Times are exclusive: a wrapped call inside another (the SDK listing the tools inside a tool call) counts for
    itself, not for its caller.
    """

    def __init__(self) -> None:
        self.ns: Counter[str] = Counter()
        self._open: dict[asyncio.Task[Any] | None, list[list[int]]] = {}

    @contextmanager
    def phase(self, label: str) -> Iterator[None]:
        try:
            task = asyncio.current_task()
        except RuntimeError:
            task = None
        stack = self._open.setdefault(task, [])
        inner = [0]
        stack.append(inner)
        t0 = time.perf_counter_ns()
        try:
            yield
        finally:
            elapsed = time.perf_counter_ns() - t0
            stack.pop()
            self.ns[label] += elapsed - inner[0]
            if stack:
                stack[-1][0] += elapsed
            else:
                del self._open[task]

    def timed(self, fn: Callable[..., Any], label: Callable[..., str]) -> Callable[..., Any]:
        if inspect.iscoroutinefunction(fn):
            @functools.wraps(fn)
            async def wrapper(*args: Any, **kwargs: Any) -> Any:
                with self.phase(label(*args, **kwargs)):
                    return await fn(*args, **kwargs)
            return wrapper

        @functools.wraps(fn)
        def plain(*args: Any, **kwargs: Any) -> Any:
            with self.phase(label(*args, **kwargs)):
                return fn(*args, **kwargs)
        return plain

    def factory(self, factory: Callable[[int], Any]) -> Callable[[int], Any]:
        """The toolbox factory with its opening and its closing timed."""
        @asynccontextmanager
        async def timed(user_id: int) -> AsyncIterator[Any]:
            with self.phase("MCP client: connect"):
                opening = factory(user_id)
                toolbox = await opening.__aenter__()
            try:
                yield toolbox
            except BaseException as exc:
                with self.phase("MCP client: close"):
                    if not await opening.__aexit__(type(exc), exc, exc.__traceback__):
                        raise
            else:
                with self.phase("MCP client: close"):
                    await opening.__aexit__(None, None, None)
        return timed


def _phase_targets() -> list[tuple[Any, str, Callable[..., str]]]:
    """(owner, attribute, label of a call) for every method a phase is read from; missing ones are skipped."""
    from mcp.client.session import ClientSession

    import agent.ledger
    import agent.turn
    from agent.mcp_client import McpToolbox
    from agent.store import ConversationStore

    def fixed(name: str) -> Callable[..., str]:
        return lambda *_a, **_k: name

    def tool_call(_self: Any, name: str, *_a: Any, **_k: Any) -> str:
        return "whoami (local time for the prompt)" if name == "whoami" else "tool call (get_task through MCP)"

    return [
        (ConversationStore, "begin_turn", fixed("turn start: session, window and message in one transaction")),
        (ConversationStore, "current_or_new", fixed("session lookup")),
        (ConversationStore, "get", fixed("session lookup")),
        (ConversationStore, "window", fixed("window read")),
        (ConversationStore, "append", fixed("message writes")),
        (ConversationStore, "settle", fixed("tool result writes")),
        (McpToolbox, "tools", fixed("tool list (tools/list + conversion)")),
        (McpToolbox, "call", tool_call),
        (ClientSession, "list_tools", fixed("MCP SDK: tools/list (listing, or before checking a first result)")),
        (ClientSession, "_output_schema_validator", fixed("MCP SDK: compiling an output schema (once per session)")),
        (agent.turn, "assemble", fixed("window assembly (groups, budget, format)")),
        (agent.ledger, "message_tokens", fixed("token counting")),
    ]


@contextmanager
def instrumented(b: Bench, phases: Phases) -> Iterator[None]:
    saved: list[tuple[Any, str, Any]] = []
    for owner, attribute, label in _phase_targets():
        original = owner.__dict__.get(attribute) if isinstance(owner, type) else getattr(owner, attribute, None)
        if original is None:
            continue
        saved.append((owner, attribute, original))
        setattr(owner, attribute, phases.timed(original, label))
    factory = b.agent.toolbox_factory
    b.agent.toolbox_factory = phases.factory(factory)
    try:
        yield
    finally:
        b.agent.toolbox_factory = factory
        for owner, attribute, original in reversed(saved):
            setattr(owner, attribute, original)


async def phase_breakdown(b: Bench, n: int) -> str:
    """Mean wall time per phase and turn, for each kind of turn at the smallest and largest history."""
    columns: list[tuple[str, Phases, float]] = []
    for mode in MODES:
        for h in (min(b.histories, key=lambda x: x.size), max(b.histories, key=lambda x: x.size)):
            phases, total = Phases(), 0
            with instrumented(b, phases):
                for i in range(n):
                    t0 = time.perf_counter_ns()
                    await b.turn(mode, h)(i)
                    total += time.perf_counter_ns() - t0
                    await b.forget(h)
            columns.append((f"{mode}, {h.size:,}", phases, total / n / 1e6))
    names = list(dict.fromkeys(name for _c, p, _t in columns for name in sorted(p.ns, key=lambda k: -p.ns[k])))
    rows = [[name, *(ms(p.ns[name] / n / 1e6) for _c, p, _t in columns)] for name in names]
    rows.append(["the rest (model, events, queue, task switches)",
                 *(ms(t - sum(p.ns.values()) / n / 1e6) for _c, p, t in columns)])
    rows.append(["**turn (instrumented)**", *(ms(t) for _c, _p, t in columns)])
    rows.append(["**the agent's own share** (the turn without MCP client and tool phases)",
                 *(ms(t - sum(v for k, v in p.ns.items() if k.startswith(MCP_PHASES)) / n / 1e6)
                   for _c, p, t in columns)])
    head = (f"Wall time per turn by phase (mean of {n} turns, milliseconds; wrappers around the store's, the"
            " toolbox's and the MCP client's methods, each phase exclusive of the phases inside it and including"
            " its waits):")
    return head + "\n\n" + table(["phase", *(c for c, _p, _t in columns)], rows) + "\n\n" + sdk_note(columns, n)


def sdk_note(columns: list[tuple[str, Phases, float]], n: int) -> str:
    """What the MCP client's once-per-session work costs the turns that call a tool."""
    parts = []
    for name, p, total in columns:
        sdk = sum(v for k, v in p.ns.items() if k.startswith("MCP SDK")) / n / 1e6
        if sdk > 0:
            call = p.ns["tool call (get_task through MCP)"] / n / 1e6
            parts.append(f"{name}: {ms(sdk)} of {ms(total)} ms, the call itself {ms(call)} ms")
    return (
        "In a turn that calls a tool, the MCP client (SDK) does work once per session: it lists the tools before"
        " checking the session's first result, then compiles the tool's output schema (a JSON Schema 2020-12"
        " metaschema check). The agent opens one session per turn that calls a tool, so every such turn pays it ("
        + "; ".join(parts) + ")."
    )


MCP_PHASES = ("MCP", "tool call", "tool list", "whoami")


# --------------------------------------------------------------------------------------------------- profile

_PROFILE_BUCKETS = [
    ("agent", ("/main/agent/",)),
    ("MCP server (tools, auth context)", ("/mcp_server/",)),
    ("domain (use cases, views)", ("/domain/",)),
    ("web host (chat factory)", ("/main/web/",)),
    ("MCP SDK (client and server sessions, schemas)", ("site-packages/mcp/",)),
    ("pydantic", ("pydantic",)),
    ("SQLAlchemy + SQLModel", ("sqlalchemy", "sqlmodel")),
    ("database driver (aiosqlite / psycopg)", ("aiosqlite", "psycopg", "sqlite3")),
    ("in-process HTTP (httpx2, httpcore, starlette, sse)", ("httpx", "httpcore", "starlette", "sse_starlette")),
    ("anyio", ("anyio",)),
    ("JWT", ("/jwt/",)),
    ("tiktoken", ("tiktoken",)),
    ("asyncio, threads, queues", ("asyncio", "threading", "queue", "selectors", "concurrent")),
    ("jsonschema + referencing (MCP SDK output checks)", ("jsonschema", "referencing", "rpds")),
    ("json, logging, typing, other stdlib", ("json", "logging", "typing", "lib/python3")),
]


def _profile_bucket(filename: str, function: str) -> str:
    if filename == "~":
        if "CoreBPE" in function or "tiktoken" in function:
            return "tiktoken"
        if "poll" in function or "select" in function:
            return "waiting (epoll: the database, threads)"
        return "built-in C functions (json, uuid, re, ...)"
    for name, parts in _PROFILE_BUCKETS:
        if any(p in filename for p in parts):
            return name
    return "other Python"


async def profile_turns(b: Bench, mode: str, h: History, n: int) -> str:
    """cProfile of `n` turns (deletes between them not profiled): own time per turn by package and by function."""
    prof = cProfile.Profile()
    wall = 0
    for i in range(n):
        t0 = time.perf_counter_ns()
        prof.enable()
        await b.turn(mode, h)(i)
        prof.disable()
        wall += time.perf_counter_ns() - t0
        await b.forget(h)
    raw: dict[Any, Any] = pstats.Stats(prof).stats  # type: ignore[attr-defined]
    sums: Counter[str] = Counter()
    for (filename, _line, function), (_cc, _nc, own, _cum, _callers) in raw.items():
        sums[_profile_bucket(filename, function)] += own
    buckets = [(k, ms(v * 1000 / n)) for k, v in sums.most_common() if v * 1000 / n >= 0.01]
    ranked = sorted(raw.items(), key=lambda kv: -kv[1][2])[:20]
    top = [(f"`{harness._short(f'{f}:{line}({fn})')}`", nc // n, ms(own * 1000 / n), ms(cum * 1000 / n))
           for (f, line, fn), (_cc, nc, own, cum, _callers) in ranked]
    print(f"\n  profile of {mode} turns behind {h.size:,} messages on {b.backend.name}:\n"
          + table(["where", "ms per turn"], buckets), flush=True)
    head = (f"cProfile of {n} {mode} turns behind {h.size:,} messages ({ms(wall / n / 1e6)} ms per turn under the"
            " profiler, which roughly doubles Python's cost): own time per turn by package.")
    return "\n\n".join([head, table(["where", "ms per turn"], buckets),
                         "<details><summary>Top functions by own time</summary>\n\n"
                         + table(["function", "calls per turn", "own ms", "cumulative ms"], top) + "\n\n</details>"])


def method(sizes: tuple[int, ...], n: int) -> str:
    return (
        f"Each (turn kind, history size) ran {n} times, interleaved round by round after a warm-up; histories of "
        f"{', '.join(f'{s:,}' for s in sizes)} earlier messages in conversations of one user (all in one database, "
        "so the small conversations live in a table of 100,000+ rows). A turn is timed from `run_turn` to its last"
        " event, as a host consumes it: session lookup, window read, system prompt (with the user's local time),"
        " tool list, the MCP round trips in-process (ASGI transport, JWT check, the tool's use case), token counting"
        " and every write. The agent is one per process, as in the hosts, so what it caches (the tool list for"
        " 10 minutes, the user's timezone for 5) is warm after the first turn and expires during the run like in"
        " use. `client CPU` is this process's CPU time per turn (every thread: the MCP server and SQLite's thread"
        " included; PostgreSQL's server work not): unlike wall time it does not grow while the process waits for"
        " a core on this shared machine. `SQL` is the time inside cursor.execute per turn and `stmts` the"
        " statements per turn (transaction control not counted), over separate turns. Logging at WARNING."
    )
