"""appointments with the mayor and officials

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29 15:30:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'officials',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('code', sa.String(length=32), nullable=False),
        sa.Column('names', sa.JSON(), nullable=False),
        sa.Column('titles', sa.JSON(), nullable=False),
        sa.Column('places', sa.JSON(), nullable=False),
        sa.Column('schedule', sa.JSON(), nullable=False),
        sa.Column('position', sa.Integer(), nullable=False),
        sa.Column('active', sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_officials')),
        sa.UniqueConstraint('code', name=op.f('uq_officials_code')),
    )
    op.create_table(
        'appointments',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('official_id', sa.Integer(), nullable=False),
        sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('ends_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('resident_id', sa.Integer(), nullable=False),
        sa.Column('account_id', sa.Integer(), nullable=False),
        sa.Column('question', sa.Text(), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('status_changed_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('reminded_day_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('reminded_soon_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ['account_id'],
            ['channel_accounts.id'],
            name=op.f('fk_appointments_account_id_channel_accounts'),
        ),
        sa.ForeignKeyConstraint(
            ['official_id'], ['officials.id'], name=op.f('fk_appointments_official_id_officials')
        ),
        sa.ForeignKeyConstraint(
            ['resident_id'], ['residents.id'], name=op.f('fk_appointments_resident_id_residents')
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_appointments')),
    )
    op.create_index(
        op.f('ix_appointments_starts_at'), 'appointments', ['starts_at'], unique=False
    )
    op.create_index(
        op.f('ix_appointments_resident_id'), 'appointments', ['resident_id'], unique=False
    )
    # The guard against double booking: one active booking per official and slot.
    op.create_index(
        'uq_appointments_active_slot',
        'appointments',
        ['official_id', 'starts_at'],
        unique=True,
        sqlite_where=sa.text("status <> 'cancelled'"),
        postgresql_where=sa.text("status <> 'cancelled'"),
    )
    op.create_table(
        'reception_closed_days',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('official_id', sa.Integer(), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('closed_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('actor_id', sa.String(length=64), nullable=True),
        sa.Column('actor_name', sa.String(length=128), nullable=True),
        sa.ForeignKeyConstraint(
            ['official_id'],
            ['officials.id'],
            name=op.f('fk_reception_closed_days_official_id_officials'),
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_reception_closed_days')),
        sa.UniqueConstraint(
            'official_id', 'day', name=op.f('uq_reception_closed_days_official_id')
        ),
    )
    op.create_table(
        'appointment_events',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('kind', sa.String(length=24), nullable=False),
        sa.Column('appointment_id', sa.Integer(), nullable=True),
        sa.Column('official_id', sa.Integer(), nullable=True),
        sa.Column('actor_kind', sa.String(length=16), nullable=False),
        sa.Column('actor_id', sa.String(length=64), nullable=True),
        sa.Column('actor_name', sa.String(length=128), nullable=True),
        sa.Column('note', sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ['appointment_id'],
            ['appointments.id'],
            name=op.f('fk_appointment_events_appointment_id_appointments'),
        ),
        sa.ForeignKeyConstraint(
            ['official_id'],
            ['officials.id'],
            name=op.f('fk_appointment_events_official_id_officials'),
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_appointment_events')),
    )
    op.create_index(
        op.f('ix_appointment_events_appointment_id'),
        'appointment_events',
        ['appointment_id'],
        unique=False,
    )
    op.create_table(
        'appointment_pending',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('token', sa.String(length=16), nullable=False),
        sa.Column('chat_id', sa.BigInteger(), nullable=False),
        sa.Column('operator_id', sa.BigInteger(), nullable=False),
        sa.Column('operator_name', sa.String(length=128), nullable=False),
        sa.Column('kind', sa.String(length=24), nullable=False),
        sa.Column('appointment_id', sa.Integer(), nullable=True),
        sa.Column('official_id', sa.Integer(), nullable=True),
        sa.Column('day', sa.Date(), nullable=True),
        sa.Column('note', sa.Text(), nullable=True),
        sa.Column('prompt_message_id', sa.BigInteger(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ['appointment_id'],
            ['appointments.id'],
            name=op.f('fk_appointment_pending_appointment_id_appointments'),
        ),
        sa.ForeignKeyConstraint(
            ['official_id'],
            ['officials.id'],
            name=op.f('fk_appointment_pending_official_id_officials'),
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_appointment_pending')),
    )
    op.create_index(
        op.f('ix_appointment_pending_prompt_message_id'),
        'appointment_pending',
        ['prompt_message_id'],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(
        op.f('ix_appointment_pending_prompt_message_id'), table_name='appointment_pending'
    )
    op.drop_table('appointment_pending')
    op.drop_index(op.f('ix_appointment_events_appointment_id'), table_name='appointment_events')
    op.drop_table('appointment_events')
    op.drop_table('reception_closed_days')
    op.drop_index('uq_appointments_active_slot', table_name='appointments')
    op.drop_index(op.f('ix_appointments_resident_id'), table_name='appointments')
    op.drop_index(op.f('ix_appointments_starts_at'), table_name='appointments')
    op.drop_table('appointments')
    op.drop_table('officials')
