"""`todo-agent chat` as a real process on the scripted model, driven through a pipe as a script would drive it:
one message per line, answers streamed as they come, tool calls shown, approvals denied unless --approve-all, exit
at end of input; clear one-line failures without a model or a user; everything it says persisted. The screen shows
only the conversation (logs go to a file); a failed turn ends a script with exit code 3, not a terminal session."""

from __future__ import annotations

import json
import queue
import socket
import stat
import subprocess
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pexpect
import pytest

from agent.model_choice import NO_MODEL_HELP
from agent.store import DECLINED, OK, ConversationStore, Message
from domain.db import Database
from domain.errors import TaskNotFound
from domain.schemas import TaskView
from domain.uow import UnitOfWork
from domain.usecases import Actor, actor_for, get_task
from tests.e2e.conftest import run, succeeded
from tests.infra import PASSWORD, TODO_AGENT, clean_env, sqlite_url

pytestmark = pytest.mark.slow

ADA = "ada@example.com"
MODEL_KEYS = ("CO_API_KEY", "COHERE_API_KEY", "CO_API_URL")


def call(name: str, **arguments: Any) -> dict[str, Any]:
    return {"name": name, "arguments": arguments}


@dataclass(frozen=True)
class Home:
    """A data directory (SQLite) with ada in it, her personal API token, and an environment without model keys."""

    data_dir: Path
    env: dict[str, str]
    token: str

    def chat(self, script: list[dict[str, Any]] | None, lines: list[str], *args: str, tmp_path: Path,
             **env: str) -> subprocess.CompletedProcess[str]:
        """Run `todo-agent chat ARGS` to completion with `lines` on its standard input."""
        return subprocess.run([str(TODO_AGENT), "chat", *args], input="".join(f"{line}\n" for line in lines),
                              env=self.env_for(script, tmp_path) | env, capture_output=True, text=True, timeout=90)

    def env_for(self, script: list[dict[str, Any]] | None, tmp_path: Path) -> dict[str, str]:
        if script is None:
            return dict(self.env)
        path = tmp_path / f"script-{time.monotonic_ns()}.json"
        path.write_text(json.dumps(script))
        return self.env | {"TODO_AGENT_MODEL": f"scripted:{path}"}


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Home:
    data = tmp_path_factory.mktemp("chat") / "data"
    env = {k: v for k, v in clean_env(data_dir=str(data), log_level="WARNING").items() if k not in MODEL_KEYS}
    succeeded(run(["user", "create", ADA, "--timezone", "Europe/Berlin", "--password-stdin"], env, PASSWORD))
    token = succeeded(run(["token", "create", ADA, "--name", "chat-e2e"], env)).strip().splitlines()[-1]
    return Home(data, env, token)


@dataclass
class Data:
    """The chat's database, read with the domain's own use cases and the agent's store."""

    uow: UnitOfWork
    store: ConversationStore
    ada: Actor

    async def task(self, task_id: int) -> TaskView:
        return await get_task(self.uow, self.ada, task_id)

    async def newest_conversation(self) -> list[Message]:
        conversation = (await self.store.conversations(self.ada.id, limit=1))[0]
        return await self.store.messages(self.ada.id, conversation.id or 0)


@pytest.fixture
async def data(home: Home) -> AsyncIterator[Data]:
    db = Database(sqlite_url(home.data_dir / "todo-agent.db"))
    uow = UnitOfWork(db)
    try:
        yield Data(uow, ConversationStore(db.writer, reader=db.reader), await actor_for(uow, email=ADA))
    finally:
        await db.dispose()


class Lines:
    """The lines a process writes to stdout, read on a thread so that a test can wait for one with a deadline."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.seen: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        assert process.stdout is not None
        stdout = process.stdout
        threading.Thread(target=lambda: [*map(self._queue.put, stdout), self._queue.put(None)], daemon=True).start()

    def until(self, wanted: str, timeout: float = 60.0) -> list[str]:
        """Every line up to the one containing `wanted` (failing at end of output or after `timeout` seconds)."""
        deadline = time.monotonic() + timeout
        while not (self.seen and wanted in self.seen[-1]):
            try:
                line = self._queue.get(timeout=max(deadline - time.monotonic(), 0.01))
            except queue.Empty:
                raise AssertionError(f"no line with {wanted!r} within {timeout} s; got {self.seen}") from None
            if line is None:
                raise AssertionError(f"output ended without {wanted!r}; got {self.seen}")
            self.seen.append(line.rstrip("\n"))
        return list(self.seen)


@pytest.fixture
def chat_process(home: Home, tmp_path: Path) -> Iterator[Any]:
    """Starts `todo-agent chat` with a pipe for stdin and stdout; killed at the end if it still runs."""
    started: list[subprocess.Popen[str]] = []

    def start(script: list[dict[str, Any]], *args: str) -> subprocess.Popen[str]:
        process = subprocess.Popen([str(TODO_AGENT), "chat", *args], env=home.env_for(script, tmp_path), text=True,
                                   stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait()
        for pipe in (process.stdin, process.stdout, process.stderr):
            if pipe is not None:
                pipe.close()


async def test_each_line_is_answered_as_it_arrives_with_tool_calls_shown_and_end_of_input_exits_0(
    chat_process: Any, data: Data
):
    process = chat_process([
        {"text": "Adding it now.", "tool_calls": [call("add_task", title="Buy milk")]},
        {"text": "Added Buy milk to your tasks."},
        {"tool_calls": [call("set_priority", task_id="{{results[-1].id}}", priority="high")]},
        {"text": "Buy milk is now high priority."},
    ], "--user", ADA)
    out = Lines(process)
    assert process.stdin is not None

    process.stdin.write("add buy milk\n\n")
    process.stdin.flush()
    first = out.until("Added Buy milk to your tasks.")  # answered while the input is still open
    process.stdin.write("make it high priority\n")
    process.stdin.close()
    second = out.until("Buy milk is now high priority.")[len(first):]

    assert process.wait(timeout=60) == 0, process.stderr.read() if process.stderr else ""
    task_id = json.loads(second[0].split("set_priority ", 1)[1])["task_id"]
    assert first == [
        "Adding it now.",
        '  [tool] add_task {"title": "Buy milk"}',
        f"  [ok] Added #{task_id} Buy milk — open",
        "Added Buy milk to your tasks.",
    ]
    assert second[0] == f'  [tool] set_priority {{"task_id": {task_id}, "priority": "high"}}'
    assert second[1].startswith("  [ok] ") and second[2:] == ["Buy milk is now high priority."]
    assert (await data.task(task_id)).priority == "high"
    rows = await data.newest_conversation()
    assert [(r.role, r.content) for r in rows if r.role != "tool"] == [
        ("user", "add buy milk"), ("assistant", "Adding it now."), ("assistant", "Added Buy milk to your tasks."),
        ("user", "make it high priority"), ("assistant", ""), ("assistant", "Buy milk is now high priority."),
    ]
    assert [r.status for r in rows if r.role == "tool"] == [OK, OK]


DELETE_SCRIPT = [
    {"text": "Adding it.", "tool_calls": [call("add_task", title="Old plan")]},
    {"text": "Added Old plan."},
    {"text": "Deleting it.", "tool_calls": [call("delete_task", task_id="{{results[-1].id}}")]},
]


def deleted_id(stdout: str) -> int:
    line = next(line for line in stdout.splitlines() if "[tool] delete_task" in line)
    task_id: int = json.loads(line.split("delete_task ", 1)[1])["task_id"]
    return task_id


async def test_without_approve_all_a_call_that_needs_approval_is_denied_and_the_task_stays(
    home: Home, data: Data, tmp_path: Path
):
    script = [*DELETE_SCRIPT, {"text": "OK, I left Old plan alone."}]
    result = home.chat(script, ["add old plan", "delete it"], "--user", ADA, tmp_path=tmp_path)

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    start = lines.index("Deleting it.")
    assert lines[start + 2:] == [
        "  [denied] delete_task (non-interactive)",
        "  [error] Not run: the user declined this call. Do not try it again unless they ask.",
        "OK, I left Old plan alone.",
    ]
    assert (await data.task(deleted_id(result.stdout))).title == "Old plan"
    rows = await data.newest_conversation()
    assert [r.status for r in rows if r.role == "tool"] == [OK, DECLINED]


async def test_with_approve_all_a_call_that_needs_approval_runs(home: Home, data: Data, tmp_path: Path):
    script = [*DELETE_SCRIPT, {"text": "Deleted Old plan."}]
    result = home.chat(script, ["add old plan", "delete it"], "--user", ADA, "--approve-all", tmp_path=tmp_path)

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    start = lines.index("Deleting it.")
    assert lines[start + 2] == "  [approved] delete_task (non-interactive)"
    assert lines[start + 3].startswith("  [ok] ") and lines[start + 4:] == ["Deleted Old plan."]
    with pytest.raises(TaskNotFound):
        await data.task(deleted_id(result.stdout))


def test_without_a_model_key_or_script_it_exits_1_saying_how_to_configure_one(home: Home, tmp_path: Path):
    result = home.chat(None, ["hello"], "--user", ADA, tmp_path=tmp_path)

    assert result.returncode == 1
    assert result.stderr.splitlines() == [f"error: {NO_MODEL_HELP}"] and result.stdout == ""


def test_without_a_user_or_token_it_exits_1_saying_how_to_name_one(home: Home, tmp_path: Path):
    result = home.chat([{"text": "never said"}], ["hello"], tmp_path=tmp_path)

    assert result.returncode == 1 and result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert line.startswith("error: ") and "--user EMAIL" in line and "TODO_AGENT_TOKEN" in line


async def test_with_a_personal_token_in_the_environment_it_chats_as_that_user_in_a_conversation_of_its_own(
    home: Home, data: Data, tmp_path: Path
):
    before = len(await data.store.conversations(data.ada.id, limit=100))
    script = [{"tool_calls": [call("whoami")]}, {"text": "You are Ada."}]
    result = home.chat(script, ["who am I?"], tmp_path=tmp_path, TODO_AGENT_TOKEN=home.token)

    assert result.returncode == 0, result.stderr
    tool, ok, answer = result.stdout.splitlines()
    assert tool == "  [tool] whoami {}" and answer == "You are Ada."
    assert ok.startswith(f"  [ok] {ADA}: ") and ok.endswith("(Europe/Berlin)")
    conversations = await data.store.conversations(data.ada.id, limit=100)
    assert len(conversations) == before + 1 and conversations[0].title == "who am I?"
    rows = await data.newest_conversation()
    assert [(r.role, r.status) for r in rows] == [("user", OK), ("assistant", OK), ("tool", OK), ("assistant", OK)]
    assert json.loads(rows[2].content)["email"] == ADA


# --- what reaches the screen: the conversation, not the logs; a failed turn in a script ends it -------------------


def test_a_normal_turn_prints_only_the_conversation_and_the_logs_go_to_a_private_file(home: Home, tmp_path: Path):
    script = [
        {"text": "Adding it.", "tool_calls": [call("add_task", title="Tea", priority="super")]},
        {"text": "That priority does not exist."},
    ]
    result = home.chat(script, ["add tea, super urgent"], "--user", ADA, tmp_path=tmp_path,
                       TODO_AGENT_LOG_LEVEL="INFO")  # the default level: INFO lines are written, not shown

    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert result.stdout.splitlines() == [
        "Adding it.",
        '  [tool] add_task {"title": "Tea", "priority": "super"}',
        "  [error] priority must be one of none, low, medium, high, urgent (got 'super').",
        "That priority does not exist.",
    ]
    logs = home.data_dir / "logs"
    log = logs / "chat.log"
    assert stat.S_IMODE(logs.stat().st_mode) == 0o700 and stat.S_IMODE(log.stat().st_mode) == 0o600
    written = log.read_text()
    # INFO lines the turn itself is sure to write (the lease's lines depend on timing: under load it may not be
    # taken before the one-turn chat ends)
    assert " INFO httpx2: HTTP Request: POST " in written and "rejected arguments: ['priority']" in written


WRONG_THEN_RIGHT = [
    {"tool_calls": [call("get_task", task_id="{{results[3].id}}")]},  # refers to a result that does not exist
    {"text": "Still here."},
]


async def test_a_failed_turn_in_script_mode_exits_3_with_its_reason_and_sends_no_more_lines(
    home: Home, data: Data, tmp_path: Path
):
    result = home.chat(WRONG_THEN_RIGHT, ["first message", "second message"], "--user", ADA, tmp_path=tmp_path,
                       TODO_AGENT_LOG_LEVEL="INFO")

    assert result.returncode == 3
    (line,) = result.stderr.splitlines()
    assert line.startswith("error: The model script is wrong: ") and "results[3]" in line
    assert result.stdout == ""
    rows = await data.newest_conversation()
    assert [(r.role, r.content) for r in rows] == [("user", "first message")], "the second line was never sent"


def test_an_unreachable_model_service_fails_the_turn_with_exit_3_and_one_line(home: Home, tmp_path: Path):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = home.chat(None, ["hello"], "--user", ADA, tmp_path=tmp_path, TODO_AGENT_LOG_LEVEL="INFO",
                       CO_API_KEY="test-key", CO_API_URL=f"http://127.0.0.1:{port}")

    assert result.returncode == 3 and result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert line.startswith("error: Could not reach the model service (") and line.endswith("; try again.")
    assert "cohere call failed" in (home.data_dir / "logs" / "chat.log").read_text(), "retries are logged, not shown"


def test_on_a_terminal_a_failed_turn_is_reported_and_the_chat_goes_on(home: Home, tmp_path: Path):
    terminal = pexpect.spawn(str(TODO_AGENT), ["chat", "--user", ADA], env=home.env_for(WRONG_THEN_RIGHT, tmp_path),
                             encoding="utf-8", timeout=60, dimensions=(24, 200))
    try:
        terminal.expect_exact("you> ")
        terminal.sendline("first message")
        terminal.expect_exact("error: The model script is wrong: ")
        terminal.expect_exact("you> ")
        terminal.sendline("second message")
        terminal.expect_exact("Still here.")
        terminal.expect_exact("you> ")
        terminal.sendeof()
        terminal.expect(pexpect.EOF)
    finally:
        terminal.close()
    assert terminal.exitstatus == 0
