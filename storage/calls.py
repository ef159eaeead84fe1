"""Phone appeals: filed by an operator for a caller, owned by a resident only once the caller's
number is verified in a messenger."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from domain.dialog.events import GeoPoint
from domain.entities import AppealChannel
from domain.statuses import Status
from storage.models import Appeal


class CallRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

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
    ) -> int:
        appeal = Appeal(
            number=number,
            resident_id=resident_id,
            account_id=None,
            channel=AppealChannel.PHONE.value,
            category_id=category_id,
            status=Status.NEW.value,
            latitude=location.latitude if location else None,
            longitude=location.longitude if location else None,
            address=address,
            description=description,
            created_at=created_at,
            due_at=due_at,
            updated_at=created_at,
            status_changed_at=created_at,
            caller_phone=caller_phone,
            caller_name=(caller_name or "")[:128] or None,
            taken_by_id=operator_id,
            taken_by_name=operator_name[:128] or None,
        )
        self._session.add(appeal)
        await self._session.flush()
        return appeal.id
