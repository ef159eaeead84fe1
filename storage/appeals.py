"""Appeals: numbering, filing, status and department, the staff card's place, the timers'
queries. The appeal's history, media and read models live in their own modules; this
repository joins them so that `uow.appeals` keeps serving everything the domain asks of it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import exists, select, update

from domain.dialog.events import Channel, GeoPoint
from domain.entities import AppealState, NewMedia
from domain.statuses import WORKABLE_STATUSES, Status
from storage._rows import appeal_state
from storage._sql import dialect_insert
from storage.media import REPORT_ROLE
from storage.models import Appeal, AppealCounter, ExecutorAssignment
from storage.resident_views import ResidentAppealViews
from storage.staff_views import StaffAppealViews


def appeal_row(
    *,
    number: str,
    resident_id: int | None,
    account_id: int | None,
    channel: str,
    category_id: int,
    status: Status,
    location: GeoPoint | None,
    address: str | None,
    description: str,
    created_at: datetime,
    due_at: datetime,
) -> Appeal:
    """A new appeal's row, whichever way it was filed (a messenger or a phone call)."""
    return Appeal(
        number=number,
        resident_id=resident_id,
        account_id=account_id,
        channel=channel,
        category_id=category_id,
        status=status.value,
        latitude=location.latitude if location else None,
        longitude=location.longitude if location else None,
        address=address,
        description=description,
        created_at=created_at,
        due_at=due_at,
        updated_at=created_at,
        status_changed_at=created_at,
    )


class AppealRepository(ResidentAppealViews, StaffAppealViews):
    async def next_sequence(self, prefix: str, year: int) -> int:
        """The next number of the year; the row lock serialises concurrent filers. One
        statement: the year's first appeal inserts 1, later ones add one to the row."""
        insert = dialect_insert(self._session)(AppealCounter).values(
            prefix=prefix, year=year, last_value=1
        )
        result = await self._session.execute(
            insert.on_conflict_do_update(
                index_elements=["prefix", "year"],
                set_={"last_value": AppealCounter.last_value + 1},
            ).returning(AppealCounter.last_value)
        )
        return int(result.scalar_one())

    async def add(
        self,
        *,
        number: str,
        resident_id: int,
        account_id: int,
        channel: Channel,
        category_id: int,
        status: Status,
        location: GeoPoint | None,
        address: str | None,
        description: str,
        media: Sequence[NewMedia],
        created_at: datetime,
        due_at: datetime,
    ) -> int:
        """The appeal in `status` with the resident's media; its first event is the
        service's to write."""
        appeal = appeal_row(
            number=number,
            resident_id=resident_id,
            account_id=account_id,
            channel=channel.value,
            category_id=category_id,
            status=status,
            location=location,
            address=address,
            description=description,
            created_at=created_at,
            due_at=due_at,
        )
        self._session.add(appeal)
        await self._session.flush()
        if media:
            await self.add_media(appeal.id, media, REPORT_ROLE)
        return appeal.id

    async def get(self, appeal_id: int, *, lock: bool = False) -> AppealState | None:
        """The appeal; with lock=True its row stays locked until the unit of work ends, so two
        operators pressing buttons at once are applied one after the other."""
        query = select(Appeal).where(Appeal.id == appeal_id)
        if lock:
            query = query.with_for_update()
        appeal = (await self._session.execute(query)).scalar_one_or_none()
        return appeal_state(appeal) if appeal else None

    async def set_department(self, appeal_id: int, department: str, now: datetime) -> None:
        await self._session.execute(
            update(Appeal)
            .where(Appeal.id == appeal_id)
            .values(department=department, updated_at=now)
        )

    async def id_by_number(self, number: str) -> int | None:
        query = select(Appeal.id).where(Appeal.number == number)
        return (await self._session.execute(query)).scalar_one_or_none()

    async def number_of(self, appeal_id: int) -> str | None:
        query = select(Appeal.number).where(Appeal.id == appeal_id)
        return (await self._session.execute(query)).scalar_one_or_none()

    async def set_status(
        self,
        appeal_id: int,
        status: Status,
        now: datetime,
        *,
        department: str | None = None,
        duplicate_of_id: int | None = None,
    ) -> None:
        values: dict[str, object] = {
            "status": status.value,
            "status_changed_at": now,
            "updated_at": now,
        }
        if department is not None:
            values["department"] = department
        if duplicate_of_id is not None:
            values["duplicate_of_id"] = duplicate_of_id
        await self._session.execute(update(Appeal).where(Appeal.id == appeal_id).values(**values))

    async def set_card(
        self,
        appeal_id: int,
        chat_id: int,
        thread_id: int | None,
        message_id: int,
        *,
        caption: bool = False,
    ) -> None:
        await self._session.execute(
            update(Appeal)
            .where(Appeal.id == appeal_id)
            .values(
                staff_chat_id=chat_id,
                staff_thread_id=thread_id,
                staff_message_id=message_id,
                staff_card_caption=caption,
            )
        )

    async def overdue(
        self, now: datetime, reminded_before: datetime, limit: int = 100
    ) -> list[int]:
        """Open, not done, past due, and not reminded within the period."""
        open_statuses = [s.value for s in WORKABLE_STATUSES]
        query = (
            select(Appeal.id)
            .where(Appeal.status.in_(open_statuses), Appeal.due_at < now)
            .where((Appeal.reminded_at.is_(None)) | (Appeal.reminded_at <= reminded_before))
            # Held by a department's executors: reminded in their chat (storage.departments).
            .where(~exists().where(ExecutorAssignment.appeal_id == Appeal.id))
            .order_by(Appeal.due_at)
            .limit(limit)
        )
        return list((await self._session.execute(query)).scalars())

    async def mark_reminded(self, appeal_ids: Sequence[int], now: datetime) -> None:
        await self._session.execute(
            update(Appeal).where(Appeal.id.in_(appeal_ids)).values(reminded_at=now)
        )

    async def done_before(self, moment: datetime, limit: int = 100) -> list[int]:
        query = (
            select(Appeal.id)
            .where(Appeal.status == Status.DONE.value, Appeal.status_changed_at <= moment)
            .order_by(Appeal.status_changed_at)
            .limit(limit)
        )
        return list((await self._session.execute(query)).scalars())
