"""The outbox: notifications written in the unit of work that causes them, delivered by the
sender after the commit. What the sender reads across chats is in storage.outbox_queue."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.expression import ClauseElement

from domain.dialog.events import Channel
from domain.entities import OutboxItem
from storage._hot import HotStatement, insert_of
from storage._rows import outbox_item
from storage._sql import SessionStore
from storage.models import OutboxMessage

# New rows are due at once whatever the business clock says (tests move that clock); retries
# are scheduled by the sender in real time.
DUE_NOW = datetime(1970, 1, 1, tzinfo=UTC)
PENDING = "pending"


def _add_row(_dialect: str) -> ClauseElement:
    columns = "created_at channel chat kind payload next_attempt_at appeal_id"
    add: ClauseElement = insert_of(
        OutboxMessage, columns, status=PENDING, attempts=0, progress=0
    ).returning(OutboxMessage.__table__.c.id)
    return add


# A new pending row as one Core statement, for the writes held until a commit (an update's
# replies: storage.outbox_queue; a new appeal's card: storage.appeals). `appeal_id` may be
# left out.
ADD_ROW = HotStatement(_add_row)


def pending_row(
    *,
    channel: Channel,
    chat: str,
    kind: str,
    payload: dict[str, Any],
    now: datetime,
    appeal_id: int | None = None,
    due_at: datetime = DUE_NOW,
) -> OutboxMessage:
    """A new row for the sender, not tried yet."""
    return OutboxMessage(
        created_at=now,
        channel=channel.value,
        chat=chat,
        kind=kind,
        appeal_id=appeal_id,
        payload=payload,
        status=PENDING,
        attempts=0,
        progress=0,
        next_attempt_at=due_at,
    )


class OutboxRepository(SessionStore):
    """Notifications waiting to be delivered; written with their cause, read by the sender."""

    PENDING = PENDING
    SENT = "sent"
    FAILED = "failed"
    SUPERSEDED = "superseded"

    def __init__(self, session: AsyncSession) -> None:
        super().__init__(session)
        # Rows added in this unit of work: after its commit the sender is woken for them.
        self.added = 0

    async def add(
        self,
        *,
        channel: Channel,
        chat: str,
        kind: str,
        payload: dict[str, Any],
        now: datetime,
        appeal_id: int | None = None,
    ) -> int:
        message = pending_row(
            channel=channel, chat=chat, kind=kind, payload=payload, now=now, appeal_id=appeal_id
        )
        self._session.add(message)
        self.added += 1
        await self._session.flush()
        return message.id

    async def pending(self, limit: int) -> list[OutboxItem]:
        """The oldest undelivered rows, due or not: order per chat must hold across retries."""
        query = (
            select(OutboxMessage)
            .where(OutboxMessage.status == self.PENDING)
            .order_by(OutboxMessage.id)
            .limit(limit)
        )
        return [outbox_item(row) for row in (await self._session.execute(query)).scalars()]

    async def count_pending(self) -> int:
        query = select(func.count(OutboxMessage.id)).where(OutboxMessage.status == self.PENDING)
        return int((await self._session.execute(query)).scalar_one())

    async def _set(self, item_id: int, **values: object) -> None:
        await self._session.execute(
            update(OutboxMessage).where(OutboxMessage.id == item_id).values(**values)
        )

    async def mark_sent(self, item_id: int, now: datetime) -> None:
        await self._set(item_id, status=self.SENT, sent_at=now, last_error=None)

    async def mark_failed(self, item_id: int, error: str) -> None:
        await self._set(item_id, status=self.FAILED, last_error=error[:2000])

    async def mark_superseded(self, item_id: int) -> None:
        await self._set(item_id, status=self.SUPERSEDED)

    async def retry_later(self, item_id: int, at: datetime, attempts: int, error: str) -> None:
        await self._set(item_id, next_attempt_at=at, attempts=attempts, last_error=error[:2000])

    async def set_progress(self, item_id: int, progress: int) -> None:
        await self._set(item_id, progress=progress)
