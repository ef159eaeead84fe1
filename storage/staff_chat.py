"""The staff chat's map: which of its messages belong to which appeal, and the forum topic
of each category."""

from __future__ import annotations

from storage._sql import SessionStore, insert_for
from storage.models import StaffMessage, StaffTopic


class StaffRepository(SessionStore):
    """Which staff-chat messages belong to which appeal, and the forum topics per category."""

    async def remember(self, chat_id: int, message_id: int, appeal_id: int, kind: str) -> None:
        # One statement (every card posts at least one message), where merge read first.
        values = {"chat_id": chat_id, "message_id": message_id, "appeal_id": appeal_id}
        upsert = insert_for(self._session.get_bind().dialect.name)(StaffMessage).values(
            **values, kind=kind
        )
        await self._session.execute(
            upsert.on_conflict_do_update(
                index_elements=["chat_id", "message_id"],
                set_={"appeal_id": upsert.excluded.appeal_id, "kind": upsert.excluded.kind},
            )
        )

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
