"""A live web host for the HTTP benchmarks: a fresh database with a loaded dataset and a personal API token,
served by `python -m bench.server` (the real `todo-agent serve` plus the no-op baselines) in a process of its own.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import random
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from pathlib import Path

from bench import harness
from bench.datasets import SEED, Dataset, DatasetSpec, load_dataset
from bench.harness import Backend, RunContext
from domain.usecases import Actor, create_api_token

LOG_LEVEL = "INFO"  # the product's default: uvicorn's access log and the MCP SDK's request log are on


@dataclasses.dataclass
class LiveServer:
    backend: Backend
    data: Dataset
    actor: Actor
    token: str
    host: str
    port: int
    pid: int
    log: Path
    started_s: float
    idle_cores: float = 0.0  # CPU the server spends with no request (relay and lease polling), in cores

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def stack_versions() -> str:
    """The web stack the server runs on (uvicorn picks httptools and uvloop only when they are installed)."""
    import importlib.util

    extras = [name for name in ("httptools", "uvloop") if importlib.util.find_spec(name) is not None]
    parser = "httptools" if "httptools" in extras else "h11"
    loop = "uvloop" if "uvloop" in extras else "asyncio"
    v = harness._version  # noqa: SLF001 - the harness's own helper
    return (
        f"uvicorn {v('uvicorn')} (HTTP parser {parser}, event loop {loop}, one worker), FastAPI {v('fastapi')},"
        f" Starlette {v('starlette')}, mcp {v('mcp')}, httpx2 {v('httpx2')}; server log level {LOG_LEVEL}"
    )


def load_text(loads: list[float]) -> str:
    """Load averages sampled at the start, between backends and at the end of a run."""
    return (f"{loads[0]:.1f} at the start, {loads[-1]:.1f} at the end (sampled {len(loads)} times: min"
            f" {min(loads):.1f}, max {max(loads):.1f}; {os.cpu_count()} CPUs)")


async def settle(pid: int, *, busy_below: float = 0.15, window: float = 0.5, limit: float = 90.0) -> float:
    """Wait until the server process uses less than `busy_below` of a core (it may still be working through
    requests that an overloaded phase left queued, even after their clients gave up); returns the seconds waited."""
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < limit:
        c0 = harness.process_cpu_seconds(pid)
        await asyncio.sleep(window)
        if (harness.process_cpu_seconds(pid) - c0) / window < busy_below:
            break
    return time.perf_counter() - t0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def server_env(url: str, data_dir: Path, port: int) -> dict[str, str]:
    """The parent's environment without any TODO_AGENT_ setting, plus this server's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TODO_AGENT_")}
    env.update({
        "TODO_AGENT_DATABASE_URL": url,
        "TODO_AGENT_DATA_DIR": str(data_dir),
        "TODO_AGENT_SECRET_KEY": secrets.token_urlsafe(48),
        "TODO_AGENT_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "TODO_AGENT_LOG_LEVEL": LOG_LEVEL,
        "PYTHONPATH": os.pathsep.join(p for p in (str(harness.ROOT), env.get("PYTHONPATH", "")) if p),
    })
    return env


async def wait_ready(host: str, port: int, proc: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    """Poll GET /healthz until it answers 200."""
    deadline = time.monotonic() + timeout
    request = f"GET /healthz HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n".encode()
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode} before answering")
        with suppress(OSError):
            reader, writer = await asyncio.open_connection(host, port)
            writer.write(request)
            status = await reader.readline()
            writer.close()
            if b" 200 " in status:
                return
        await asyncio.sleep(0.1)
    raise RuntimeError(f"the server did not answer /healthz within {timeout:.0f} s")


@dataclasses.dataclass
class LiveData:
    """A fresh database with a loaded dataset, and a personal API token for its first user."""

    backend: Backend
    data: Dataset
    actor: Actor
    token: str


@asynccontextmanager
async def live_data(ctx: RunContext, backend_name: str, spec: DatasetSpec) -> AsyncIterator[LiveData]:
    async with harness.open_backend(ctx, backend_name, baseline_n=50 if ctx.quick else 200) as backend:
        data = await load_dataset(backend, spec, random.Random(SEED))
        actor = data.actors[0]
        token, _view = await create_api_token(backend.uow, actor, "bench")
        yield LiveData(backend, data, actor, token)


@asynccontextmanager
async def live_server(
    live: LiveData, *, nodelay: bool = True, idle_s: float = 3.0, extra_env: dict[str, str] | None = None
) -> AsyncIterator[LiveServer]:
    """Serve `live`'s database with `python -m bench.server` until the block ends.

    `nodelay` sets TCP_NODELAY on the listening socket (accepted sockets inherit it on Linux). Before e4acce7
    `todo-agent serve` bound its socket with socket.create_server, whose protocol number is 0, so asyncio did not
    set TCP_NODELAY on connections and every keep-alive response written in two parts (headers, then body) waited
    ~40 ms for the client's delayed ACK. nodelay=False measures the product's own socket setup, as a regression
    check of that fix. `extra_env` adds settings for this server only.
    """
    folder = Path(tempfile.mkdtemp(prefix="todo-agent-bench-server-"))
    log = folder / "server.log"
    port = free_port()
    env = server_env(live.backend.url, folder, port) | ({"BENCH_TCP_NODELAY": "1"} if nodelay else {})
    env |= extra_env or {}
    t0 = time.perf_counter()
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "bench.server", "--host", "127.0.0.1", "--port", str(port)],
            cwd=harness.ROOT, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
        )
    server = LiveServer(live.backend, live.data, live.actor, live.token, "127.0.0.1", port, proc.pid, log, 0.0)
    try:
        try:
            await wait_ready("127.0.0.1", port, proc)
        except RuntimeError as exc:
            raise RuntimeError(f"{exc}; its log ends with:\n{server.log_tail()}") from None
        server.started_s = time.perf_counter() - t0
        await settle(proc.pid)
        c0 = harness.process_cpu_seconds(proc.pid)
        await asyncio.sleep(idle_s)
        server.idle_cores = (harness.process_cpu_seconds(proc.pid) - c0) / idle_s
        yield server
    finally:
        proc.terminate()
        try:
            await asyncio.to_thread(proc.wait, 20)
        except subprocess.TimeoutExpired:
            proc.kill()
            await asyncio.to_thread(proc.wait)
        shutil.rmtree(folder, ignore_errors=True)
