"""Where one process owns the database (SQLite), units of work share short transactions
(storage._hot.Trips) and read accounts and dialog state from caches in process. What they
write still commits or rolls back whole, per unit of work, and the caches follow every write.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import cast

import pytest
from aiogram.fsm.storage.base import StorageKey
from sqlalchemy import Table, func, insert, select

from bot.once import Duplicate, handle_once
from domain.dialog.events import Channel
from storage._hot import HotStatement, Program, hold_until_commit, param
from storage.fsm import RecordCache, SQLAlchemyStorage
from storage.models import ChannelAccount, OutboxMessage, ProcessedUpdate
from storage.uow import UnitOfWork, UnitOfWorkFactory, current_session
from tests.residents import register

pytestmark = pytest.mark.sqlite_only

NOW = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)
_TABLE = cast(Table, ProcessedUpdate.__table__)
_NO_TIME = HotStatement(
    lambda _dialect: insert(_TABLE).values(
        channel=param(_TABLE.c.channel),
        update_id=param(_TABLE.c.update_id),
        processed_at=param(_TABLE.c.processed_at),
    )
)
PAYLOAD = {"calls": [{"method": "sendMessage", "params": {"chat_id": 1, "text": "x"}}]}


def _reply(uow: UnitOfWork, chat: str) -> None:
    uow.outbox_queue.hold_replies(
        channel=Channel.TELEGRAM,
        chat=chat,
        kind="calls",
        payload=PAYLOAD,
        now=NOW,
        until=NOW,
        in_order=False,
        in_flight=frozenset,
    )


async def _count(
    uows: UnitOfWorkFactory, model: type[ProcessedUpdate] | type[OutboxMessage]
) -> int:
    async with uows() as uow:
        return int(
            (await uow.session.execute(select(func.count()).select_from(model))).scalar_one()
        )


async def test_updates_committed_in_one_trip_stand_or_fall_alone(uows: UnitOfWorkFactory) -> None:
    """Twenty updates commit at once, one of them a redelivery of an update handled before:
    that one is told so and leaves nothing behind, the others are all there."""
    clock = lambda: NOW  # noqa: E731

    async def work(uow: UnitOfWork) -> None:
        _reply(uow, "100")

    await handle_once(uows, clock, Channel.TELEGRAM, 7, work)
    # A process that does not remember handling 7 (it restarted): only the claim can tell.
    assert uows.recent_claims is not None
    uows.recent_claims = type(uows.recent_claims)()

    async def one(update_id: int) -> str:
        try:
            await handle_once(uows, clock, Channel.TELEGRAM, update_id, work)
        except Duplicate:
            return "duplicate"
        return "handled"

    outcomes = await asyncio.gather(*(one(update_id) for update_id in range(1, 21)))
    assert outcomes.count("duplicate") == 1 and outcomes[6] == "duplicate"
    assert await _count(uows, ProcessedUpdate) == 20
    # 1 reply of the first run of update 7, and 19 of the others: none from the redelivery.
    assert await _count(uows, OutboxMessage) == 20
    # The redelivery is now remembered, and skipped before any work.
    with pytest.raises(Duplicate):
        await handle_once(uows, clock, Channel.TELEGRAM, 7, work)


async def test_a_failing_update_in_a_shared_trip_takes_only_its_own_writes_back(
    uows: UnitOfWorkFactory,
) -> None:
    clock = lambda: NOW  # noqa: E731

    async def fine(uow: UnitOfWork) -> None:
        _reply(uow, "200")

    async def broken(uow: UnitOfWork) -> None:
        _reply(uow, "201")

        # Fails at the commit, after the update's claim and reply row were written in the
        # same savepoint (a NOT NULL column left empty).
        def write() -> Program:
            yield _NO_TIME, {"channel": "telegram", "update_id": 1000, "processed_at": None}

        hold_until_commit(uow.session, "broken", write)

    results = await asyncio.gather(
        handle_once(uows, clock, Channel.TELEGRAM, 301, fine),
        handle_once(uows, clock, Channel.TELEGRAM, 999, broken),
        handle_once(uows, clock, Channel.TELEGRAM, 302, fine),
        return_exceptions=True,
    )
    assert results[0] is None and results[2] is None
    assert isinstance(results[1], Duplicate)  # how the commit's IntegrityError is told
    async with uows() as uow:
        chats = (await uow.session.execute(select(OutboxMessage.chat))).scalars().all()
        claimed = (await uow.session.execute(select(ProcessedUpdate.update_id))).scalars().all()
    assert sorted(chats) == ["200", "200"]
    assert sorted(claimed) == [301, 302]


async def test_the_account_cache_follows_every_change_of_an_account(
    uows: UnitOfWorkFactory,
) -> None:
    async with uows() as uow:
        olena = await uow.accounts.get_or_create(
            Channel.TELEGRAM, "5001", display_name="Олена", now=NOW
        )
        other = await uow.accounts.get_or_create(
            Channel.VIBER, "viber-5001", display_name="Олена", now=NOW
        )
        await uow.commit()
    assert olena.resident_id is None
    # Registered at the commit (a held write, which forgets the entry where it ran) ...
    resident = await register(uows, olena.id, "+380501234567", NOW)
    async with uows() as uow:
        seen = await uow.accounts.get_or_create(
            Channel.TELEGRAM, "5001", display_name=None, now=NOW
        )
    assert (seen.resident_id, seen.phone, seen.phone_verified) == (resident, "+380501234567", True)
    # ... an account without a resident joined to one through the ORM (a flushed object) ...
    async with uows() as uow:
        third = await uow.accounts.get_or_create(
            Channel.TELEGRAM, "5002", display_name=None, now=NOW
        )
        await uow.commit()
    assert third.resident_id is None  # read, so the cache holds it
    async with uows() as uow:
        await uow.identity.join(third.id, resident)
        await uow.commit()
    async with uows() as uow:
        flushed = await uow.accounts.get_or_create(
            Channel.TELEGRAM, "5002", display_name=None, now=NOW
        )
    assert flushed.resident_id == resident
    # ... joined by a bulk UPDATE of the table (every account of its old resident) ...
    own = await register(uows, other.id, "+380501234567", NOW, verified=False)
    async with uows() as uow:
        before = await uow.accounts.get_or_create(
            Channel.VIBER, "viber-5001", display_name=None, now=NOW
        )
        assert before.resident_id == own != resident  # read, so the cache holds it
    async with uows() as uow:
        await uow.identity.join(other.id, resident)
        await uow.commit()
    async with uows() as uow:
        joined = await uow.accounts.get_or_create(
            Channel.VIBER, "viber-5001", display_name=None, now=NOW
        )
    assert joined.resident_id == resident
    # ... and a locale written at the commit; a rolled back one is not seen.
    async with uows() as uow:
        await uow.accounts.set_locale(olena.id, "en")
        await uow.commit()
    async with uows() as uow:
        await uow.accounts.set_locale(olena.id, "uk")  # rolled back: never committed
    async with uows() as uow:
        assert await uow.accounts.locale_of(Channel.TELEGRAM, "5001") == "en"
    # What the cache says is what the table says.
    async with uows() as uow:
        row = await uow.session.get(ChannelAccount, olena.id)
        assert row is not None and (row.locale, row.resident_id) == ("en", resident)


async def test_the_dialog_cache_learns_commits_only(uows: UnitOfWorkFactory) -> None:
    cache = RecordCache()
    storage = SQLAlchemyStorage(uows.sessions, cache=cache)
    key = StorageKey(bot_id=1, chat_id=42, user_id=42)
    async with uows() as uow:
        token = current_session.set(uow.session)
        try:
            await storage.set_state(key, "Form:description")
            await storage.set_data(key, {"media": [{"ref": "a"}]})
            await uow.commit()
        finally:
            current_session.reset(token)
    async with uows() as uow:
        token = current_session.set(uow.session)
        try:
            data = await storage.get_data(key)
            data["media"].append({"ref": "b"})  # changed in hand, then rolled back
            await storage.set_data(key, data)
            await storage.set_state(key, "Form:review")
        finally:
            current_session.reset(token)
    # A storage without the cache reads the table: both say the committed record.
    plain = SQLAlchemyStorage(uows.sessions)
    for reader in (storage, plain):
        assert await reader.get_state(key) == "Form:description"
        assert await reader.get_data(key) == {"media": [{"ref": "a"}]}


async def test_an_account_read_inside_a_transaction_that_rolls_back_is_not_kept(
    uows: UnitOfWorkFactory,
) -> None:
    """A unit of work that changed an account through the ORM (its own transaction, not
    committed yet) and then reads it sees its own change; the cache must not keep it past a
    rollback."""
    async with uows() as uow:
        made = await uow.accounts.get_or_create(
            Channel.TELEGRAM, "5101", display_name=None, now=NOW
        )
        await uow.commit()
    first = await register(uows, made.id, "+380501112244", NOW)
    async with uows() as uow:
        fresh = await uow.identity.separate(made.id, NOW)
        mine = await uow.accounts.get_or_create(
            Channel.TELEGRAM, "5101", display_name=None, now=NOW
        )
        assert mine.resident_id == fresh != first  # its own write, in its transaction
        # Not committed: rolled back.
    async with uows() as uow:
        again = await uow.accounts.get_or_create(
            Channel.TELEGRAM, "5101", display_name=None, now=NOW
        )
    assert again.resident_id == first
