"""full-text search per owner on SQLite: an owner column in task_fts, and prefix indexes for short prefixes

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 18:00:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TRIGGERS = ("task_fts_insert", "task_fts_delete", "task_fts_update")

# The owner's id is a column of the index, so a search ANDs the short doclist of one owner with its terms
# (domain.usecases.queries.fts_match) instead of matching every tenant's rows and filtering them afterwards.
# prefix='1 2' keeps one- and two-letter prefixes, the most expensive to expand, as ready-made doclists.
_OWNER_FTS = [
    "CREATE VIRTUAL TABLE task_fts USING fts5(search_text, owner_id, content='task', content_rowid='id', "
    "tokenize='unicode61 remove_diacritics 0', prefix='1 2')",
    "CREATE TRIGGER task_fts_insert AFTER INSERT ON task BEGIN "
    "INSERT INTO task_fts(rowid, search_text, owner_id) VALUES (new.id, new.search_text, new.owner_id); END",
    "CREATE TRIGGER task_fts_delete AFTER DELETE ON task BEGIN "
    "INSERT INTO task_fts(task_fts, rowid, search_text, owner_id) "
    "VALUES ('delete', old.id, old.search_text, old.owner_id); END",
    "CREATE TRIGGER task_fts_update AFTER UPDATE OF search_text, owner_id ON task BEGIN "
    "INSERT INTO task_fts(task_fts, rowid, search_text, owner_id) "
    "VALUES ('delete', old.id, old.search_text, old.owner_id); "
    "INSERT INTO task_fts(rowid, search_text, owner_id) VALUES (new.id, new.search_text, new.owner_id); END",
    "INSERT INTO task_fts(task_fts) VALUES ('rebuild')",
]
# What 0001 created.
_PLAIN_FTS = [
    "CREATE VIRTUAL TABLE task_fts USING fts5(search_text, content='task', content_rowid='id', "
    "tokenize='unicode61 remove_diacritics 0')",
    "CREATE TRIGGER task_fts_insert AFTER INSERT ON task BEGIN "
    "INSERT INTO task_fts(rowid, search_text) VALUES (new.id, new.search_text); END",
    "CREATE TRIGGER task_fts_delete AFTER DELETE ON task BEGIN "
    "INSERT INTO task_fts(task_fts, rowid, search_text) VALUES ('delete', old.id, old.search_text); END",
    "CREATE TRIGGER task_fts_update AFTER UPDATE OF search_text ON task BEGIN "
    "INSERT INTO task_fts(task_fts, rowid, search_text) VALUES ('delete', old.id, old.search_text); "
    "INSERT INTO task_fts(rowid, search_text) VALUES (new.id, new.search_text); END",
    "INSERT INTO task_fts(task_fts) VALUES ('rebuild')",
]


def _replace_index(statements: list[str]) -> None:
    if op.get_bind().dialect.name != "sqlite":
        return  # PostgreSQL filters by owner first through its own indexes
    for name in _TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.execute("DROP TABLE IF EXISTS task_fts")
    for statement in statements:
        op.execute(statement)


def upgrade() -> None:
    _replace_index(_OWNER_FTS)


def downgrade() -> None:
    _replace_index(_PLAIN_FTS)
