"""The staff chat's map: which of its messages belong to which appeal, and the forum topic
of each category."""

from __future__ import annotations

from storage._sql import SessionStore
from storage.models import StaffMessage, StaffTopic


class StaffRepository(SessionStore):
    """Which staff-chat messages belong to which appeal, and the forum topics per category."""

    async def remember(self, chat_id: int, message_id: int, appeal_id: int, kind: str) -> None:
        await self._session.merge(
            StaffMessage(chat_id=chat_id, message_id=message_id, appeal_id=appeal_id, kind=kind)
        )
        await self._session.flush()

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
