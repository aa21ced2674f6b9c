"""`todo-agent config mcpb`: an MCP Bundle that the real `mcpb` tool accepts and that `uv run` starts, as Claude
Desktop does, on this install's database.

Nothing is mocked: the manifest is checked by the pinned `@anthropic-ai/mcpb` CLI (installed into .cache/npm by
scripts/provision-test-services), and the bundle is unpacked and started with the `uv` of the test extras, which
installs the project's dependencies from the package index into the bundle's own virtualenv (uv's download cache is
the user's, so only the first run on a machine downloads). Claude Desktop would let uv pick a Python; here uv is told
to use this interpreter so no Python is downloaded.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

from tests.infra import PASSWORD, require_or_skip
from tests.integration.conftest import Cli, assert_one_line_error

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def mcpb_cli() -> Path:
    """The pinned bundle validator (a missing one skips, or fails under CI=true)."""
    bin_dir = Path(os.environ.get("TODO_AGENT_NPM_BIN") or REPO / ".cache" / "npm" / "node_modules" / ".bin")
    tool = bin_dir / "mcpb"
    if shutil.which("node") is None or not os.access(tool, os.X_OK):
        require_or_skip(f"{tool} is missing: run `make test` or scripts/provision-test-services")
    return tool


def _bundle(cli: Cli, tmp_path: Path, *args: str) -> tuple[Path, dict[str, Any]]:
    output = tmp_path / "todo-agent.mcpb"
    result = cli("config", "mcpb", "--output", str(output), *args)
    assert result.returncode == 0, result.stderr
    assert str(output) in result.stdout
    with zipfile.ZipFile(output) as archive:
        return output, json.loads(archive.read("manifest.json"))


def _unpack(bundle: Path, into: Path) -> Path:
    with zipfile.ZipFile(bundle) as archive:
        archive.extractall(into)
    return into


def _substitute(value: str, dirname: Path, answers: dict[str, str]) -> str:
    """What Claude Desktop does to mcp_config strings: ${__dirname} and ${user_config.KEY}."""
    value = value.replace("${__dirname}", str(dirname))
    for key, answer in answers.items():
        value = value.replace(f"${{user_config.{key}}}", answer)
    return value


def test_the_bundle_passes_the_mcpb_validator_and_holds_only_source(
    sqlite_cli: Cli, tmp_path: Path, mcpb_cli: Path
) -> None:
    """`mcpb validate` accepts the manifest and `mcpb info` reads the archive; no database, cache or tests inside."""
    sqlite_cli("user", "create", "ada@example.com", "--password-stdin", stdin=PASSWORD)
    bundle, manifest = _bundle(sqlite_cli, tmp_path)
    unpacked = _unpack(bundle, tmp_path / "unpacked")
    checked = subprocess.run([str(mcpb_cli), "validate", str(unpacked / "manifest.json")],
                             capture_output=True, text=True, timeout=60)
    assert checked.returncode == 0 and "passes" in checked.stdout, checked
    info = subprocess.run([str(mcpb_cli), "info", str(bundle)], capture_output=True, text=True, timeout=60)
    assert info.returncode == 0 and "todo-agent.mcpb" in info.stdout, info
    assert manifest["server"]["type"] == "uv"
    assert manifest["user_config"]["user"]["default"] == "ada@example.com"
    assert manifest["user_config"]["data_dir"]["default"] == sqlite_cli.env["TODO_AGENT_DATA_DIR"]
    with zipfile.ZipFile(bundle) as archive:
        names = archive.namelist()
    assert {"manifest.json", "pyproject.toml", "mcpb_server.py", "runtime/cli/main.py",
            "mcp_server/server.py"} <= set(names)
    assert "web/static/docs/index.html" in names  # package data the server needs travels too
    assert not [n for n in names if n.startswith(("tests/", ".venv/", ".cache/", "bench/")) or "__pycache__" in n
                or n.endswith((".db", ".pyc"))]


def test_the_validator_is_real_it_refuses_a_broken_manifest(sqlite_cli: Cli, tmp_path: Path, mcpb_cli: Path) -> None:
    """The same check fails for our manifest with an unknown server type: the first test's pass means something."""
    sqlite_cli("user", "create", "ada@example.com", "--password-stdin", stdin=PASSWORD)
    _, manifest = _bundle(sqlite_cli, tmp_path)
    manifest["server"]["type"] = "conda"
    broken = tmp_path / "manifest.json"
    broken.write_text(json.dumps(manifest))
    checked = subprocess.run([str(mcpb_cli), "validate", str(broken)], capture_output=True, text=True, timeout=60)
    assert checked.returncode != 0, checked


@pytest.fixture
def uv() -> Iterator[Path]:
    found = Path(sys.executable).with_name("uv")
    if not os.access(found, os.X_OK):
        require_or_skip(f"{found} is missing: install the test extras (make test does)")
    yield found


async def test_uv_starts_the_bundle_on_the_same_database_as_claude_desktop_would(
    sqlite_cli: Cli, tmp_path: Path, uv: Path
) -> None:
    """Unpack, fill the install dialog with its defaults, run mcp_config with almost no environment: the server
    acts as the user and sees the task made with the CLI in the data directory."""
    sqlite_cli("user", "create", "ada@example.com", "--password-stdin", stdin=PASSWORD)
    bundle, manifest = _bundle(sqlite_cli, tmp_path)
    unpacked = _unpack(bundle, tmp_path / "Claude Extensions" / "todo-agent")
    answers = {key: str(spec["default"]) for key, spec in manifest["user_config"].items()}
    config = manifest["server"]["mcp_config"]
    env = {key: _substitute(value, unpacked, answers) for key, value in config["env"].items()}
    env |= {"PATH": f"{uv.parent}:/usr/bin:/bin", "HOME": os.environ.get("HOME", str(tmp_path)),
            "UV_PYTHON": sys._base_executable, "UV_SYSTEM_CERTS": "1"}
    env |= {k: v for k, v in os.environ.items() if k in ("SSL_CERT_FILE", "HTTPS_PROXY", "UV_INDEX_URL")}
    params = StdioServerParameters(command=config["command"],
                                   args=[_substitute(a, unpacked, answers) for a in config["args"]],
                                   env=env, cwd=str(tmp_path))
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        who = await session.call_tool("whoami", {})
        assert not who.is_error and "ada@example.com" in json.dumps(who.structured_content), who
        added = await session.call_tool("add_task", {"title": "Bundle works"})
        assert not added.is_error, added
    # The task the bundle's server added is in the data directory's database, the one `make run` opens.
    with sqlite3.connect(Path(sqlite_cli.env["TODO_AGENT_DATA_DIR"]) / "todo-agent.db") as db:
        assert db.execute("select title from task").fetchall() == [("Bundle works",)]


def test_no_user_yet_leaves_the_account_to_the_install_dialog(sqlite_cli: Cli, tmp_path: Path) -> None:
    """With no user (or several) the bundle is still written; the dialog asks, nothing is pre-filled."""
    _, manifest = _bundle(sqlite_cli, tmp_path)
    assert "default" not in manifest["user_config"]["user"] and manifest["user_config"]["user"]["required"]
    assert_one_line_error(sqlite_cli("config", "mcpb", "--output", str(tmp_path / "x.mcpb"),
                                     "--user", "nobody@example.com"), "nobody@example.com")
    assert not (tmp_path / "x.mcpb").exists()


def test_a_postgres_install_is_pointed_at_config_claude(sqlite_cli: Cli, tmp_path: Path) -> None:
    """The bundle opens a data directory's SQLite file; a database URL (with its password) is not baked in."""
    cli = Cli({**sqlite_cli.env, "TODO_AGENT_DATABASE_URL": "postgresql+psycopg://u:secret@127.0.0.1:1/x"},
              sqlite_cli.url)
    assert_one_line_error(cli("config", "mcpb", "--output", str(tmp_path / "x.mcpb")), "config claude")
    assert not (tmp_path / "x.mcpb").exists()
