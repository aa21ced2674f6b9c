"""a one-line summary of each tool result, for the page's history

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 15:45:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('message') as batch:
        batch.add_column(sa.Column('summary', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False,
                                   server_default=''))


def downgrade() -> None:
    with op.batch_alter_table('message') as batch:
        batch.drop_column('summary')
