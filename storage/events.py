"""An appeal's history: status changes, notes and messages, in the order they happened."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.sql.expression import ClauseElement

from domain.entities import HistoryEntry
from domain.statuses import Status
from storage._hot import HotStatement, insert_of
from storage._sql import SessionStore, clip_name
from storage.models import AppealEvent


def _add_event(_dialect: str) -> ClauseElement:
    columns = "appeal_id at kind actor_kind actor_id actor_name from_status to_status note"
    add: ClauseElement = insert_of(AppealEvent, columns)
    return add


# An event as one Core statement, for writes held until the commit (storage.appeals).
ADD_EVENT = HotStatement(_add_event)


class AppealEventRepository(SessionStore):
    async def add_event(
        self,
        appeal_id: int,
        *,
        at: datetime,
        kind: str,
        actor_kind: str,
        actor_id: str | None,
        actor_name: str | None = None,
        from_status: Status | None = None,
        to_status: Status | None = None,
        note: str | None = None,
    ) -> None:
        self._session.add(
            AppealEvent(
                appeal_id=appeal_id,
                at=at,
                kind=kind,
                actor_kind=actor_kind,
                actor_id=actor_id,
                actor_name=clip_name(actor_name),
                from_status=from_status.value if from_status else None,
                to_status=to_status.value if to_status else None,
                note=note,
            )
        )
        await self._session.flush()

    async def history(self, appeal_id: int) -> list[HistoryEntry]:
        events = (
            await self._session.execute(
                select(AppealEvent)
                .where(AppealEvent.appeal_id == appeal_id)
                .order_by(AppealEvent.at, AppealEvent.id)
            )
        ).scalars()
        return [
            HistoryEntry(
                at=event.at,
                kind=event.kind,
                actor_kind=event.actor_kind,
                actor_name=event.actor_name,
                from_status=Status(event.from_status) if event.from_status else None,
                to_status=Status(event.to_status) if event.to_status else None,
                note=event.note,
            )
            for event in events
        ]
