"""An MCP Bundle (.mcpb) of this install: the one-file, one-click way Claude Desktop installs a local MCP server.

The bundle uses the MCPB `uv` server type (manifest 0.4, https://github.com/modelcontextprotocol/mcpb): it carries
the source and `pyproject.toml`, not a virtualenv, and Claude Desktop starts it with `uv run`, which installs the
dependencies for the user's platform on first start. Installing it asks the user for the two things the server
needs (the account Claude acts for, and the data directory that holds the database), pre-filled with this install's.
"""

from __future__ import annotations

import json
import os
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MANIFEST_VERSION = "0.4"
ENTRY_POINT = "mcpb_server.py"
PACKAGES = ("agent", "domain", "mcp_server", "services", "web", "runtime", "evals")
TOP_FILES = ("pyproject.toml", "README.md")
SKIPPED_PARTS = {"__pycache__", ".mypy_cache", ".pytest_cache", ".ruff_cache"}
SKIPPED_SUFFIXES = {".pyc", ".pyo", ".db", ".sqlite", ".log"}

ENTRY_SOURCE = '''"""Entry point of the todo-agent MCP bundle: the stdio MCP server, as `todo-agent mcp ARGS`."""

import sys

from runtime.cli.main import app

app(["mcp", *sys.argv[1:]], prog_name="todo-agent")
'''


class NotASourceTree(Exception):
    """The running install has no pyproject.toml beside its packages (a wheel install): nothing to bundle."""


@dataclass(frozen=True)
class BundleDefaults:
    """What the install dialog shows pre-filled: this install's user and data directory."""

    version: str
    user: str | None
    data_dir: Path


def source_root() -> Path:
    """The checkout this code runs from (an editable install), or NotASourceTree."""
    root = Path(__file__).resolve().parents[2]  # runtime/cli/mcpb.py -> the checkout
    if not (root / "pyproject.toml").is_file():
        raise NotASourceTree(f"no pyproject.toml in {root}: build the bundle from a source checkout "
                             "(the one `make run` uses)")
    return root


def manifest(defaults: BundleDefaults) -> dict[str, Any]:
    """The manifest.json: launched through uv, configured by the install dialog's answers."""
    user: dict[str, Any] = {
        "type": "string",
        "title": "Your todo-agent account",
        "description": "The email of the account Claude acts for (create one with `todo-agent user create EMAIL`).",
        "required": True,
    }
    if defaults.user:
        user["default"] = defaults.user
    return {
        "$schema": "https://raw.githubusercontent.com/modelcontextprotocol/mcpb/main/schemas/"
                   f"mcpb-manifest-v{MANIFEST_VERSION}.schema.json",
        "manifest_version": MANIFEST_VERSION,
        "name": "todo-agent",
        "display_name": "todo-agent",
        "version": defaults.version,
        "description": "Your todo-agent tasks in Claude: add, find, change, schedule and complete them.",
        "long_description": "Runs the todo-agent MCP server on your own machine, on the database `make run` "
                            "uses (the data directory below). Every task tool: priorities, tags, due dates, "
                            "recurrence, reminders, search, undo and the trash.",
        "author": {"name": "todo-agent"},
        "license": "MIT",
        "keywords": ["tasks", "todo", "productivity"],
        "server": {
            "type": "uv",
            "entry_point": ENTRY_POINT,
            "mcp_config": {
                "command": "uv",
                "args": ["run", "--directory", "${__dirname}", "--quiet", ENTRY_POINT,
                         "--user", "${user_config.user}"],
                "env": {"TODO_AGENT_DATA_DIR": "${user_config.data_dir}"},
            },
        },
        "tools_generated": True,
        "user_config": {
            "user": user,
            "data_dir": {
                "type": "directory",
                "title": "Data directory",
                "description": "The folder holding todo-agent.db; the default is the one `make run` uses here.",
                "required": True,
                "default": str(defaults.data_dir),
            },
        },
        "compatibility": {"platforms": ["darwin", "linux", "win32"], "runtimes": {"python": ">=3.11"}},
    }


def bundle_files(root: Path) -> Iterator[tuple[Path, str]]:
    """(file, name in the archive) for the source the server needs: the packages, pyproject.toml, README."""
    for name in TOP_FILES:
        yield root / name, name
    for package in PACKAGES:
        base = root / package
        if not base.is_dir():
            continue
        for path in sorted(base.rglob("*")):
            relative = path.relative_to(root)
            if (path.is_file() and not SKIPPED_PARTS.intersection(relative.parts)
                    and path.suffix not in SKIPPED_SUFFIXES):
                yield path, relative.as_posix()


def write_bundle(output: Path, defaults: BundleDefaults, root: Path | None = None) -> int:
    """Write the .mcpb (a zip archive) to `output`, whole or not at all; the number of files in it."""
    root = root or source_root()
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(f".{output.name}.{os.getpid()}")
    count = 0
    try:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("manifest.json", json.dumps(manifest(defaults), indent=2) + "\n")
            archive.writestr(ENTRY_POINT, ENTRY_SOURCE)
            for path, name in bundle_files(root):
                archive.write(path, name)
                count += 1
        os.replace(tmp, output)
    finally:
        tmp.unlink(missing_ok=True)
    return count + 2
