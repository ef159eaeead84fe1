"""Messenger updates handled once: each one is claimed in the unit of work that handles it."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.expression import ClauseElement

from domain.dialog.events import Channel
from storage._hot import HotStatement, Program, hold_until_commit, param, take_held
from storage._sql import SessionStore, insert_for
from storage.models import ProcessedUpdate


def _claim(dialect: str) -> ClauseElement:
    table = cast(Table, ProcessedUpdate.__table__)
    claim: ClauseElement = (
        insert_for(dialect)(table)
        .values(
            channel=param(table.c.channel),
            update_id=param(table.c.update_id),
            processed_at=param(table.c.processed_at),
        )
        .on_conflict_do_nothing(index_elements=["channel", "update_id"])
        .returning(table.c.update_id)
    )
    return claim


# Every update's first statement (storage._hot).
_CLAIM = HotStatement(_claim)


def _seen(_dialect: str) -> ClauseElement:
    table = cast(Table, ProcessedUpdate.__table__)
    seen: ClauseElement = select(table.c.update_id).where(
        table.c.channel == param(table.c.channel), table.c.update_id == param(table.c.update_id)
    )
    return seen


# Viber asks this before each message's media download (bot.viber.turn): a plain read, so it
# begins no transaction (storage._hot).
_SEEN = HotStatement(_seen)


_HELD_CLAIM = "claim"


def take_claim(session: AsyncSession) -> Mapping[str, Any] | None:
    """The claim held for the commit (`claim_at_commit`), taken over by a write that runs it
    in its own statement (storage.outbox_queue): its `channel`, `update_id` and
    `processed_at`, and that write raises ClaimTaken when it finds the update handled."""
    parameters: Mapping[str, Any] | None = session.info.pop(_HELD_CLAIM, None)
    if parameters is None or not take_held(session, _HELD_CLAIM):
        return None
    return parameters


class ClaimTaken(Exception):
    """The update was handled before: found when its held claim ran at the commit."""


class RecentClaims:
    """The updates this process claimed lately. Where one process owns the database the claim
    is written at the commit, after the work; a redelivery of an update already handled is
    told from this set before any work is done, and the claim still decides."""

    def __init__(self, size: int = 4096) -> None:
        self._size = size
        self._seen: OrderedDict[tuple[str, int], None] = OrderedDict()

    def __contains__(self, key: tuple[Channel, int]) -> bool:
        return (key[0].value, key[1]) in self._seen

    def add(self, channel: Channel, update_id: int) -> None:
        self._seen[(channel.value, update_id)] = None
        if len(self._seen) > self._size:
            self._seen.popitem(last=False)


class ProcessedUpdateRepository(SessionStore):
    """The updates already handled, so that a redelivered one is not handled twice."""

    async def seen(self, channel: Channel, update_id: int) -> bool:
        """Whether the event was handled already (committed). Read alone: on PostgreSQL one
        statement on a lent connection, on SQLite a trip of its own, where the ORM's read
        began a transaction (BEGIN, SELECT, ROLLBACK)."""
        parameters = {"channel": channel.value, "update_id": update_id}
        return bool(await _SEEN.rows(self._session, parameters))

    async def claim(self, channel: Channel, update_id: int, now: datetime) -> bool:
        """Record the event as handled; False when it already was."""
        parameters = {"channel": channel.value, "update_id": update_id, "processed_at": now}
        return bool(await _CLAIM.rows(self._session, parameters))

    def claim_at_commit(self, channel: Channel, update_id: int, now: datetime) -> None:
        """Record the event as handled when the unit of work commits, before its other held
        writes; the commit raises ClaimTaken when it already was. The transaction (and on
        SQLite the database's one connection) is then not begun for the claim alone."""
        parameters = {"channel": channel.value, "update_id": update_id, "processed_at": now}

        def write() -> Program:
            if not (yield _CLAIM, parameters):
                raise ClaimTaken(f"{channel} event {update_id}")

        hold_until_commit(self._session, _HELD_CLAIM, write)
        self._session.info[_HELD_CLAIM] = parameters

    async def prune(self, before: datetime) -> int:
        result = await self._session.execute(
            delete(ProcessedUpdate).where(ProcessedUpdate.processed_at < before)
        )
        return int(getattr(result, "rowcount", 0) or 0)
