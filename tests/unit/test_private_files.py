"""The data directory (0700) and the SQLite database with its -wal/-shm files (0600) are private to their owner."""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from domain.db import Database
from runtime.bootstrap import prepare_database
from runtime.settings import Settings
from tests.infra import sqlite_url


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(autouse=True)
def usual_umask() -> Iterator[None]:
    """The common umask 022, under which files are world-readable unless created otherwise."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def test_a_new_data_directory_and_its_database_are_private(tmp_path: Path) -> None:
    """The first run creates the data directory 0700 and the database file 0600."""
    settings = Settings(data_dir=tmp_path / "fresh" / "todo-agent")
    prepare_database(settings)
    assert mode(settings.data_dir) == 0o700
    assert mode(settings.data_dir / "todo-agent.db") == 0o600


async def test_the_databases_wal_and_shm_files_are_private(tmp_path: Path) -> None:
    """SQLite gives its -wal and -shm files the database file's mode."""
    path = tmp_path / "todo.db"
    db = Database(sqlite_url(path))
    try:
        async with db.engine.begin() as conn:
            await conn.execute(text("CREATE TABLE t (x INTEGER)"))
            await conn.execute(text("INSERT INTO t VALUES (1)"))
        modes = {p.name: mode(p) for p in tmp_path.iterdir()}
    finally:
        await db.dispose()
    assert modes == {"todo.db": 0o600, "todo.db-wal": 0o600, "todo.db-shm": 0o600}


def test_the_signing_secret_creates_a_private_data_directory(tmp_path: Path) -> None:
    """Whichever comes first, the secret or the database, the directory is created 0700."""
    settings = Settings(data_dir=tmp_path / "secret-first")
    settings.signing_secret()
    assert mode(settings.data_dir) == 0o700


def test_an_existing_default_data_directory_is_tightened(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The default directory is ours (an older version made it 0755), so it is made 0700."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    monkeypatch.delenv("TODO_AGENT_DATA_DIR", raising=False)
    (tmp_path / "todo-agent").mkdir(mode=0o755)
    settings = Settings()
    assert settings.data_dir == tmp_path / "todo-agent"
    prepare_database(settings)
    assert mode(settings.data_dir) == 0o700


def test_a_chosen_existing_directory_keeps_its_mode_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """TODO_AGENT_DATA_DIR naming an existing open directory is the user's choice: warned about, not changed."""
    chosen = tmp_path / "shared"
    chosen.mkdir(mode=0o755)
    with caplog.at_level(logging.WARNING):
        prepare_database(Settings(data_dir=chosen))
    assert mode(chosen) == 0o755
    assert any("chmod 700" in r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)
