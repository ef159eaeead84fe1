"""departments as data, and appeals held by a department's executors' chat

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29 16:50:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('departments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('name_en', sa.String(length=200), nullable=False),
    sa.Column('chat_id', sa.BigInteger(), nullable=True),
    sa.Column('sla_hours', sa.Integer(), nullable=True),
    sa.Column('reminder_hours', sa.Float(), nullable=True),
    sa.Column('escalation_hours', sa.Float(), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_departments')),
    sa.UniqueConstraint('code', name=op.f('uq_departments_code'))
    )
    with op.batch_alter_table('departments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_departments_name'), ['name'], unique=False)
        batch_op.create_index(batch_op.f('ix_departments_chat_id'), ['chat_id'], unique=False)

    op.create_table('executor_assignments',
    sa.Column('appeal_id', sa.Integer(), nullable=False),
    sa.Column('department_code', sa.String(length=32), nullable=False),
    sa.Column('chat_id', sa.BigInteger(), nullable=False),
    sa.Column('assigned_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('reminded_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('escalated_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['appeal_id'], ['appeals.id'], name=op.f('fk_executor_assignments_appeal_id_appeals')),
    sa.PrimaryKeyConstraint('appeal_id', name=op.f('pk_executor_assignments'))
    )
    with op.batch_alter_table('executor_assignments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_executor_assignments_department_code'), ['department_code'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('executor_assignments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_executor_assignments_department_code'))
    op.drop_table('executor_assignments')
    with op.batch_alter_table('departments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_departments_chat_id'))
        batch_op.drop_index(batch_op.f('ix_departments_name'))
    op.drop_table('departments')
