"""projects and subtasks: a project table with an Inbox per user holding every existing task, task.project_id and
task.parent_id; audit entries of project events (no task id)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 19:30:00.000000
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NO_DUE_KEY = 4611686018427387904  # domain.models.NO_DUE_KEY (2**62), as 0001 wrote it
LIVE = sa.text('deleted_at IS NULL')

# SQLite rebuilds `task` to add its foreign keys (batch mode): DROP TABLE takes the full-text triggers of 0006 and
# the expression index with it (SQLite cannot reflect one), so both are made again afterwards.
_FTS_TRIGGERS = [
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


def _sqlite() -> bool:
    return op.get_bind().dialect.name == 'sqlite'


def _create_projects() -> None:
    op.create_table('project',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('owner_id', sa.Integer(), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('name_key', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('colour', sqlmodel.sql.sqltypes.AutoString(length=7), nullable=True),
    sa.Column('is_inbox', sa.Boolean(), nullable=False),
    sa.Column('archived_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('updated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('deleted_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['owner_id'], ['user.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('project', schema=None) as batch_op:
        batch_op.create_index('uq_project_owner_name', ['owner_id', 'name_key'], unique=True,
                              sqlite_where=LIVE, postgresql_where=LIVE)
        batch_op.create_index('uq_project_owner_inbox', ['owner_id'], unique=True,
                              sqlite_where=sa.text('is_inbox'), postgresql_where=sa.text('is_inbox'))


def _create_inboxes() -> None:
    """An Inbox for every user, now."""
    now = sa.literal(datetime.now(UTC), sqlmodel.sql.sqltypes.UTCDateTime())
    project = sa.table('project', *(sa.column(name) for name in (
        'owner_id', 'name', 'name_key', 'is_inbox', 'created_at', 'updated_at', 'version')))
    user = sa.table('user', sa.column('id'))
    inboxes = sa.select(user.c.id, sa.literal('Inbox'), sa.literal('inbox'), sa.true(), now, now, sa.literal(1))
    op.execute(project.insert().from_select(
        ['owner_id', 'name', 'name_key', 'is_inbox', 'created_at', 'updated_at', 'version'], inboxes))


def _tasks_into_inboxes() -> None:
    op.add_column('task', sa.Column('project_id', sa.Integer(), nullable=True))
    op.add_column('task', sa.Column('parent_id', sa.Integer(), nullable=True))
    task = sa.table('task', sa.column('owner_id'), sa.column('project_id'))
    project = sa.table('project', sa.column('id'), sa.column('owner_id'), sa.column('is_inbox'))
    inbox = (sa.select(project.c.id).where(project.c.owner_id == task.c.owner_id, project.c.is_inbox)
             .scalar_subquery())
    op.execute(task.update().values(project_id=inbox))


def upgrade() -> None:
    _create_projects()
    _create_inboxes()
    _tasks_into_inboxes()
    if _sqlite():
        op.drop_index('ix_task_live_due', table_name='task')  # re-made below: the rebuild would lose it
    with op.batch_alter_table('task', schema=None) as batch_op:
        batch_op.alter_column('project_id', existing_type=sa.Integer(), nullable=False)
        batch_op.create_foreign_key('fk_task_project_id_project', 'project', ['project_id'], ['id'],
                                    ondelete='CASCADE')
        batch_op.create_foreign_key('fk_task_parent_id_task', 'task', ['parent_id'], ['id'], ondelete='CASCADE')
    with op.batch_alter_table('task', schema=None) as batch_op:
        if _sqlite():
            batch_op.create_index('ix_task_live_due', ['owner_id', sa.text(f'coalesce(due_key, {NO_DUE_KEY})'), 'id'],
                                  unique=False, sqlite_where=LIVE)
        batch_op.create_index('ix_task_live_project_due',
                              ['owner_id', 'project_id', sa.text(f'coalesce(due_key, {NO_DUE_KEY})'), 'id'],
                              unique=False, sqlite_where=LIVE, postgresql_where=LIVE)
        batch_op.create_index('ix_task_parent', ['parent_id'], unique=False)
    if _sqlite():
        for statement in _FTS_TRIGGERS:
            op.execute(statement)
    with op.batch_alter_table('audit_entry', schema=None) as batch_op:
        batch_op.add_column(sa.Column('project_id', sa.Integer(), nullable=True))
        batch_op.alter_column('task_id', existing_type=sa.Integer(), nullable=True)


def downgrade() -> None:
    op.execute(sa.text('DELETE FROM audit_entry WHERE task_id IS NULL'))
    with op.batch_alter_table('audit_entry', schema=None) as batch_op:
        batch_op.alter_column('task_id', existing_type=sa.Integer(), nullable=False)
        batch_op.drop_column('project_id')
    op.drop_index('ix_task_parent', table_name='task')
    op.drop_index('ix_task_live_project_due', table_name='task', sqlite_where=LIVE, postgresql_where=LIVE)
    if _sqlite():
        op.drop_index('ix_task_live_due', table_name='task')
    with op.batch_alter_table('task', schema=None) as batch_op:
        batch_op.drop_constraint('fk_task_parent_id_task', type_='foreignkey')
        batch_op.drop_constraint('fk_task_project_id_project', type_='foreignkey')
        batch_op.drop_column('parent_id')
        batch_op.drop_column('project_id')
    with op.batch_alter_table('task', schema=None) as batch_op:
        if _sqlite():
            batch_op.create_index('ix_task_live_due', ['owner_id', sa.text(f'coalesce(due_key, {NO_DUE_KEY})'), 'id'],
                                  unique=False, sqlite_where=LIVE)
    if _sqlite():
        for statement in _FTS_TRIGGERS:
            op.execute(statement)
    with op.batch_alter_table('project', schema=None) as batch_op:
        batch_op.drop_index('uq_project_owner_inbox', sqlite_where=sa.text('is_inbox'),
                            postgresql_where=sa.text('is_inbox'))
        batch_op.drop_index('uq_project_owner_name', sqlite_where=LIVE, postgresql_where=LIVE)
    op.drop_table('project')
