"""The hot statements (storage._hot) read and write exactly what the ORM reads and writes:
aware datetimes, JSON, nulls; in the unit of work's own transaction, so a rollback takes
them back. On SQLite they run straight on aiosqlite, on PostgreSQL on asyncpg under the
session's transaction."""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime, timedelta
from typing import cast

import pytest
from sqlalchemy import Table, column, insert, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError, ProgrammingError

from bot.faults import Fault, classify
from domain.clock import utc_now
from domain.dialog.events import Channel
from storage._hot import HotStatement, param
from storage.models import OutboxMessage, ProcessedUpdate
from storage.outbox_queue import Queued
from storage.uow import UnitOfWork, UnitOfWorkFactory
from tests.residents import register

NOW = datetime(2026, 5, 4, 12, 0, 0, 123456, tzinfo=UTC)
PAYLOAD = {"calls": [{"method": "sendMessage", "text": "Дякуємо! «15-80»", "n": [1, None]}]}


def _hold(uow: UnitOfWork, chat: str, *, in_flight: Collection[int] = ()) -> Queued:
    return uow.outbox_queue.hold_replies(
        channel=Channel.TELEGRAM,
        chat=chat,
        kind="calls",
        payload=PAYLOAD,
        now=NOW,
        until=NOW + timedelta(seconds=30),
        in_order=True,
        in_flight=lambda: in_flight,
    )


async def test_a_reply_row_written_hot_reads_back_through_the_orm(
    uows: UnitOfWorkFactory,
) -> None:
    async with uows() as uow:
        first = _hold(uow, "7001")
        assert first.row_id == 0  # known at the commit
        await uow.commit()
    assert first.row_id > 0 and first.leased  # the chat had nothing pending: sent at once
    async with uows() as uow:
        row = await uow.session.get(OutboxMessage, first.row_id)
        assert row is not None
        assert (row.channel, row.chat, row.kind, row.status) == (
            "telegram",
            "7001",
            "calls",
            "pending",
        )
        assert row.payload == PAYLOAD
        assert row.created_at == NOW and row.created_at.tzinfo is not None
        assert row.next_attempt_at == NOW + timedelta(seconds=30)
        assert (row.attempts, row.progress, row.last_error, row.sent_at) == (0, 0, None, None)
    # The chat's next replies wait for that pending row, unless this worker is sending it.
    async with uows() as uow:
        behind = _hold(uow, "7001")
        mine = _hold(uow, "7001", in_flight={first.row_id})
        elsewhere = _hold(uow, "7002")
        await uow.commit()
    assert not behind.leased and not mine.leased  # `behind` is pending too, by then
    assert elsewhere.leased
    async with uows() as uow:
        waiting = await uow.session.get(OutboxMessage, behind.row_id)
        assert waiting is not None and waiting.next_attempt_at < NOW  # due: the sender's
    async with uows() as uow:
        alone = _hold(uow, "7005", in_flight={first.row_id})
        await uow.commit()
    assert alone.leased
    # The chat's only pending row is one this worker is sending: nothing to wait for.
    async with uows() as uow:
        next_one = _hold(uow, "7005", in_flight={alone.row_id})
        await uow.commit()
    assert next_one.leased
    async with uows() as uow:
        after_it = _hold(uow, "7005", in_flight={next_one.row_id})
        await uow.commit()
    assert not after_it.leased  # `alone` is pending and not in flight


async def test_hot_writes_roll_back_with_their_unit_of_work(uows: UnitOfWorkFactory) -> None:
    async with uows() as uow:
        assert await uow.updates.claim(Channel.TELEGRAM, 555, NOW)
        _hold(uow, "7003")
        # Not committed.
    async with uows() as uow:
        probe = _hold(uow, "7003")
        assert await uow.updates.claim(Channel.TELEGRAM, 555, NOW)  # free again
        assert not await uow.updates.claim(Channel.TELEGRAM, 555, NOW)  # now taken
        await uow.commit()
    assert probe.leased  # no row of the first unit of work was there to wait for
    async with uows() as uow:
        assert not await uow.updates.claim(Channel.TELEGRAM, 555, utc_now())
        assert await uow.updates.claim(Channel.VIBER, 555, NOW)  # another channel's id
        stored = (
            await uow.session.execute(
                select(ProcessedUpdate).where(ProcessedUpdate.update_id == 555)
            )
        ).scalars()
        assert {(r.channel, r.processed_at) for r in stored} == {
            ("telegram", NOW),
            ("viber", NOW),
        }


async def test_an_account_read_hot_is_the_account_the_orm_wrote(uows: UnitOfWorkFactory) -> None:
    async with uows() as uow:
        made = await uow.accounts.get_or_create(
            Channel.TELEGRAM, "7004", display_name="Олена", now=NOW
        )
        await uow.accounts.set_locale(made.id, "en")
        await uow.commit()
    resident = await register(uows, made.id, "+380501112233", NOW)
    async with uows() as uow:
        again = await uow.accounts.get_or_create(
            Channel.TELEGRAM, "7004", display_name="Олена", now=NOW
        )
        assert again.id == made.id and again.resident_id == resident
        assert (again.locale, again.phone, again.phone_verified) == ("en", "+380501112233", True)
        assert await uow.accounts.locale_of(Channel.TELEGRAM, "7004") == "en"
        assert await uow.accounts.is_subscribed(Channel.TELEGRAM, "7004")
        await uow.accounts.set_subscribed(Channel.TELEGRAM, "7004", False)
        assert not await uow.accounts.is_subscribed(Channel.TELEGRAM, "7004")
        assert await uow.accounts.locale_of(Channel.VIBER, "7004") is None


async def test_a_driver_error_in_a_hot_statement_arrives_as_sqlalchemys(
    uows: UnitOfWorkFactory,
) -> None:
    # Straight on aiosqlite (SQLite) the driver's own error would come up unwrapped: the unit
    # of work tells a concurrent duplicate by SQLAlchemy's IntegrityError, and the fault
    # classifier a passing database fault by its OperationalError.
    table = cast(Table, ProcessedUpdate.__table__)
    plain_insert = HotStatement(
        lambda _dialect: insert(table).values(
            channel=param(table.c.channel),
            update_id=param(table.c.update_id),
            processed_at=param(table.c.processed_at),
        )
    )
    missing = HotStatement(lambda _dialect: select(column("x")).select_from(text("no_such_table")))
    values = {"channel": "telegram", "update_id": 777, "processed_at": NOW}
    async with uows() as uow:
        await plain_insert.rows(uow.session, values)
        with pytest.raises(IntegrityError) as duplicate:
            await plain_insert.rows(uow.session, values)
        assert "+380" not in str(duplicate.value)
    async with uows() as uow:
        with pytest.raises(DBAPIError) as broken:
            await missing.rows(uow.session, {})
        assert isinstance(broken.value, OperationalError | ProgrammingError)
        assert classify(broken.value) is (
            Fault.TRANSIENT if isinstance(broken.value, OperationalError) else Fault.PERMANENT
        )
