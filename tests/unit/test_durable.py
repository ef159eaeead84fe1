"""Replies' rows marked sent with several workers (PostgreSQL): each update's row is marked
before the update ends, and the updates finishing together share one statement (bot.durable).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from bot.durable import DurableReplies
from domain.dialog.events import Channel
from storage.models import OutboxMessage
from storage.uow import UnitOfWorkFactory
from tests.asyncpg_trips import round_trips

pytestmark = pytest.mark.postgres_only

NOW = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)
PAYLOAD = {"calls": [{"method": "sendMessage", "params": {"chat_id": 1, "text": "x"}}]}


async def test_rows_sent_together_are_marked_together_before_each_update_ends(
    uows: UnitOfWorkFactory,
) -> None:
    durable = DurableReplies(uows, lease=60, batch=False, clock=lambda: NOW)
    rows: list[int] = []
    for chat in range(30):
        async with uows() as uow:
            kept = durable.keep(
                uow, channel=Channel.TELEGRAM, chat=str(9000 + chat), kind="calls", payload=PAYLOAD
            )
            await uow.commit()
        assert kept.send_now
        rows.append(kept.row_id)

    async def one(row: int) -> str:
        durable.sending(row)
        await asyncio.sleep(0)
        await durable.sent(row)
        # Marked by the time the update ends: its chat's next update finds nothing pending.
        async with uows() as uow:
            stored = await uow.session.get(OutboxMessage, row)
            assert stored is not None
            return stored.status

    with round_trips() as seen:
        statuses = await asyncio.gather(*(one(row) for row in rows))
    assert statuses == ["sent"] * len(rows)
    marks = [query for query in seen if query.lstrip().upper().startswith("UPDATE OUTBOX")]
    assert 1 <= len(marks) <= 3  # one statement for all, or a few: not one per row
    async with uows() as uow:
        pending = (
            await uow.session.execute(
                select(OutboxMessage.id).where(OutboxMessage.status == "pending")
            )
        ).all()
    assert pending == []
