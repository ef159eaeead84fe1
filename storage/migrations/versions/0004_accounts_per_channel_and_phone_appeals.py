"""accounts per channel, verified phones, linking codes, phone appeals

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29 12:50:00.000000

Before this revision a resident was a phone number, and any account that shared that number
(on Viber, a forwarded contact card is enough) was joined to it and saw its appeals. Now the
phone lives on the account, verified only where the platform vouches for it (Telegram's own
contact), and accounts share a resident only after a proof.

Existing data: each account keeps its phone; Telegram phones count as verified (the bot has
always refused a Telegram contact whose user id was not the sender's), Viber phones as
claimed. Residents that had been joined by phone are split per account: the Telegram account
(else the oldest) keeps the resident, every other account gets a resident of its own, and each
appeal goes with the account it was filed from. Nobody loses an appeal they filed; an account
that had been joined by phone alone loses sight of the others' appeals until it links by code.
"""
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_residents = sa.table(
    'residents',
    sa.column('id', sa.Integer()),
    sa.column('phone', sa.String()),
    sa.column('created_at', sa.DateTime(timezone=True)),
)
_accounts = sa.table(
    'channel_accounts',
    sa.column('id', sa.Integer()),
    sa.column('channel', sa.String()),
    sa.column('resident_id', sa.Integer()),
    sa.column('phone', sa.String()),
    sa.column('phone_verified_at', sa.DateTime(timezone=True)),
    sa.column('created_at', sa.DateTime(timezone=True)),
)
_appeals = sa.table(
    'appeals',
    sa.column('id', sa.Integer()),
    sa.column('resident_id', sa.Integer()),
    sa.column('account_id', sa.Integer()),
)


def upgrade() -> None:
    op.create_table('link_codes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('requester_id', sa.Integer(), nullable=False),
    sa.Column('target_id', sa.Integer(), nullable=False),
    sa.Column('code_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.ForeignKeyConstraint(['requester_id'], ['channel_accounts.id'], name=op.f('fk_link_codes_requester_id_channel_accounts')),
    sa.ForeignKeyConstraint(['target_id'], ['channel_accounts.id'], name=op.f('fk_link_codes_target_id_channel_accounts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_link_codes'))
    )
    with op.batch_alter_table('link_codes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_link_codes_requester_id'), ['requester_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_link_codes_target_id'), ['target_id'], unique=False)

    op.create_table('account_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('kind', sa.String(length=24), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('other_account_id', sa.Integer(), nullable=True),
    sa.Column('link_code_id', sa.Integer(), nullable=True),
    sa.Column('actor_kind', sa.String(length=16), nullable=False),
    sa.Column('actor_id', sa.String(length=64), nullable=True),
    sa.Column('actor_name', sa.String(length=128), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['channel_accounts.id'], name=op.f('fk_account_events_account_id_channel_accounts')),
    sa.ForeignKeyConstraint(['link_code_id'], ['link_codes.id'], name=op.f('fk_account_events_link_code_id_link_codes')),
    sa.ForeignKeyConstraint(['other_account_id'], ['channel_accounts.id'], name=op.f('fk_account_events_other_account_id_channel_accounts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_account_events'))
    )
    with op.batch_alter_table('account_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_account_events_account_id'), ['account_id'], unique=False)

    with op.batch_alter_table('channel_accounts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('phone', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('phone_verified_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f('ix_channel_accounts_phone'), ['phone'], unique=False)

    with op.batch_alter_table('appeals', schema=None) as batch_op:
        batch_op.add_column(sa.Column('channel', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('caller_phone', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('caller_name', sa.String(length=128), nullable=True))
        batch_op.add_column(sa.Column('taken_by_id', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('taken_by_name', sa.String(length=128), nullable=True))
        batch_op.create_index(batch_op.f('ix_appeals_caller_phone'), ['caller_phone'], unique=False)

    # The phone moves from the resident to each of its accounts.
    op.execute(
        _accounts.update()
        .where(_accounts.c.resident_id.is_not(None))
        .values(
            phone=sa.select(_residents.c.phone)
            .where(_residents.c.id == _accounts.c.resident_id)
            .scalar_subquery()
        )
    )
    # Telegram contacts were always checked to be the sender's own: verified. Viber: claimed.
    op.execute(
        _accounts.update()
        .where(_accounts.c.channel == 'telegram', _accounts.c.phone.is_not(None))
        .values(phone_verified_at=_accounts.c.created_at)
    )
    op.execute(
        "UPDATE appeals SET channel = "
        "(SELECT channel FROM channel_accounts WHERE channel_accounts.id = appeals.account_id)"
    )
    with op.batch_alter_table('appeals', schema=None) as batch_op:
        batch_op.alter_column('channel', existing_type=sa.String(length=16), nullable=False)
        batch_op.alter_column('resident_id', existing_type=sa.Integer(), nullable=True)
        batch_op.alter_column('account_id', existing_type=sa.Integer(), nullable=True)

    with op.batch_alter_table('residents', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_residents_phone'), type_='unique')
        batch_op.drop_column('phone')

    _split_residents_joined_by_phone()


def _split_residents_joined_by_phone() -> None:
    """Give every account but one of a shared resident its own resident, with the appeals it
    filed. The Telegram account (verified) keeps the original, else the oldest account."""
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(_accounts.c.id, _accounts.c.channel, _accounts.c.resident_id)
        .where(_accounts.c.resident_id.is_not(None))
        .order_by(_accounts.c.resident_id, _accounts.c.id)
    ).all()
    groups: dict[int, list[tuple[int, str]]] = {}
    for account_id, channel, resident_id in rows:
        groups.setdefault(resident_id, []).append((account_id, channel))
    now = datetime.now(UTC)
    for members in groups.values():
        if len(members) < 2:
            continue
        keeper = next((a for a, c in members if c == 'telegram'), members[0][0])
        for account_id, _channel in members:
            if account_id == keeper:
                continue
            resident_id = bind.execute(
                _residents.insert().values(created_at=now).returning(_residents.c.id)
            ).scalar_one()
            bind.execute(
                _accounts.update().where(_accounts.c.id == account_id).values(resident_id=resident_id)
            )
            bind.execute(
                _appeals.update()
                .where(_appeals.c.account_id == account_id)
                .values(resident_id=resident_id)
            )


def downgrade() -> None:
    bind = op.get_bind()
    calls = bind.execute(
        sa.select(sa.func.count()).select_from(_appeals).where(
            (_appeals.c.account_id.is_(None)) | (_appeals.c.resident_id.is_(None))
        )
    ).scalar_one()
    if calls:
        raise RuntimeError(
            f"{calls} phone appeals cannot be kept by the schema before 0004 (it needs a "
            "messenger account for every appeal); export or delete them before downgrading."
        )
    with op.batch_alter_table('residents', schema=None) as batch_op:
        batch_op.add_column(sa.Column('phone', sa.String(length=32), nullable=True))
    # The old schema had one resident per phone: join again the residents that share one
    # (it cannot express the difference between a verified and a claimed number).
    rows = bind.execute(
        sa.select(_accounts.c.resident_id, _accounts.c.phone)
        .where(_accounts.c.resident_id.is_not(None), _accounts.c.phone.is_not(None))
        .order_by(_accounts.c.phone_verified_at.is_(None), _accounts.c.id)
    ).all()
    by_phone: dict[str, int] = {}
    for resident_id, phone in rows:
        keeper = by_phone.setdefault(phone, resident_id)
        if keeper != resident_id:
            bind.execute(
                _accounts.update().where(_accounts.c.resident_id == resident_id).values(resident_id=keeper)
            )
            bind.execute(
                _appeals.update().where(_appeals.c.resident_id == resident_id).values(resident_id=keeper)
            )
    for phone, resident_id in by_phone.items():
        bind.execute(_residents.update().where(_residents.c.id == resident_id).values(phone=phone))
    referenced = sa.union(
        sa.select(_accounts.c.resident_id).where(_accounts.c.resident_id.is_not(None)),
        sa.select(_appeals.c.resident_id),
    ).subquery()
    bind.execute(
        _residents.delete().where(
            _residents.c.phone.is_(None),
            _residents.c.id.not_in(sa.select(referenced.c.resident_id)),
        )
    )
    with op.batch_alter_table('residents', schema=None) as batch_op:
        batch_op.alter_column('phone', existing_type=sa.String(length=32), nullable=False)
        batch_op.create_unique_constraint(batch_op.f('uq_residents_phone'), ['phone'])

    with op.batch_alter_table('appeals', schema=None) as batch_op:
        batch_op.alter_column('account_id', existing_type=sa.Integer(), nullable=False)
        batch_op.alter_column('resident_id', existing_type=sa.Integer(), nullable=False)
        batch_op.drop_index(batch_op.f('ix_appeals_caller_phone'))
        batch_op.drop_column('taken_by_name')
        batch_op.drop_column('taken_by_id')
        batch_op.drop_column('caller_name')
        batch_op.drop_column('caller_phone')
        batch_op.drop_column('channel')

    with op.batch_alter_table('channel_accounts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_channel_accounts_phone'))
        batch_op.drop_column('phone_verified_at')
        batch_op.drop_column('phone')

    with op.batch_alter_table('account_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_account_events_account_id'))
    op.drop_table('account_events')
    with op.batch_alter_table('link_codes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_link_codes_target_id'))
        batch_op.drop_index(batch_op.f('ix_link_codes_requester_id'))
    op.drop_table('link_codes')
