"""The installed `todo-agent` command, run as a real process on the default SQLite database and on PostgreSQL."""

from __future__ import annotations

import json
import signal
import socket
import sqlite3
import stat
import subprocess
import time
from contextlib import closing
from pathlib import Path

import httpx
import pytest
from alembic.script import ScriptDirectory

from domain.usecases import authenticate_token
from runtime.migrate import alembic_config
from tests.infra import PASSWORD, TODO_AGENT, free_port
from tests.integration.conftest import Cli, accepted, assert_one_line_error, unit_of_work

pytestmark = pytest.mark.slow


async def authenticates(url: str, token: str) -> bool:
    async with unit_of_work(url) as uow:
        return await accepted(authenticate_token(uow, token))


async def test_users_and_tokens_from_the_command_line(cli: Cli) -> None:
    created = cli("user", "create", "ada@example.com", "--timezone", "Europe/Berlin", "--password-stdin",
                  stdin=PASSWORD)
    assert created.returncode == 0, created.stderr
    assert created.stdout.startswith("created user ada@example.com (id ")
    assert created.stdout.rstrip().endswith(", timezone Europe/Berlin)")
    duplicate = cli("user", "create", "ADA@example.com", "--password-stdin", stdin=PASSWORD)
    assert_one_line_error(duplicate, "already exists")

    token_out = cli("token", "create", "ada@example.com", "--name", "laptop")
    assert token_out.returncode == 0, token_out.stderr
    token = token_out.stdout.strip().splitlines()[-1]
    assert token.startswith("tat_") and " " not in token
    assert await authenticates(cli.url, token)

    listed = cli("token", "list", "ada@example.com")
    assert "laptop" in listed.stdout and "active" in listed.stdout and token not in listed.stdout
    token_id = listed.stdout.split()[0]
    revoked = cli("token", "revoke", token_id)
    assert revoked.returncode == 0 and revoked.stdout.startswith(f"revoked token {token_id}")
    assert not await authenticates(cli.url, token)
    assert "REVOKED" in cli("token", "list", "ada@example.com").stdout


def test_mistakes_are_one_clear_line_and_exit_code_1(sqlite_cli: Cli) -> None:
    cli = sqlite_cli
    bad_zone = cli("user", "create", "bob@example.com", "--timezone", "Mars/Olympus", "--password-stdin",
                   stdin=PASSWORD)
    assert_one_line_error(bad_zone, "unknown timezone 'Mars/Olympus'")
    assert_one_line_error(cli("token", "create", "nobody@example.com"), "nobody@example.com")
    assert_one_line_error(cli("token", "revoke", "999999"), "token 999999 not found")
    assert_one_line_error(cli("user", "create", "eve@example.com", "--password-stdin", stdin=""), "password")


def test_outbox_status_reports_the_backlog(cli: Cli) -> None:
    result = cli("outbox", "status")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["pending: 0", "oldest pending age: -", "failing: 0", "last error: -"]


def test_the_first_command_creates_and_migrates_the_default_database(sqlite_cli: Cli, tmp_path: Path) -> None:
    assert not (tmp_path / "data").exists()
    assert sqlite_cli("outbox", "status").returncode == 0
    with closing(sqlite3.connect(tmp_path / "data" / "todo-agent.db")) as conn:
        (version,) = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    assert version == head_revision()


def test_db_upgrade_migrates_the_configured_database_and_prints_the_revision(postgres_cli: Cli) -> None:
    before = postgres_cli("outbox", "status")  # only the default database is migrated by other commands
    assert_one_line_error(before, "todo-agent db upgrade")
    result = postgres_cli("db", "upgrade")
    assert result.returncode == 0, result.stderr
    assert f"is at revision {head_revision()} (head)" in result.stdout
    assert postgres_cli("outbox", "status").returncode == 0


def test_events_schemas_writes_one_json_schema_per_type_and_version(sqlite_cli: Cli, tmp_path: Path) -> None:
    out = tmp_path / "schemas"
    result = sqlite_cli("events", "schemas", "--out", str(out))
    assert result.returncode == 0, result.stderr
    written = [Path(line) for line in result.stdout.splitlines()]
    assert {p.name for p in written} == {p.name for p in out.iterdir()}
    assert "com.todoagent.task.created.v1.json" in {p.name for p in written}
    assert all(json.loads(p.read_text())["type"] == "object" for p in written)


def test_a_bad_setting_is_one_line_naming_the_variable(sqlite_cli: Cli) -> None:
    """A sentence naming the variable, what it must be and what it got; no pydantic wording."""
    sqlite_cli.env["TODO_AGENT_PORT"] = "eighty"
    result = sqlite_cli("outbox", "status")
    assert_one_line_error(result, "TODO_AGENT_PORT must be an integer (got 'eighty')")
    assert "Input should" not in result.stderr
    sqlite_cli.env["TODO_AGENT_PORT"] = "8000"
    sqlite_cli.env["TODO_AGENT_ENV"] = "prod"
    assert_one_line_error(sqlite_cli("outbox", "status"),
                          "TODO_AGENT_ENV must be one of development, test, production (got 'prod')")


def test_verbose_shows_the_traceback(sqlite_cli: Cli) -> None:
    result = sqlite_cli("--verbose", "token", "create", "nobody@example.com")
    assert result.returncode == 1
    assert "Traceback" in result.stderr and result.stderr.strip().splitlines()[-1].startswith("error: ")


def wait_for_ready(base: str, process: subprocess.Popen[str], timeout: float = 30.0) -> dict[str, object]:
    """Poll /readyz until the server answers and holds the lease (failing if the process exits first)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, "serve exited early"
        try:
            response = httpx.get(f"{base}/readyz", timeout=2)
            body: dict[str, object] = response.json()
            if response.status_code == 200 and body["leader"] is True:
                return body
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{base} was not ready within {timeout} s")


def test_serve_answers_the_probes_and_exits_cleanly_on_sigterm(sqlite_cli: Cli, tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with (tmp_path / "out").open("w+") as out, (tmp_path / "err").open("w+") as err:
        process = subprocess.Popen([str(TODO_AGENT), "serve", "--port", str(port)], env=sqlite_cli.env,
                                   stdout=out, stderr=err, text=True)
        try:
            ready = wait_for_ready(base, process)
            assert httpx.get(f"{base}/healthz").json() == {"status": "ok"}
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=10) == 0
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
        out.seek(0)
        assert out.read().startswith(f"todo-agent serving on {base}  (database: sqlite+aiosqlite:///")
    assert ready["database"] == "ok" and ready["outbox"] == {
        "pending": 0, "oldest_pending_age_seconds": None, "failing": 0
    }
    secret = tmp_path / "data" / "secret_key"
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600 and len(secret.read_text().strip()) >= 32


def test_serve_on_a_busy_port_is_one_line(sqlite_cli: Cli) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        result = sqlite_cli("serve", "--port", str(busy.getsockname()[1]))
    assert_one_line_error(result, "cannot listen on 127.0.0.1:", "in use")


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
