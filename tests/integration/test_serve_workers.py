"""`todo-agent serve --workers 2` as a real process tree on SQLite and PostgreSQL: one socket, two workers that
both answer, the relay running once, live streams on either worker seeing changes made through the other, a
killed worker replaced, and SIGTERM stopping them all.

Which worker served a connection is read from the workers' access log (each line starts with the worker's pid)
and the connection's client port; the workers themselves are the parent's children in /proc.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import migrate
from tests.infra import (
    TODO_AGENT,
    clean_env,
    create_test_database,
    drop_test_database,
    free_port,
    postgres_admin_url,
    require_or_skip,
)

ACCESS = re.compile(r'^(\d+) .*uvicorn\.access: 127\.0\.0\.1:(\d+) - "(\w+) (\S+) HTTP')
PASSWORD = "correct horse battery"
WAIT = 90.0  # seconds a process gets to start or stop (two interpreters importing everything on two cores)


@dataclass
class Served:
    """The running `serve --workers 2`: its parent process, base URL and log."""

    process: subprocess.Popen[bytes]
    base: str
    err: Path
    out: Path

    def workers(self) -> set[int]:
        """The worker processes: the parent's children started by multiprocessing's spawn (not its tracker)."""
        children: set[int] = set()
        for task in Path(f"/proc/{self.process.pid}/task").iterdir():
            children |= {int(pid) for pid in (task / "children").read_text().split()}
        return {pid for pid in children if b"spawn_main" in _cmdline(pid)}

    def served_by(self) -> dict[int, int]:
        """Client port -> the pid of the worker that answered it, from the access log."""
        found = {}
        for line in self.err.read_text(errors="replace").splitlines():
            if match := ACCESS.match(line):
                found[int(match[2])] = int(match[1])
        return found

    def logs(self) -> str:
        return self.out.read_text(errors="replace") + self.err.read_text(errors="replace")[-4000:]


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture(params=["sqlite", "postgres"])
def served(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Served]:
    settings = {"data_dir": str(tmp_path / "data"), "secret_key": "k" * 48, "relay_poll_seconds": "0.1"}
    admin = url = None
    if request.param == "postgres":
        admin = postgres_admin_url()
        if admin is None:
            require_or_skip("PostgreSQL is not reachable: set TEST_DATABASE_URL or start it on 127.0.0.1:5432")
        url = create_test_database(admin)
        migrate(url)
        settings["database_url"] = url
    port = free_port()
    out, err = tmp_path / "serve.out", tmp_path / "serve.err"
    with out.open("wb") as out_file, err.open("wb") as err_file:
        process = subprocess.Popen([str(TODO_AGENT), "serve", "--port", str(port), "--workers", "2"],
                                   env=clean_env(**settings), stdout=out_file, stderr=err_file)
    server = Served(process, f"http://127.0.0.1:{port}", err, out)
    try:
        _wait_until(lambda: len(server.workers()) == 2 and _ready(server), server, "two workers serving")
        yield server
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(30)
        for pid in server.workers() if process.poll() is None else ():
            os.kill(pid, signal.SIGKILL)
        if admin is not None and url is not None:
            drop_test_database(admin, url)


def _ready(server: Served) -> bool:
    try:
        return httpx.get(f"{server.base}/readyz", timeout=5).json().get("leader") is True
    except (httpx.TransportError, ValueError):
        return False


def _wait_until(condition: object, server: Served, what: str) -> None:
    assert callable(condition)
    deadline = time.monotonic() + WAIT
    while not condition():
        assert server.process.poll() is None, f"serve exited ({server.process.returncode}):\n{server.logs()}"
        assert time.monotonic() < deadline, f"not {what} after {WAIT} s:\n{server.logs()}"
        time.sleep(0.2)


async def _signed_in(base: str) -> dict[str, str]:
    email = f"w-{uuid.uuid4().hex[:10]}@example.com"
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        registered = await http.post("/api/v1/auth/register", json={"email": email, "password": PASSWORD})
        assert registered.status_code == 201, registered.text
        login = await http.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
        assert login.status_code == 200, login.text
    return {"Authorization": f"Bearer {login.json()['access_token']}"}


async def _fresh_get(base: str, path: str, headers: dict[str, str] | None = None) -> tuple[int, int]:
    """GET on a connection of its own; returns (status, client port)."""
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        async with http.stream("GET", path, headers=headers) as response:
            await response.aread()
            return response.status_code, _client_port(response)


def _client_port(response: httpx.Response) -> int:
    return int(response.extensions["network_stream"].get_extra_info("client_addr")[1])


class Page:
    """A live stream on a connection of its own, collecting the ids of the tasks it is told changed."""

    def __init__(self) -> None:
        self.port = 0
        self.connected = asyncio.Event()
        self.changed: list[int] = []
        self.arrived = asyncio.Event()

    async def follow(self, stack: AsyncExitStack, base: str, headers: dict[str, str]) -> None:
        http = await stack.enter_async_context(httpx.AsyncClient(base_url=base, timeout=None))
        response = await stack.enter_async_context(http.stream("GET", "/api/v1/stream", headers=headers))
        assert response.status_code == 200
        self.port = _client_port(response)
        event = None
        async for line in response.aiter_lines():
            if line.startswith(": connected"):
                self.connected.set()
            elif line.startswith("event:"):
                event = line.split(":", 1)[1].strip()
            elif line.startswith("data:") and event == "task.changed":
                self.changed.append(json.loads(line[5:])["id"])
                self.arrived.set()


async def _pages_on_both_workers(stack: AsyncExitStack, server: Served, headers: dict[str, str],
                                 following: list[asyncio.Task[None]]) -> list[Page]:
    """Open streams until both workers hold at least one (at most 8: fewer than a user's limit per worker)."""
    pages: list[Page] = []
    workers = server.workers()
    while len(pages) < 8:
        page = Page()
        following.append(asyncio.create_task(page.follow(stack, server.base, headers)))
        await asyncio.wait_for(page.connected.wait(), WAIT)
        pages.append(page)
        if {server.served_by().get(p.port) for p in pages} >= workers:
            return pages
    raise AssertionError(f"8 streams, all on one worker: {server.served_by()}")


async def _live_on_both_workers(stack: AsyncExitStack, server: Served, headers: dict[str, str],
                                following: list[asyncio.Task[None]]) -> list[int]:
    """Streams on both workers, then five tasks made on another connection: every stream sees every one, once,
    in order. Returns the tasks' ids."""
    pages = await _pages_on_both_workers(stack, server, headers, following)
    async with httpx.AsyncClient(base_url=server.base, timeout=30) as http:
        created = [(await http.post("/api/v1/tasks", json={"title": f"Task {n}"}, headers=headers)).json()["id"]
                   for n in range(5)]
    for page in pages:
        while page.changed != created:
            assert len(page.changed) < len(created) and page.changed == created[:len(page.changed)], page.changed
            page.arrived.clear()
            await asyncio.wait_for(page.arrived.wait(), WAIT)
    return created


async def test_two_workers_share_the_socket_the_relay_and_the_live_stream(served: Served) -> None:
    server, base = served, served.base
    workers = server.workers()
    # Many fresh connections at once: every one answered, and both workers answered some (the access line is
    # logged before the response is sent).
    answered: set[int | None] = set()
    for _ in range(10):
        answers = await asyncio.gather(*(_fresh_get(base, "/healthz") for _ in range(40)))
        assert [status for status, _ in answers] == [200] * 40
        log = server.served_by()
        answered |= {log.get(port) for _, port in answers}
        if answered == workers:
            break
    assert answered == workers, server.served_by()

    headers = await _signed_in(base)
    following: list[asyncio.Task[None]] = []
    async with AsyncExitStack() as stack:
        try:
            created = await _live_on_both_workers(stack, server, headers, following)
        finally:
            for task in following:
                task.cancel()
            await asyncio.gather(*following, return_exceptions=True)

    # The relay ran once: each task's creation is audited once.
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        for task_id in created:
            audit = await _eventually_audited(http, headers, task_id)
            assert [entry["type"] for entry in audit] == ["com.todoagent.task.created"], audit

    # A worker killed outright is replaced, and serving goes on meanwhile and after.
    victim = min(workers)
    os.kill(victim, signal.SIGKILL)
    _wait_until(lambda: len(server.workers()) == 2 and victim not in server.workers(), server, "a new worker")
    [replacement] = server.workers() - workers
    status, _ = await _fresh_get(base, "/healthz")
    assert status == 200
    for _ in range(200):  # until the replacement, once started, answers a fresh connection
        status, port = await _fresh_get(base, "/healthz")
        assert status == 200
        if server.served_by().get(port) == replacement:
            break
        await asyncio.sleep(0.1)
    else:
        raise AssertionError(f"the new worker {replacement} never answered:\n{server.logs()}")

    # SIGTERM stops the parent and every worker, cleanly.
    now = server.workers()
    server.process.send_signal(signal.SIGTERM)
    assert server.process.wait(WAIT) == 0, server.logs()
    assert not [pid for pid in now if _alive(pid)]
    assert server.out.read_text().count("todo-agent serving on") == 1
    assert "  workers: 2 (" in server.out.read_text()


async def _eventually_audited(http: httpx.AsyncClient, headers: dict[str, str], task_id: int) -> list[dict[str, str]]:
    deadline = time.monotonic() + WAIT
    while True:
        response = await http.get("/api/v1/audit", params={"task_id": task_id}, headers=headers)
        assert response.status_code == 200, response.text
        entries: list[dict[str, str]] = response.json()["data"]
        if entries or time.monotonic() > deadline:
            await asyncio.sleep(0.5)  # a second delivery would have arrived by now too
            final = await http.get("/api/v1/audit", params={"task_id": task_id}, headers=headers)
            result: list[dict[str, str]] = final.json()["data"]
            return result
        await asyncio.sleep(0.1)


