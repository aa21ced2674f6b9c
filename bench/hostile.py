"""The security review's attacks replayed against a real server (`python -m bench --only hostile`).

Each figure comes with a baseline measured in the same run on the same server, because this machine is shared
and noisy. The server is `python -m bench.server` (the real `todo-agent serve`) in a process of its own, on a
fresh database per backend: one user ("Bob") with the dataset's tasks, and a second user ("Alice") with 20.

- Body limit: a 64 MiB body sent to the unauthenticated login route, with Content-Length and chunked: how long
  until the server answers, and its resident memory (VmRSS / high-water mark VmHWM) before and after six at once.
- Registrations: `/healthz` latency while 20 registrations (argon2 hashes) run at once, against `/healthz` alone.
  The per-address registration limit is raised for this server so all 20 reach the hasher.
- MCP sessions: how many streamable-HTTP sessions one user holds after opening 40, and whether another user can
  still open one.
- Tags: a task with 40,000 tags (the review's 380 KiB request), and `/healthz` while it is answered.
- Streams: how many `/api/v1/stream` connections of one user stay open after opening 15.
- Search: Alice's search with many one-letter prefixes next to Bob's tasks, against her one-word search.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx

from bench import harness
from bench.datasets import DatasetSpec
from bench.harness import RunContext
from bench.live import LiveData, LiveServer, live_data, live_server, load_text
from domain.schemas import TaskCreate
from domain.usecases import create_api_token, create_task, create_user

MIB = 1 << 20
PASSWORD = "correct horse battery staple"
INIT = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
    "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "bench", "version": "0"}}}
MCP_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
# The bench server lets 1,000 registrations per address an hour through, so the argon2 load is real.
SERVER_ENV = {"TODO_AGENT_REGISTER_PER_HOUR": "1000"}


@dataclass
class Memory:
    rss_mib: float
    peak_mib: float


def memory(pid: int) -> Memory:
    """The server's resident memory now and its high-water mark (from /proc)."""
    fields: dict[str, float] = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            name, _, value = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                fields[name] = int(value.split()[0]) / 1024
    return Memory(fields.get("VmRSS", float("nan")), fields.get("VmHWM", float("nan")))


# ---------------------------------------------------------------------------------------------------- body limit


async def oversized_post(
    host: str, port: int, path: str, size: int, *, chunked: bool
) -> tuple[int | str, float]:
    """Send a `size`-byte body as fast as the socket takes it; the status ("reset" when the connection was reset
    before the answer could be read) and the seconds until the answer came."""
    reader, writer = await asyncio.open_connection(host, port)
    framing = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {size}"
    writer.write(f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n{framing}\r\n"
                 "Connection: close\r\n\r\n".encode())
    t0 = time.perf_counter()

    async def send() -> None:
        piece = b"A" * (256 * 1024)
        sent = 0
        try:
            while sent < size:
                block = piece[: size - sent]
                writer.write(f"{len(block):x}\r\n".encode() + block + b"\r\n" if chunked else block)
                await writer.drain()
                sent += len(block)
            if chunked:
                writer.write(b"0\r\n\r\n")
                await writer.drain()
        except (ConnectionError, OSError):
            pass  # the server answered and closed: that is the point

    sender = asyncio.create_task(send())
    try:
        line = await asyncio.wait_for(reader.readline(), 120)
    except (ConnectionResetError, BrokenPipeError):
        # The server answered and closed while this client was still sending: the kernel's reset can discard the
        # answer before it is read (curl avoids it with `Expect: 100-continue`, which the server never grants).
        line = b"HTTP/1.1 reset"
    finally:
        took = time.perf_counter() - t0
        sender.cancel()
        await asyncio.gather(sender, return_exceptions=True)
        writer.close()
    word = line.split()[1] if line.startswith(b"HTTP/") else b"none"
    return (int(word) if word.isdigit() else word.decode()), took


async def body_limit(server: LiveServer) -> list[list[Any]]:
    rows: list[list[Any]] = []
    for chunked in (False, True):
        status, took = await oversized_post(server.host, server.port, "/api/v1/auth/login", 64 * MIB, chunked=chunked)
        framing = "chunked" if chunked else "Content-Length"
        rows.append([f"64 MiB login body ({framing})", status, f"{took * 1000:.1f} ms"])
    before = memory(server.pid)
    t0 = time.perf_counter()
    answers = await asyncio.gather(*[
        oversized_post(server.host, server.port, "/api/v1/auth/login", 64 * MIB, chunked=False) for _ in range(6)])
    after = memory(server.pid)
    took_all = (time.perf_counter() - t0) * 1000
    rows.append(["6 such bodies at once", ",".join(str(s) for s, _ in answers), f"{took_all:.1f} ms"])
    rows.append(["server RSS before / after (MiB)", "", f"{before.rss_mib:.0f} / {after.rss_mib:.0f}"])
    peaks = f"{before.peak_mib:.0f} / {after.peak_mib:.0f}"
    rows.append(["server RSS high-water mark before / after (MiB)", "", peaks])
    return rows


# --------------------------------------------------------------------------------------------- event-loop stalls


async def pings_during(client: httpx.AsyncClient, load: Callable[[], Awaitable[Any]] | None,
                       *, every: float = 0.02, min_pings: int = 50) -> tuple[harness.Stats, Any]:
    """`/healthz` latencies while `load` runs (or for `min_pings` pings when there is none)."""
    samples: list[int] = []
    done = asyncio.Event()

    async def ping() -> None:
        while not done.is_set() or len(samples) < min_pings:
            t = time.perf_counter_ns()
            await client.get("/healthz")
            samples.append(time.perf_counter_ns() - t)
            await asyncio.sleep(every)

    pinger = asyncio.create_task(ping())
    await asyncio.sleep(0.2)
    result = None
    try:
        if load is not None:
            result = await load()
    finally:
        done.set()
        await pinger
    return harness.Stats.of(samples), result


def latency_row(label: str, stats: harness.Stats) -> list[Any]:
    return [label, stats.n, harness.ms(stats.p50), harness.ms(stats.p99), harness.ms(stats.max)]


async def registrations(server: LiveServer) -> tuple[list[list[Any]], list[str]]:
    notes: list[str] = []
    async with httpx.AsyncClient(base_url=server.url, timeout=120) as client:
        baseline, _ = await pings_during(client, None)

        async def register_20() -> list[int]:
            t0 = time.perf_counter()
            answers = await asyncio.gather(*[client.post("/api/v1/auth/register", json={
                "email": f"u{uuid.uuid4().hex[:10]}@example.com", "password": "p" * 1024}) for _ in range(20)])
            notes.append(f"20 concurrent registrations: {sorted({r.status_code for r in answers})} in"
                         f" {time.perf_counter() - t0:.2f} s")
            return [r.status_code for r in answers]

        loaded, _ = await pings_during(client, register_20)
    return [latency_row("/healthz alone (baseline)", baseline),
            latency_row("/healthz during 20 concurrent registrations", loaded)], notes


async def many_tags(server: LiveServer) -> tuple[list[list[Any]], list[str]]:
    body = json.dumps({"title": "x", "tags": [f"t{i}" for i in range(40_000)]}).encode()
    notes: list[str] = []
    async with httpx.AsyncClient(base_url=server.url, timeout=120) as client:
        async def post() -> None:
            t0 = time.perf_counter()
            answer = await client.post("/api/v1/tasks", content=body, headers={
                **server.auth, "content-type": "application/json"})
            notes.append(f"a task with 40,000 tags ({len(body) / 1024:.0f} KiB): {answer.status_code} in"
                         f" {(time.perf_counter() - t0) * 1000:.1f} ms")

        loaded, _ = await pings_during(client, post, min_pings=20)
    return [latency_row("/healthz while 40,000 tags are refused", loaded)], notes


# --------------------------------------------------------------------------------------------- per-user fairness


async def mcp_initialize(client: httpx.AsyncClient, token: str) -> str | None:
    answer = await client.post("/mcp", json=INIT, headers={**MCP_HEADERS, "Authorization": f"Bearer {token}"})
    session = answer.headers.get("mcp-session-id")
    if answer.status_code == 200 and session:
        await client.post("/mcp", json={"jsonrpc": "2.0", "method": "notifications/initialized"},
                          headers={**MCP_HEADERS, "Authorization": f"Bearer {token}", "mcp-session-id": session})
        return session
    return None


async def mcp_alive(client: httpx.AsyncClient, token: str, session: str) -> bool:
    answer = await client.post("/mcp", json={"jsonrpc": "2.0", "id": 2, "method": "ping"},
                               headers={**MCP_HEADERS, "Authorization": f"Bearer {token}", "mcp-session-id": session})
    return answer.status_code == 200


async def mcp_sessions(server: LiveServer, other_token: str) -> list[list[Any]]:
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        opened = [s for s in [await mcp_initialize(client, server.token) for _ in range(40)] if s]
        alive = [s for s in opened if await mcp_alive(client, server.token, s)]
        other = await mcp_initialize(client, other_token)
        for session in opened:
            await client.delete("/mcp", headers={**MCP_HEADERS, "Authorization": f"Bearer {server.token}",
                                                 "mcp-session-id": session})
    return [["MCP sessions one user opened", len(opened)], ["of those still open", len(alive)],
            ["another user can still open one", "yes" if other else "no"]]


async def streams(server: LiveServer) -> list[list[Any]]:
    """Open 15 streams of one user; count those the server keeps open."""
    connections: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
    for _ in range(15):
        reader, writer = await asyncio.open_connection(server.host, server.port)
        writer.write(f"GET /api/v1/stream HTTP/1.1\r\nHost: {server.host}:{server.port}\r\n"
                     f"Authorization: Bearer {server.token}\r\n\r\n".encode())
        await writer.drain()
        await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        connections.append((reader, writer))
        await asyncio.sleep(0.05)
    await asyncio.sleep(1.0)
    open_count = 0
    for reader, writer in connections:
        seen = b""
        with contextlib.suppress(TimeoutError):
            while not reader.at_eof():  # read what has arrived: a closed stream ended its response (or the socket)
                seen += await asyncio.wait_for(reader.read(65536), 0.3)
        ended = reader.at_eof() or b"event: closed" in seen or b"\r\n0\r\n\r\n" in seen
        open_count += 0 if ended else 1
        writer.close()
    return [["live streams one user opened", 15], ["of those still open after 1 s", open_count]]


async def search(server: LiveServer, alice_token: str) -> list[list[Any]]:
    letters = " ".join("abcdefghijkl")
    rows: list[list[Any]] = []
    async with httpx.AsyncClient(base_url=server.url, timeout=60,
                                 headers={"Authorization": f"Bearer {alice_token}"}) as client:
        for label, q in (("Alice: one word", "alice"), ("Alice: 12 one-letter prefixes", letters),
                         ("Alice: 234 one-letter prefixes", " ".join(["a"] * 234))):
            samples: list[int] = []
            status = 0
            for _ in range(10):
                t = time.perf_counter_ns()
                answer = await client.get("/api/v1/tasks", params={"q": q})
                samples.append(time.perf_counter_ns() - t)
                status = answer.status_code
            stats = harness.Stats.of(samples)
            rows.append([label, status, harness.ms(stats.p50), harness.ms(stats.max)])
    return rows


# ------------------------------------------------------------------------------------------------------ the run


async def add_alice(live: LiveData) -> str:
    uow = live.backend.uow
    user = await create_user(uow, f"alice-{uuid.uuid4().hex[:8]}@example.com", PASSWORD)
    from domain.usecases import actor_for

    alice = await actor_for(uow, user_id=user.id)
    for i in range(20):
        await create_task(uow, alice, TaskCreate(title=f"alice task {i} about groceries"))
    token, _ = await create_api_token(uow, alice, "bench")
    return token


async def run_backend(ctx: RunContext, backend_name: str) -> list[str]:
    per_user = 2_000 if ctx.quick else 50_000
    spec = DatasetSpec("hostile", users=1, per_user=per_user)
    out = [f"### {backend_name}: Bob has {per_user:,} tasks, Alice 20"]
    async with live_data(ctx, backend_name, spec) as live:
        alice_token = await add_alice(live)
        async with live_server(live, extra_env=SERVER_ENV) as server:
            out.append("\nBody limit (unauthenticated POST /api/v1/auth/login):\n")
            out.append(harness.table(["request", "status", "answered after"], await body_limit(server)))
            reg_rows, reg_notes = await registrations(server)
            tag_rows, tag_notes = await many_tags(server)
            out.append("\nEvent loop (GET /healthz every 20 ms):\n")
            out.append(harness.table(["while", "n", "p50", "p99", "max"], reg_rows + tag_rows))
            out.extend(f"\n- {note}" for note in reg_notes + tag_notes)
            out.append("\n\nPer-user limits:\n")
            out.append(harness.table(["what", "figure"], await mcp_sessions(server, alice_token)
                                     + await streams(server)))
            out.append("\nSearch (GET /api/v1/tasks?q=..., 10 requests each):\n")
            out.append(harness.table(["query", "status", "p50", "max"], await search(server, alice_token)))
    return out


async def run(ctx: RunContext) -> str:
    runs, loads = await harness.each_backend(ctx, run_backend)
    body = [ctx.header("Hostile clients: the security review's attacks replayed", load_text(loads)), __doc__ or ""]
    for lines in runs:
        body.append("\n".join(lines))
    text = "\n\n".join(body)
    print(text, flush=True)
    return text
