"""services: inbox, dead letters, reminder schedule, notifications and the audit log

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 12:56:51.940094
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('inbox_record',
    sa.Column('consumer_group', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('event_id', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('processed_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('consumer_group', 'event_id')
    )
    op.create_index('ix_inbox_record_processed_at', 'inbox_record', ['processed_at'], unique=False)

    op.create_table('dead_letter',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('consumer_group', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('topic', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('event_id', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('event_type', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('error', sa.Text(), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('replayed_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('consumer_group', 'event_id', name='uq_dead_letter_group_event')
    )
    op.create_index('ix_dead_letter_created_at', 'dead_letter', ['created_at'], unique=False)

    op.create_table('reminder_task_state',
    sa.Column('task_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('updated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('task_id')
    )
    op.create_index('ix_reminder_task_state_user_id', 'reminder_task_state', ['user_id'], unique=False)

    op.create_table('reminder_schedule',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('task_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('offset_minutes', sa.Integer(), nullable=False),
    sa.Column('fire_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('due_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('due_date', sa.Date(), nullable=True),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('sent_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('late', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    # The scheduler walks the pending rows in fire_at order through this partial index.
    op.create_index('ix_reminder_pending_fire_at', 'reminder_schedule', ['fire_at'], unique=False,
                    sqlite_where=sa.text('sent_at IS NULL'), postgresql_where=sa.text('sent_at IS NULL'))
    op.create_index('ix_reminder_sent_at', 'reminder_schedule', ['sent_at'], unique=False)
    op.create_index('ix_reminder_task', 'reminder_schedule', ['task_id', 'offset_minutes'], unique=False)

    op.create_table('notification',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('task_id', sa.Integer(), nullable=False),
    sa.Column('event_id', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('title', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.Column('due_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('due_date', sa.Date(), nullable=True),
    sa.Column('offset_minutes', sa.Integer(), nullable=False),
    sa.Column('fire_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('late', sa.Boolean(), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('read_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('event_id')
    )
    op.create_index('ix_notification_read_at', 'notification', ['read_at'], unique=False)
    op.create_index('ix_notification_user_id', 'notification', ['user_id', 'id'], unique=False)

    op.create_table('audit_entry',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('event_id', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('type', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('task_id', sa.Integer(), nullable=False),
    sa.Column('actor', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('time', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('before', sa.JSON(), nullable=True),
    sa.Column('after', sa.JSON(), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('event_id')
    )
    op.create_index('ix_audit_time', 'audit_entry', ['time'], unique=False)
    op.create_index('ix_audit_user_id', 'audit_entry', ['user_id', 'id'], unique=False)
    op.create_index('ix_audit_user_task', 'audit_entry', ['user_id', 'task_id', 'id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_audit_user_task', table_name='audit_entry')
    op.drop_index('ix_audit_user_id', table_name='audit_entry')
    op.drop_index('ix_audit_time', table_name='audit_entry')
    op.drop_table('audit_entry')
    op.drop_index('ix_notification_user_id', table_name='notification')
    op.drop_index('ix_notification_read_at', table_name='notification')
    op.drop_table('notification')
    op.drop_index('ix_reminder_task', table_name='reminder_schedule')
    op.drop_index('ix_reminder_sent_at', table_name='reminder_schedule')
    op.drop_index('ix_reminder_pending_fire_at', table_name='reminder_schedule')
    op.drop_table('reminder_schedule')
    op.drop_index('ix_reminder_task_state_user_id', table_name='reminder_task_state')
    op.drop_table('reminder_task_state')
    op.drop_index('ix_dead_letter_created_at', table_name='dead_letter')
    op.drop_table('dead_letter')
    op.drop_index('ix_inbox_record_processed_at', table_name='inbox_record')
    op.drop_table('inbox_record')
