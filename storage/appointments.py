"""Officials, bookings, closed days and their record in the database
(domain.appointments.AppointmentStore), and the appointments desk's pending actions
(domain.appointment_desk.DeskPendingStore)."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import date, datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from domain.appointment_desk import DeskPending, DeskPendingKind
from domain.appointments import (
    Actor,
    Booking,
    BookingEvent,
    BookingStatus,
    NewBooking,
    Official,
    Reminder,
    SlotTakenError,
)
from domain.dialog.events import Channel
from domain.reception import OfficialSpec, Schedule
from storage.models import (
    Appointment,
    AppointmentEvent,
    AppointmentPending,
    ChannelAccount,
    ReceptionClosedDay,
)
from storage.models import Official as OfficialRow

_BOOKED = BookingStatus.BOOKED.value


def _official(row: OfficialRow) -> Official:
    return Official(
        id=row.id,
        code=row.code,
        names=dict(row.names),
        titles=dict(row.titles),
        places=dict(row.places),
        schedule=Schedule.from_data(dict(row.schedule)),
        active=row.active,
    )


def _booking(row: Appointment, account: ChannelAccount) -> Booking:
    return Booking(
        id=row.id,
        official_id=row.official_id,
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        resident_id=row.resident_id,
        account_id=row.account_id,
        question=row.question,
        status=BookingStatus(row.status),
        created_at=row.created_at,
        channel=Channel(account.channel),
        chat=account.external_id,
        locale=account.locale,
        resident_name=account.display_name,
        phone=account.phone,
    )


_REMINDED = {
    Reminder.DAY_BEFORE: Appointment.reminded_day_at,
    Reminder.SOON: Appointment.reminded_soon_at,
}


class AppointmentRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    # -- officials -------------------------------------------------------------------------

    async def sync_officials(self, specs: Sequence[OfficialSpec]) -> None:
        rows = {
            row.code: row for row in (await self._session.execute(select(OfficialRow))).scalars()
        }
        for position, spec in enumerate(specs):
            row = rows.pop(spec.code, None)
            if row is None:
                row = OfficialRow(code=spec.code)
                self._session.add(row)
            row.names = dict(spec.names)
            row.titles = dict(spec.titles)
            row.places = dict(spec.places)
            row.schedule = spec.schedule.to_data()
            row.position = position
            row.active = True
        for row in rows.values():
            row.active = False
        await self._session.flush()

    async def officials(self) -> list[Official]:
        query = select(OfficialRow).where(OfficialRow.active).order_by(OfficialRow.position)
        return [_official(row) for row in (await self._session.execute(query)).scalars()]

    async def official(self, code: str) -> Official | None:
        query = select(OfficialRow).where(OfficialRow.code == code, OfficialRow.active)
        row = (await self._session.execute(query)).scalar_one_or_none()
        return _official(row) if row else None

    async def official_by_id(self, official_id: int) -> Official | None:
        row = await self._session.get(OfficialRow, official_id)
        return _official(row) if row else None

    # -- slots and days --------------------------------------------------------------------

    async def taken(self, official_id: int, start: datetime, end: datetime) -> set[datetime]:
        query = select(Appointment.starts_at).where(
            Appointment.official_id == official_id,
            Appointment.status != BookingStatus.CANCELLED.value,
            Appointment.starts_at >= start,
            Appointment.starts_at < end,
        )
        return set((await self._session.execute(query)).scalars())

    async def closed_days(self, official_id: int, first: date, last: date) -> set[date]:
        query = select(ReceptionClosedDay.day).where(
            ReceptionClosedDay.official_id == official_id,
            ReceptionClosedDay.day >= first,
            ReceptionClosedDay.day <= last,
        )
        return set((await self._session.execute(query)).scalars())

    async def _lock_official(self, official_id: int) -> None:
        """Serialise bookings and day closures of one official (PostgreSQL row lock; SQLite's
        single writer already does), so that a close sees every booking committed before it
        and a booking sees a close committed before it."""
        query = select(OfficialRow.id).where(OfficialRow.id == official_id).with_for_update()
        await self._session.execute(query)

    async def close_day(self, official_id: int, day: date, actor: Actor, now: datetime) -> bool:
        await self._lock_official(official_id)
        if day in await self.closed_days(official_id, day, day):
            return False
        try:
            async with self._session.begin_nested():
                self._session.add(
                    ReceptionClosedDay(
                        official_id=official_id,
                        day=day,
                        closed_at=now,
                        actor_id=actor.id,
                        actor_name=actor.name,
                    )
                )
        except IntegrityError:
            return False  # closed by another operator at the same moment
        return True

    # -- bookings --------------------------------------------------------------------------

    async def add(self, booking: NewBooking, *, cancel: int | None = None) -> Booking:
        row = Appointment(
            official_id=booking.official_id,
            starts_at=booking.starts_at,
            ends_at=booking.ends_at,
            resident_id=booking.resident_id,
            account_id=booking.account_id,
            question=booking.question,
            status=_BOOKED,
            created_at=booking.now,
            status_changed_at=booking.now,
            reminded_day_at=booking.now if booking.skip_day_reminder else None,
            reminded_soon_at=booking.now if booking.skip_soon_reminder else None,
        )
        try:
            # A savepoint: a refused insert undoes the cancellation of a move with it, and
            # leaves the rest of the unit of work (the dialog's state) usable.
            async with self._session.begin_nested():
                await self._lock_official(booking.official_id)
                if booking.day in await self.closed_days(
                    booking.official_id, booking.day, booking.day
                ):
                    raise SlotTakenError
                if cancel is not None:
                    cancelled = await self._session.execute(
                        update(Appointment)
                        .where(Appointment.id == cancel, Appointment.status == _BOOKED)
                        .values(status=BookingStatus.CANCELLED.value, status_changed_at=booking.now)
                    )
                    if getattr(cancelled, "rowcount", 0) != 1:
                        raise SlotTakenError
                self._session.add(row)
                await self._session.flush()
        except IntegrityError as exc:
            raise SlotTakenError from exc
        found = await self.get(row.id)
        assert found is not None
        return found

    async def _rows(self, *conditions: object, lock: bool = False) -> list[Booking]:
        query = (
            select(Appointment, ChannelAccount)
            .join(ChannelAccount, ChannelAccount.id == Appointment.account_id)
            .where(*conditions)  # type: ignore[arg-type]
            .order_by(Appointment.starts_at, Appointment.official_id, Appointment.id)
        )
        if lock:
            query = query.with_for_update(of=Appointment)
        return [_booking(a, c) for a, c in (await self._session.execute(query)).all()]

    async def get(self, booking_id: int, *, lock: bool = False) -> Booking | None:
        found = await self._rows(Appointment.id == booking_id, lock=lock)
        return found[0] if found else None

    async def upcoming_of(self, resident_id: int, now: datetime) -> list[Booking]:
        return await self._rows(
            Appointment.resident_id == resident_id,
            Appointment.status == _BOOKED,
            Appointment.starts_at > now,
        )

    async def of_day(self, start: datetime, end: datetime) -> list[Booking]:
        return await self._rows(Appointment.starts_at >= start, Appointment.starts_at < end)

    async def set_status(self, booking_id: int, status: BookingStatus, now: datetime) -> bool:
        result = await self._session.execute(
            update(Appointment)
            .where(Appointment.id == booking_id, Appointment.status == _BOOKED)
            .values(status=status.value, status_changed_at=now)
        )
        return getattr(result, "rowcount", 0) == 1

    async def record(
        self,
        kind: BookingEvent,
        actor: Actor,
        now: datetime,
        *,
        booking_id: int | None = None,
        official_id: int | None = None,
        note: str | None = None,
    ) -> None:
        self._session.add(
            AppointmentEvent(
                at=now,
                kind=kind.value,
                appointment_id=booking_id,
                official_id=official_id,
                actor_kind=actor.kind,
                actor_id=actor.id,
                actor_name=(actor.name or "")[:128] or None,
                note=note,
            )
        )
        await self._session.flush()

    # -- reminders -------------------------------------------------------------------------

    async def due_reminders(self, reminder: Reminder, now: datetime, ahead: timedelta) -> list[int]:
        column = _REMINDED[reminder]
        query = (
            select(Appointment.id)
            .where(
                Appointment.status == _BOOKED,
                Appointment.starts_at > now,
                Appointment.starts_at <= now + ahead,
                column.is_(None),
            )
            .order_by(Appointment.starts_at)
            .limit(200)
        )
        return list((await self._session.execute(query)).scalars())

    async def claim_reminder(self, booking_id: int, reminder: Reminder, now: datetime) -> bool:
        column = _REMINDED[reminder]
        # A conditional update: of two ticks (or workers) only one sees the row still unset;
        # on PostgreSQL the second waits for the first's commit and then matches nothing.
        result = await self._session.execute(
            update(Appointment)
            .where(Appointment.id == booking_id, column.is_(None))
            .values({column.key: now})
        )
        return getattr(result, "rowcount", 0) == 1


def _pending(row: AppointmentPending) -> DeskPending:
    return DeskPending(
        id=row.id,
        token=row.token,
        chat_id=row.chat_id,
        operator_id=row.operator_id,
        operator_name=row.operator_name,
        kind=DeskPendingKind(row.kind),
        booking_id=row.appointment_id,
        official_id=row.official_id,
        day=row.day,
        note=row.note,
        prompt_message_id=row.prompt_message_id,
        expires_at=row.expires_at,
    )


class AppointmentPendingRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def put(
        self,
        chat_id: int,
        operator_id: int,
        operator_name: str,
        kind: DeskPendingKind,
        expires_at: datetime,
        now: datetime,
        *,
        booking_id: int | None = None,
        official_id: int | None = None,
        day: date | None = None,
        note: str | None = None,
    ) -> DeskPending:
        # One pending action per operator: a new one replaces the last (its buttons stop).
        await self._session.execute(
            delete(AppointmentPending).where(
                AppointmentPending.chat_id == chat_id,
                AppointmentPending.operator_id == operator_id,
            )
        )
        row = AppointmentPending(
            token=secrets.token_hex(4),
            chat_id=chat_id,
            operator_id=operator_id,
            operator_name=operator_name[:128],
            kind=kind.value,
            appointment_id=booking_id,
            official_id=official_id,
            day=day,
            note=note,
            created_at=now,
            expires_at=expires_at,
        )
        self._session.add(row)
        await self._session.flush()
        return _pending(row)

    async def get(self, pending_id: int) -> DeskPending | None:
        row = await self._session.get(AppointmentPending, pending_id)
        return _pending(row) if row else None

    async def by_prompt(self, chat_id: int, message_id: int) -> DeskPending | None:
        query = select(AppointmentPending).where(
            AppointmentPending.chat_id == chat_id,
            AppointmentPending.prompt_message_id == message_id,
        )
        row = (await self._session.execute(query)).scalars().first()
        return _pending(row) if row else None

    async def set_prompt(self, pending_id: int, token: str, message_id: int) -> None:
        await self._session.execute(
            update(AppointmentPending)
            .where(AppointmentPending.id == pending_id, AppointmentPending.token == token)
            .values(prompt_message_id=message_id)
        )

    async def delete(self, pending_id: int) -> None:
        await self._session.execute(
            delete(AppointmentPending).where(AppointmentPending.id == pending_id)
        )
