"""Real processes for the end-to-end MCP tests.

One data directory (the default SQLite database) holds two users and their personal API tokens, made by the
installed `todo-agent` command exactly as a person would make them. The HTTP servers run as `todo-agent`
subprocesses on free ports. Every `todo-agent` process spends seconds importing its libraries, so these fixtures
are session-wide and start what they can at the same time; every process is stopped in a finally block.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx
import pytest

from tests.infra import PASSWORD, TODO_AGENT, clean_env, free_port

# The catalogue issue 4 asks for, quick_add (issue 12), and the project tools and move_task (issue 17).
TOOLS = frozenset({
    "add_task", "quick_add", "get_task", "list_tasks", "search_tasks", "update_task", "complete_task", "reopen_task",
    "delete_task", "restore_task", "set_priority", "add_tags", "remove_tags", "list_tags", "rename_tag",
    "delete_tag", "set_due_date", "clear_due_date", "set_recurrence", "clear_recurrence", "preview_recurrence",
    "set_reminders", "undo_last_change", "whoami", "list_projects", "add_project", "rename_project",
    "archive_project", "unarchive_project", "delete_project", "move_task",
})

# A legacy (2025-11-25) initialize request, as a raw JSON-RPC message.
INITIALIZE: dict[str, Any] = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "e2e", "version": "1"}},
}
MCP_ACCEPT = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


@dataclass(frozen=True)
class User:
    email: str
    id: int
    token: str


@dataclass(frozen=True)
class World:
    """The data directory, the environment that points `todo-agent` at it, and its two users."""

    data_dir: Path
    env: dict[str, str]
    ada: User
    bob: User

    def secret(self) -> str:
        """The signing secret `todo-agent` generated into the data directory."""
        return (self.data_dir / "secret_key").read_text().strip()


def run(args: list[str], env: dict[str, str], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run the installed command to completion."""
    return subprocess.run([str(TODO_AGENT), *args], input=stdin, env=env, capture_output=True, text=True,
                          timeout=90)


def run_together(*calls: tuple[list[str], dict[str, str], str | None]) -> list[subprocess.CompletedProcess[str]]:
    """Run several commands at once (each spends seconds starting up) and return their results in order."""
    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(lambda call: run(*call), calls))


def succeeded(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, f"{result.args} failed:\n{result.stderr}"
    return result.stdout


def mcp_message(response: httpx.Response) -> dict[str, Any]:
    """The JSON-RPC message of a POST answer, whether sent as JSON or as one SSE event."""
    if response.headers.get("content-type", "").startswith("application/json"):
        body: dict[str, Any] = response.json()
        return body
    data = [line[5:].strip() for line in response.text.splitlines() if line.startswith("data:")]
    assert data, f"no SSE data in {response.text!r}"
    message: dict[str, Any] = json.loads(data[0])
    return message


def post_initialize(base: str, token: str | None = None, **headers: str) -> httpx.Response:
    """POST a raw initialize request to `base`/mcp (closing the session it may open)."""
    sent = MCP_ACCEPT | ({"Authorization": f"Bearer {token}"} if token else {}) | headers
    with httpx.Client(timeout=15) as http:
        response = http.post(f"{base}/mcp", json=INITIALIZE, headers=sent)
        response.read()
        session = response.headers.get("mcp-session-id")
        if session:
            http.delete(f"{base}/mcp", headers=sent | {"mcp-session-id": session})
    return response


@dataclass
class Server:
    """A `todo-agent` process serving HTTP on a free port, with its output in files."""

    name: str
    args: list[str]
    env: dict[str, str]
    log_dir: Path
    ready_path: str = "/healthz"
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    _files: list[IO[bytes]] = field(default_factory=list)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        out = (self.log_dir / f"{self.name}.out").open("wb")
        err = (self.log_dir / f"{self.name}.err").open("wb")
        self._files = [out, err]
        self.process = subprocess.Popen([str(TODO_AGENT), *self.args, "--port", str(self.port)], env=self.env,
                                        stdout=out, stderr=err)

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Wait until `ready_path` answers at all (the MCP endpoint's 401 counts), failing if the process exits."""
        assert self.process is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"{self.name} exited with {self.process.returncode}:\n{self.logs()}")
            try:
                httpx.get(f"{self.base}{self.ready_path}", timeout=2)
                return
            except httpx.TransportError:
                time.sleep(0.1)
        raise AssertionError(f"{self.name} did not answer within {timeout} s:\n{self.logs()}")

    def stop(self) -> int | None:
        """SIGTERM, then SIGKILL if it lingers; returns the exit code."""
        try:
            if self.process is not None and self.process.poll() is None:
                self.process.send_signal(signal.SIGTERM)
                try:
                    self.process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait()
        finally:
            for handle in self._files:
                handle.close()
        return None if self.process is None else self.process.returncode

    def logs(self) -> str:
        return "\n".join(path.read_text(errors="replace")[-4000:]
                         for path in (self.log_dir / f"{self.name}.out", self.log_dir / f"{self.name}.err"))


@dataclass(frozen=True)
class Servers:
    web: Server  # `todo-agent serve`: the web host, MCP mounted at /mcp
    standalone: Server  # `todo-agent mcp --transport http`
    deployed: Server  # `todo-agent serve` with TODO_AGENT_ALLOWED_HOSTS=todo.example.com
    stoppable: Server  # another `todo-agent mcp --transport http`, for the test that stops it


def _user_id(created: str) -> int:
    match = re.search(r"\(id (\d+),", created)
    assert match, created
    return int(match.group(1))


def _token(created: str) -> str:
    token = created.strip().splitlines()[-1]
    assert token.startswith("tat_"), created
    return token


@dataclass(frozen=True)
class Database:
    """The data directory after its first command, which created and migrated the SQLite database."""

    data_dir: Path
    env: dict[str, str]
    first_user: str  # what `user create` printed for ada


ADA, BOB = "ada@example.com", "bob@example.com"


@pytest.fixture(scope="session")
def database(tmp_path_factory: pytest.TempPathFactory) -> Database:
    data = tmp_path_factory.mktemp("e2e") / "data"
    env = clean_env(data_dir=str(data))
    return Database(data, env, succeeded(run(["user", "create", ADA, "--password-stdin"], env, PASSWORD)))


@pytest.fixture(scope="session")
def world(database: Database) -> World:
    """Two users with personal tokens, made with `todo-agent user create` and `todo-agent token create`."""
    env = database.env
    # After the first command, commands may run side by side.
    bob_created, ada_token = (succeeded(r) for r in run_together(
        (["user", "create", BOB, "--password-stdin"], env, PASSWORD),
        (["token", "create", ADA, "--name", "e2e"], env, None),
    ))
    bob_token = succeeded(run(["token", "create", BOB, "--name", "e2e"], env))
    return World(database.data_dir, env, User(ADA, _user_id(database.first_user), _token(ada_token)),
                 User(BOB, _user_id(bob_created), _token(bob_token)))


@pytest.fixture(scope="session")
def booting(database: Database, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    """The HTTP servers, started together on the database (they boot while `world` makes users and tokens) and
    stopped at the end of the run."""
    logs = tmp_path_factory.mktemp("server-logs")
    env = database.env
    chosen = Servers(
        web=Server("web", ["serve"], env, logs),
        standalone=Server("standalone", ["mcp", "--transport", "http"], env, logs, ready_path="/mcp"),
        deployed=Server("deployed", ["serve"], env | {"TODO_AGENT_ALLOWED_HOSTS": "todo.example.com"}, logs),
        stoppable=Server("stoppable", ["mcp", "--transport", "http"], env, logs, ready_path="/mcp"),
    )
    everything = [chosen.web, chosen.standalone, chosen.deployed, chosen.stoppable]
    try:
        for server in everything:
            server.start()
        yield chosen
    finally:
        for server in everything:
            server.stop()


@pytest.fixture(scope="session")
def servers(booting: Servers, world: World) -> Servers:
    """The HTTP servers, answering, with the users and tokens of `world` in their database."""
    for server in (booting.web, booting.standalone, booting.deployed, booting.stoppable):
        server.wait_ready()
    return booting
