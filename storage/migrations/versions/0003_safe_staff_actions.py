"""safe staff actions: pending desk actions bound to card and operator, caption cards

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29 13:10:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('staff_pending_actions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token', sa.String(length=16), nullable=False),
    sa.Column('chat_id', sa.BigInteger(), nullable=False),
    sa.Column('operator_id', sa.BigInteger(), nullable=False),
    sa.Column('operator_name', sa.String(length=128), nullable=False),
    sa.Column('appeal_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=24), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('prompt_message_id', sa.BigInteger(), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('duplicate_of_id', sa.Integer(), nullable=True),
    sa.Column('media_kind', sa.String(length=8), nullable=True),
    sa.Column('media_ref', sa.String(length=512), nullable=True),
    sa.Column('media_unique_id', sa.String(length=128), nullable=True),
    sa.ForeignKeyConstraint(['appeal_id'], ['appeals.id'], name=op.f('fk_staff_pending_actions_appeal_id_appeals')),
    sa.ForeignKeyConstraint(['duplicate_of_id'], ['appeals.id'], name=op.f('fk_staff_pending_actions_duplicate_of_id_appeals')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_staff_pending_actions')),
    sa.UniqueConstraint('chat_id', 'operator_id', 'appeal_id', name=op.f('uq_staff_pending_actions_chat_id'))
    )
    with op.batch_alter_table('staff_pending_actions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_staff_pending_actions_appeal_id'), ['appeal_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_staff_pending_actions_expires_at'), ['expires_at'], unique=False)

    with op.batch_alter_table('appeals', schema=None) as batch_op:
        batch_op.add_column(sa.Column('staff_card_caption', sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('appeals', schema=None) as batch_op:
        batch_op.drop_column('staff_card_caption')

    with op.batch_alter_table('staff_pending_actions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_staff_pending_actions_expires_at'))
        batch_op.drop_index(batch_op.f('ix_staff_pending_actions_appeal_id'))

    op.drop_table('staff_pending_actions')
