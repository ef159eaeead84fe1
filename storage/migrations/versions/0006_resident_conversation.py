"""the resident's conversation: urgent categories, departments' English names

Revision ID: 0006
Revises: 0004
Create Date: 2026-11-29 13:30:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0006'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('categories', schema=None) as batch_op:
        batch_op.add_column(sa.Column('department_en', sa.String(length=200), nullable=True))
        # Existing rows are not urgent until the categories file says so at the next start.
        batch_op.add_column(
            sa.Column('urgent', sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table('categories', schema=None) as batch_op:
        batch_op.drop_column('urgent')
        batch_op.drop_column('department_en')
