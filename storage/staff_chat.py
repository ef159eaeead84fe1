"""The staff chat's map: which of its messages belong to which appeal, and the forum topic
of each category."""

from __future__ import annotations

from typing import cast

from sqlalchemy import Table
from sqlalchemy.sql.expression import ClauseElement

from storage._hot import HotStatement, param
from storage._sql import SessionStore, insert_for
from storage.models import StaffMessage, StaffTopic


def _remember(dialect: str) -> ClauseElement:
    table = cast(Table, StaffMessage.__table__)
    upsert = insert_for(dialect)(table).values(
        {name: param(table.c[name]) for name in ("chat_id", "message_id", "appeal_id", "kind")}
    )
    statement: ClauseElement = upsert.on_conflict_do_update(
        index_elements=["chat_id", "message_id"],
        set_={"appeal_id": upsert.excluded.appeal_id, "kind": upsert.excluded.kind},
    )
    return statement


# Every card posts at least one message: one statement compiled once (storage._hot), where
# merge read first.
_REMEMBER = HotStatement(_remember)


class StaffRepository(SessionStore):
    """Which staff-chat messages belong to which appeal, and the forum topics per category."""

    async def remember(self, chat_id: int, message_id: int, appeal_id: int, kind: str) -> None:
        values = {"chat_id": chat_id, "message_id": message_id, "appeal_id": appeal_id}
        await _REMEMBER.rows(self._session, {**values, "kind": kind})

    async def appeal_of(self, chat_id: int, message_id: int) -> int | None:
        row = await self._session.get(StaffMessage, (chat_id, message_id))
        return row.appeal_id if row else None

    async def topic(self, chat_id: int, category_id: int) -> int | None:
        row = await self._session.get(StaffTopic, (chat_id, category_id))
        return row.thread_id if row else None

    async def set_topic(self, chat_id: int, category_id: int, thread_id: int) -> None:
        await self._session.merge(
            StaffTopic(chat_id=chat_id, category_id=category_id, thread_id=thread_id)
        )
        await self._session.flush()
