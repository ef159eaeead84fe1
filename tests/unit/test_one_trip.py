"""A dialog step on PostgreSQL commits in one round trip (storage._hot `commit`): its claim and
its replies' row are one statement, run as its own transaction, and the dialog state goes to
Redis after it. A step whose update was handled already writes nothing, in the database or
in Redis; a step whose Redis write fails is taken back, so that it is handled again whole."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from domain.dialog.events import Channel
from storage._hot import before_commit
from storage.models import OutboxMessage, ProcessedUpdate
from storage.outbox_queue import Queued
from storage.processed_updates import ClaimTaken
from storage.uow import UnitOfWork, UnitOfWorkFactory
from tests.asyncpg_trips import round_trips

pytestmark = pytest.mark.postgres_only

NOW = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)
PAYLOAD = {"calls": [{"method": "sendMessage", "chat_id": 7001, "text": "Дякуємо!"}]}


def _step(uow: UnitOfWork, update_id: int) -> Queued:
    """What a resident's dialog step holds for its commit: its claim and its replies."""
    uow.updates.claim_at_commit(Channel.TELEGRAM, update_id, NOW)
    return _reply(uow, "7001")


def _reply(uow: UnitOfWork, chat: str) -> Queued:
    return uow.outbox_queue.hold_replies(
        channel=Channel.TELEGRAM,
        chat=chat,
        kind="calls",
        payload=PAYLOAD,
        now=NOW,
        until=NOW + timedelta(seconds=30),
        in_order=True,
        in_flight=lambda: (),
    )


async def _stored(uows: UnitOfWorkFactory, update_id: int) -> tuple[int, int]:
    """Claims of `update_id` and reply rows, as stored."""
    async with uows() as uow:
        claims = await uow.session.scalar(
            select(func.count()).where(ProcessedUpdate.update_id == update_id)
        )
        rows = await uow.session.scalar(select(func.count()).select_from(OutboxMessage))
    return int(claims or 0), int(rows or 0)


def _outside(uow: UnitOfWork, write: Callable[[], Awaitable[None]]) -> None:
    before_commit(uow.session, "dialog", write)


async def test_a_step_commits_in_one_statement_and_then_writes_its_dialog(
    uows: UnitOfWorkFactory,
) -> None:
    async with uows() as uow:  # prepared on this connection first: not counted below
        _step(uow, 1)
        await uow.commit()
    order: list[str] = []

    async def dialog() -> None:
        order.append("dialog")

    with round_trips() as seen:
        async with uows() as uow:
            queued = _step(uow, 2)
            _outside(uow, dialog)
            await uow.commit()
    assert [query.split()[0] for query in seen] == ["WITH"]  # no BEGIN, no COMMIT
    assert order == ["dialog"]
    assert queued.row_id > 0 and not queued.leased  # behind the first step's pending row
    assert await _stored(uows, 2) == (1, 2)


async def test_a_step_handled_already_writes_nothing_anywhere(uows: UnitOfWorkFactory) -> None:
    async with uows() as uow:
        _step(uow, 3)
        await uow.commit()
    written: list[str] = []

    async def dialog() -> None:
        written.append("dialog")

    async with uows() as uow:
        _step(uow, 3)
        _outside(uow, dialog)
        with pytest.raises(ClaimTaken):
            await uow.commit()
    assert written == []  # the dialog state is left as the first delivery wrote it
    assert await _stored(uows, 3) == (1, 1)


async def test_a_step_whose_dialog_write_fails_is_taken_back(uows: UnitOfWorkFactory) -> None:
    async def redis_away() -> None:
        raise ConnectionError("Redis went away")

    async with uows() as uow:
        _step(uow, 4)
        _outside(uow, redis_away)
        with pytest.raises(ConnectionError):
            await uow.commit()
    assert await _stored(uows, 4) == (0, 0)  # delivered again, it is handled again
    async with uows() as uow:
        queued = _step(uow, 4)
        await uow.commit()
    assert queued.leased  # nothing of the first try holds it back
    assert await _stored(uows, 4) == (1, 1)


async def test_a_step_with_more_to_write_commits_as_a_transaction(
    uows: UnitOfWorkFactory,
) -> None:
    """A step that also writes something else (here a second reply row) is one transaction;
    a claim found taken there rolls all of it back."""
    async with uows() as uow:
        _step(uow, 5)
        await uow.commit()
    with round_trips() as seen:
        async with uows() as uow:
            _step(uow, 6)
            _reply(uow, "7002")
            await uow.commit()
    assert seen[0] == "BEGIN" and seen[-1] == "COMMIT"
    assert await _stored(uows, 6) == (1, 3)
    async with uows() as uow:
        _step(uow, 5)
        _reply(uow, "7003")
        with pytest.raises(ClaimTaken):
            await uow.commit()
    assert await _stored(uows, 5) == (1, 3)
