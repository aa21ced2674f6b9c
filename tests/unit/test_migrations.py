"""The migrations build exactly the schema the models declare, on SQLite and on PostgreSQL."""

from __future__ import annotations

import warnings
from typing import Any

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from domain.db import Database
from runtime.metadata import metadata

# Full-text search is per dialect and made in SQL by 0001: a GIN index on PostgreSQL (an FTS5 table on SQLite).
MIGRATION_ONLY = {"ix_task_search"}


def _include(obj: Any, name: str | None, kind: str, reflected: bool, compare_to: Any) -> bool:
    if kind == "table" and (name or "").startswith("task_fts"):  # the FTS5 table and its shadow tables
        return False
    return not (kind == "index" and name in MIGRATION_ONLY)


def _differences(connection: sa.Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True, "include_object": _include})
    with warnings.catch_warnings():
        # SQLite cannot reflect expression indexes (ix_task_live_due): they compare as absent on both sides.
        warnings.filterwarnings("ignore", "Skipped unsupported reflection of expression-based index")
        warnings.filterwarnings("ignore", "autogenerate skipping metadata-specified expression-based index")
        return list(compare_metadata(context, metadata))


async def test_the_migrated_schema_matches_the_models(database: Database) -> None:
    async with database.engine.connect() as connection:
        differences = await connection.run_sync(_differences)
    assert differences == []
