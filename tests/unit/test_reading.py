"""Units of work that only read (storage.uow `UnitOfWorkFactory.reading`: the sender's next
rows, a card's appeal): on PostgreSQL their statements go without BEGIN and ROLLBACK around
them, they cannot commit, and the pool's connection they used is a transaction's again for
the next unit of work."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import pytest
from asyncpg.transaction import Transaction

from domain.dialog.events import Channel
from storage.database import create_engine, create_session_factory
from storage.uow import UnitOfWorkFactory
from tests.asyncpg_trips import round_trips

pytestmark = pytest.mark.postgres_only

NOW = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)


@contextmanager
def rollbacks() -> Iterator[list[str]]:
    seen: list[str] = []
    rollback = Transaction.rollback

    async def rolled_back(self: Transaction, *args: Any, **kwargs: Any) -> None:
        seen.append("ROLLBACK")
        await rollback(self, *args, **kwargs)

    Transaction.rollback = rolled_back
    try:
        yield seen
    finally:
        Transaction.rollback = rollback


async def test_a_reading_unit_of_work_sends_only_its_statements(uows: UnitOfWorkFactory) -> None:
    # Reads through the session (the ORM's), as a card's appeal is read.
    with round_trips() as sent, rollbacks() as rolled:
        async with uows.reading() as uow:
            await uow.outbox_queue.card_queued(1, "-100")
            await uow.outbox_queue.card_queued(2, "-100")
    assert len(sent) == 2 and "BEGIN" not in sent and rolled == []
    # Where an ordinary one begins a transaction and rolls it back.
    with round_trips() as sent, rollbacks() as rolled:
        async with uows() as uow:
            await uow.outbox_queue.card_queued(1, "-100")
    assert sent[0] == "BEGIN" and rolled == ["ROLLBACK"]
    # The sender's heads are a hot statement: a borrowed connection, in either.
    for unit in (uows.reading, uows):
        with round_trips() as sent:
            async with unit() as uow:
                await uow.outbox_queue.heads(None)
        assert len(sent) == 1 and "BEGIN" not in sent


async def test_a_reading_unit_of_work_cannot_commit(uows: UnitOfWorkFactory) -> None:
    async with uows.reading() as uow:
        with pytest.raises(RuntimeError, match="only reads"):
            await uow.commit()


async def test_the_connection_is_a_transactions_again_after_reading(database_url: str) -> None:
    # One connection in the pool: every unit of work here gets the one the reading used.
    engine = create_engine(database_url, pool_size=1)
    uows = UnitOfWorkFactory(create_session_factory(engine))
    try:
        for update_id in (4242, 4243):
            async with uows.reading() as uow:
                await uow.outbox_queue.heads(None)
            async with uows() as uow:
                assert await uow.updates.claim(Channel.TELEGRAM, update_id, NOW)
                # Not committed: rolled back, so the update is not handled.
            async with uows() as uow:
                assert not await uow.updates.seen(Channel.TELEGRAM, update_id)
    finally:
        await uows.sessions.close()
        await engine.dispose()
