"""Phone appeals: filed by an operator for a caller, owned by a resident only once the caller's
number is verified in a messenger."""

from __future__ import annotations

from datetime import datetime

from domain.dialog.events import GeoPoint
from domain.entities import AppealChannel
from domain.statuses import Status
from storage._sql import SessionStore, clip_name
from storage.appeals import appeal_values
from storage.models import Appeal


class CallRepository(SessionStore):
    async def add(
        self,
        *,
        number: str,
        resident_id: int | None,
        category_id: int,
        location: GeoPoint | None,
        address: str | None,
        description: str,
        created_at: datetime,
        due_at: datetime,
        caller_phone: str,
        caller_name: str | None,
        operator_id: str,
        operator_name: str,
        status: Status,
    ) -> int:
        """The appeal in `status`; the flow (domain.phone_appeals) writes the first event."""
        values = appeal_values(
            number=number,
            resident_id=resident_id,
            account_id=None,
            channel=AppealChannel.PHONE.value,
            category_id=category_id,
            status=status,
            location=location,
            address=address,
            description=description,
            created_at=created_at,
            due_at=due_at,
        )
        appeal = Appeal(
            **values,
            caller_phone=caller_phone,
            caller_name=clip_name(caller_name),
            taken_by_id=operator_id,
            taken_by_name=clip_name(operator_name),
        )
        self._session.add(appeal)
        await self._session.flush()
        return appeal.id
