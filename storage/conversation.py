"""What the resident's conversation needs to know about operators' messages."""

from __future__ import annotations

from datetime import datetime
from typing import cast

from sqlalchemy import Table, bindparam, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.expression import ClauseElement

from domain.entities import OperatorMessage
from domain.statuses import OPEN_STATUSES
from storage._hot import HotStatement, param
from storage.models import Appeal, AppealEvent


def _last_relay(_dialect: str) -> ClauseElement:
    event = cast(Table, AppealEvent.__table__)
    appeal = cast(Table, Appeal.__table__)
    open_values = [literal(status.value) for status in OPEN_STATUSES]
    last: ClauseElement = (
        select(event.c.id, event.c.at, appeal.c.id, appeal.c.number)
        .join(appeal, appeal.c.id == event.c.appeal_id)
        .where(
            event.c.kind == literal("relay_out"),
            event.c.at >= bindparam("since", type_=event.c.at.type),
            appeal.c.status.in_(open_values),
            appeal.c.resident_id == param(appeal.c.resident_id),
            or_(appeal.c.account_id == param(appeal.c.account_id), appeal.c.account_id.is_(None)),
        )
        .order_by(event.c.id.desc())
        .limit(1)
    )
    return last


_LAST_RELAY = HotStatement(_last_relay)


class ConversationRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def last_operator_message(
        self, account_id: int, resident_id: int, since: datetime
    ) -> OperatorMessage | None:
        """The newest relay to this account (its own appeals, or its resident's phone appeals,
        which are relayed to every chat) on an open appeal, not older than `since`."""
        # Every free-text message asks this: a hot statement (storage._hot).
        parameters = {"resident_id": resident_id, "account_id": account_id, "since": since}
        rows = await _LAST_RELAY.rows(self._session, parameters)
        if not rows:
            return None
        event_id, at, appeal_id, number = rows[0]
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
