"""Revision 0004 on existing data: residents joined by phone are split per account, each
appeal stays with the account that filed it, and Telegram phones count as verified."""

from __future__ import annotations

from sqlalchemy import text

from storage.database import create_engine
from storage.migrate import downgrade, upgrade

NOW = "2026-11-01 10:00:00+00:00"


async def test_residents_joined_by_phone_are_split_per_account(empty_database_url: str) -> None:
    engine = create_engine(empty_database_url)
    try:
        await upgrade(engine, "0002")
        async with engine.begin() as connection:
            for statement in (
                "INSERT INTO residents (id, phone, created_at) VALUES "
                f"(1, '+380501234567', '{NOW}'), (2, '+380660000000', '{NOW}')",
                # Resident 1: Olena on Telegram, and a Viber account joined by her number.
                "INSERT INTO channel_accounts (id, channel, external_id, telegram_id, "
                "resident_id, subscribed, created_at) VALUES "
                f"(10, 'viber', 'v-mallory', NULL, 1, true, '{NOW}'), "
                f"(11, 'telegram', '5301', 5301, 1, true, '{NOW}'), "
                f"(12, 'viber', 'v-petro', NULL, 2, true, '{NOW}')",
                "INSERT INTO categories (id, code, names, sla_hours, department, position, "
                "active) VALUES (1, 'roads', '{}', 24, 'Roads', 0, true)",
            ):
                await connection.execute(text(statement))
            if connection.dialect.name == "postgresql":
                # The rows above were given ids; the sequence must not hand them out again.
                await connection.execute(text("SELECT setval('residents_id_seq', 2)"))
            for appeal_id, resident_id, account_id in ((100, 1, 11), (101, 1, 10), (102, 2, 12)):
                await connection.execute(
                    text(
                        "INSERT INTO appeals (id, number, resident_id, account_id, category_id, "
                        "status, description, created_at, due_at, updated_at, "
                        "status_changed_at) VALUES (:id, :number, :resident, :account, 1, "
                        f"'new', 'text', '{NOW}', '{NOW}', '{NOW}', '{NOW}')"
                    ),
                    {
                        "id": appeal_id,
                        "number": f"1580-2026-{appeal_id:06d}",
                        "resident": resident_id,
                        "account": account_id,
                    },
                )

        await upgrade(engine)

        async with engine.connect() as connection:
            accounts = {
                row.id: row
                for row in await connection.execute(
                    text("SELECT id, resident_id, phone, phone_verified_at FROM channel_accounts")
                )
            }
            appeals = {
                row.id: row
                for row in await connection.execute(
                    text("SELECT id, resident_id, account_id, channel FROM appeals")
                )
            }
        # Telegram keeps the resident; the Viber account joined by phone gets its own.
        assert accounts[11].resident_id == 1
        assert accounts[10].resident_id not in (None, 1)
        assert accounts[12].resident_id == 2
        assert appeals[100].resident_id == 1
        assert appeals[101].resident_id == accounts[10].resident_id
        assert appeals[102].resident_id == 2
        assert {a.id: a.channel for a in appeals.values()} == {
            100: "telegram",
            101: "viber",
            102: "viber",
        }
        assert {a.id: a.phone for a in accounts.values()} == {
            10: "+380501234567",
            11: "+380501234567",
            12: "+380660000000",
        }
        assert accounts[11].phone_verified_at is not None
        assert accounts[10].phone_verified_at is None
        assert accounts[12].phone_verified_at is None

        # Down again: one resident per phone, as the old schema requires.
        await downgrade(engine, "0002")
        async with engine.connect() as connection:
            rows = (
                await connection.execute(text("SELECT id, phone FROM residents ORDER BY id"))
            ).all()
            owners: dict[int, int] = dict(
                (await connection.execute(text("SELECT id, resident_id FROM appeals"))).all()
            )
        assert [tuple(r) for r in rows] == [(1, "+380501234567"), (2, "+380660000000")]
        assert owners == {100: 1, 101: 1, 102: 2}
    finally:
        await engine.dispose()
