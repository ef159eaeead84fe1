"""What the resident's conversation needs to know about operators' messages."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.entities import OperatorMessage
from domain.statuses import OPEN_STATUSES
from storage.models import Appeal, AppealEvent


class ConversationRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def last_operator_message(
        self, account_id: int, resident_id: int, since: datetime
    ) -> OperatorMessage | None:
        """The newest relay to this account (its own appeals, or its resident's phone appeals,
        which are relayed to every chat) on an open appeal, not older than `since`."""
        open_values = [status.value for status in OPEN_STATUSES]
        query = (
            select(AppealEvent.id, AppealEvent.at, Appeal.id, Appeal.number)
            .join(Appeal, Appeal.id == AppealEvent.appeal_id)
            .where(
                AppealEvent.kind == "relay_out",
                AppealEvent.at >= since,
                Appeal.status.in_(open_values),
                Appeal.resident_id == resident_id,
                or_(Appeal.account_id == account_id, Appeal.account_id.is_(None)),
            )
            .order_by(AppealEvent.id.desc())
            .limit(1)
        )
        row = (await self._session.execute(query)).one_or_none()
        if row is None:
            return None
        event_id, at, appeal_id, number = row
        answered_query = (
            select(AppealEvent.id)
            .where(
                AppealEvent.appeal_id == appeal_id,
                AppealEvent.kind == "relay_in",
                AppealEvent.id > event_id,
            )
            .limit(1)
        )
        answered = (await self._session.execute(answered_query)).first() is not None
        return OperatorMessage(event_id, appeal_id, number, at, answered)
