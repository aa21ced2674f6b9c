"""`todo-agent config claude`: a Claude Desktop entry that opens this install's database from any environment."""

from __future__ import annotations

import json
import subprocess
import threading
from pathlib import Path

import pytest

from tests.infra import PASSWORD, TODO_AGENT
from tests.integration.conftest import Cli, assert_one_line_error

pytestmark = pytest.mark.slow

INIT = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
    "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "claude-like", "version": "0"}}}
WHOAMI = {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "whoami", "arguments": {}}}


def _entry(cli: Cli, *args: str) -> dict[str, object]:
    result = cli("config", "claude", *args)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)["mcpServers"]["todo-agent"]  # type: ignore[no-any-return]


def test_the_entry_names_the_command_by_absolute_path_and_the_data_directory(sqlite_cli: Cli) -> None:
    """The printed block has the installed command's absolute path, the only user, and the data directory."""
    sqlite_cli("user", "create", "ada@example.com", "--password-stdin", stdin=PASSWORD)
    entry = _entry(sqlite_cli)
    assert entry["command"] == str(TODO_AGENT.resolve()) and Path(str(entry["command"])).is_absolute()
    assert entry["args"] == ["mcp", "--user", "ada@example.com"]
    assert entry["env"] == {"TODO_AGENT_DATA_DIR": sqlite_cli.env["TODO_AGENT_DATA_DIR"]}


def test_the_entry_starts_a_server_on_the_same_database_with_almost_no_environment(
    sqlite_cli: Cli, tmp_path: Path
) -> None:
    """Run the entry as Claude Desktop does (no PATH of ours, no HOME, another directory): it acts as the user."""
    sqlite_cli("user", "create", "ada@example.com", "--password-stdin", stdin=PASSWORD)
    entry = _entry(sqlite_cli)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    whoami: dict[str, object] = {}
    with subprocess.Popen([str(entry["command"]), *entry["args"]],  # type: ignore[misc]
                          env={"PATH": "/usr/bin:/bin", **entry["env"]},  # type: ignore[dict-item]
                          cwd=elsewhere, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                          text=True) as proc:
        watchdog = threading.Timer(60, proc.kill)  # a hung server fails the test instead of hanging the suite
        watchdog.start()
        try:
            assert proc.stdin is not None and proc.stdout is not None
            for message in (INIT, {"jsonrpc": "2.0", "method": "notifications/initialized"}, WHOAMI):
                proc.stdin.write(json.dumps(message) + "\n")
            proc.stdin.flush()
            for line in iter(proc.stdout.readline, ""):
                if (answer := json.loads(line)).get("id") == 2:
                    whoami = answer
                    break
            proc.stdin.close()
            proc.wait(30)
        finally:
            watchdog.cancel()
            proc.kill()
    assert "ada@example.com" in json.dumps(whoami.get("result")), whoami


def test_install_adds_the_entry_and_keeps_the_other_servers(sqlite_cli: Cli, tmp_path: Path) -> None:
    """--install merges into an existing config file instead of replacing it."""
    sqlite_cli("user", "create", "ada@example.com", "--password-stdin", stdin=PASSWORD)
    config = tmp_path / "claude_desktop_config.json"
    config.write_text(json.dumps({"mcpServers": {"other": {"command": "x"}}, "theme": "dark"}))
    result = sqlite_cli("config", "claude", "--install", "--config-file", str(config))
    assert result.returncode == 0 and str(config) in result.stdout, result.stderr
    written = json.loads(config.read_text())
    assert written["theme"] == "dark" and written["mcpServers"]["other"] == {"command": "x"}
    assert written["mcpServers"]["todo-agent"]["args"] == ["mcp", "--user", "ada@example.com"]


def test_install_refuses_a_config_file_that_is_not_json_and_leaves_it_alone(sqlite_cli: Cli, tmp_path: Path) -> None:
    """A broken config file is reported, not overwritten."""
    sqlite_cli("user", "create", "ada@example.com", "--password-stdin", stdin=PASSWORD)
    config = tmp_path / "claude_desktop_config.json"
    config.write_text("{not json")
    assert_one_line_error(sqlite_cli("config", "claude", "--install", "--config-file", str(config)), "not valid JSON")
    assert config.read_text() == "{not json"


def test_with_no_user_or_several_users_it_says_what_to_do(sqlite_cli: Cli) -> None:
    """No user: create one; several: pick one with --user; an unknown --user is one clear line."""
    assert_one_line_error(sqlite_cli("config", "claude"), "has no user yet", "todo-agent user create")
    for email in ("ada@example.com", "bob@example.com"):
        sqlite_cli("user", "create", email, "--password-stdin", stdin=PASSWORD)
    assert_one_line_error(sqlite_cli("config", "claude"), "several users", "--user EMAIL")
    assert _entry(sqlite_cli, "--user", "bob@example.com")["args"] == ["mcp", "--user", "bob@example.com"]
    assert_one_line_error(sqlite_cli("config", "claude", "--user", "nobody@example.com"), "nobody@example.com")


def test_the_mcp_server_names_the_data_directory_it_looked_in_for_a_missing_user(sqlite_cli: Cli) -> None:
    """Started with a user its database does not have, the stdio server says which data directory it opened."""
    result = sqlite_cli("mcp", "--user", "ada@example.com", stdin="")
    assert_one_line_error(result, "no user ada@example.com", sqlite_cli.env["TODO_AGENT_DATA_DIR"])
