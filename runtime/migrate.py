"""Run the Alembic migrations programmatically (the CLI migrates the default database before every command)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from domain.db import create_private_sqlite_file

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the database at `url` to `revision` (a new SQLite file is created 0600 in a 0700 directory)."""
    create_private_sqlite_file(url)
    command.upgrade(alembic_config(url), revision)
