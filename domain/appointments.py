"""Appointments with the mayor and officials: booking a slot, seeing, cancelling and moving it,
the staff's marks, closed days and reminders.

The store is a port (`AppointmentStore`); the database enforces that a slot is booked at most
once (a unique index over active bookings), and the store turns that refusal into
`SlotTakenError`, so a slot taken by a parallel booker is told, never double-booked.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Protocol
from zoneinfo import ZoneInfo

from domain.clock import Clock
from domain.dialog.events import Channel
from domain.dialog.replies import Reply
from domain.i18n import Translator, gettext
from domain.kinds import OutboxKind
from domain.ports import OutboxStore
from domain.reception import OfficialSpec, Schedule

_ = gettext

QUESTION_MIN = 5
QUESTION_MAX = 300
REASON_MIN = 3


class BookingStatus(StrEnum):
    BOOKED = "booked"
    CANCELLED = "cancelled"
    ATTENDED = "attended"
    NO_SHOW = "no_show"


# A slot stays taken by a booking in any of these (the unique index covers them).
ACTIVE_STATUSES = frozenset({BookingStatus.BOOKED, BookingStatus.ATTENDED, BookingStatus.NO_SHOW})


class BookingEvent(StrEnum):
    """Kinds of the appointments' record (`appointment_events`)."""

    BOOKED = "booked"
    CANCELLED = "cancelled"
    MOVED = "moved"
    ATTENDED = "attended"
    NO_SHOW = "no_show"
    DAY_CLOSED = "day_closed"
    REMINDED_DAY = "reminded_day"
    REMINDED_SOON = "reminded_soon"


class Reminder(StrEnum):
    DAY_BEFORE = "day"
    SOON = "soon"


class SlotTakenError(Exception):
    """Somebody else booked the slot first (or it is not free any more)."""


class TooLateError(Exception):
    """The booking starts too soon to be changed by the resident."""


class BookingNotFoundError(LookupError):
    pass


class AlreadyBookedError(Exception):
    """The resident already holds an upcoming booking with this official."""


@dataclass(frozen=True, slots=True)
class Official:
    id: int
    code: str
    names: dict[str, str]
    titles: dict[str, str]
    places: dict[str, str]
    schedule: Schedule
    active: bool = True

    def name(self, locale: str) -> str:
        return self.names.get(locale) or self.names["uk"]

    def title(self, locale: str) -> str:
        return self.titles.get(locale) or self.titles["uk"]

    def place(self, locale: str) -> str:
        return self.places.get(locale) or self.places["uk"]

    def label(self, locale: str) -> str:
        return f"{self.title(locale)}: {self.name(locale)}"


@dataclass(frozen=True, slots=True)
class Booking:
    id: int
    official_id: int
    starts_at: datetime
    ends_at: datetime
    resident_id: int
    account_id: int
    question: str
    status: BookingStatus
    created_at: datetime
    # Where the resident is told (the account it was booked from), and who they are.
    channel: Channel
    chat: str
    locale: str | None
    resident_name: str | None
    phone: str | None

    def number(self, prefix: str) -> str:
        return f"{prefix}-A{self.id:05d}"


@dataclass(frozen=True, slots=True)
class Actor:
    """Who changed a booking: "resident", "operator" or "system", with an id and a name."""

    kind: str
    id: str
    name: str | None = None


SYSTEM = Actor("system", "maintenance")


@dataclass(frozen=True, slots=True)
class NewBooking:
    official_id: int
    starts_at: datetime
    ends_at: datetime
    resident_id: int
    account_id: int
    question: str
    now: datetime
    # The slot's day in the city's time: a day staff close is refused in the same step.
    day: date
    # Reminders that would come too late or too early to make sense are marked as done.
    skip_day_reminder: bool
    skip_soon_reminder: bool


class AppointmentStore(Protocol):
    """Officials, bookings, closed days and the record of every change."""

    async def sync_officials(self, specs: Sequence[OfficialSpec]) -> None:
        """Make the officials match the schedule file (removed ones become inactive)."""
        ...

    async def officials(self) -> list[Official]:
        """The active officials, in the file's order."""
        ...

    async def official(self, code: str) -> Official | None: ...

    async def official_by_id(self, official_id: int) -> Official | None: ...

    async def taken(self, official_id: int, start: datetime, end: datetime) -> set[datetime]:
        """Slot starts in [start, end) held by active bookings."""
        ...

    async def closed_days(self, official_id: int, first: date, last: date) -> set[date]: ...

    async def close_day(self, official_id: int, day: date, actor: Actor, now: datetime) -> bool:
        """Close a day; False when it was closed already."""
        ...

    async def add(self, booking: NewBooking, *, cancel: int | None = None) -> Booking:
        """Insert a booking; with `cancel`, cancel that booking in the same step, so that
        either both happen or neither. Raises SlotTakenError when the slot is taken or its
        day was closed meanwhile (checked under the official's lock, which closing a day
        takes too, so a booking never survives a close that raced it)."""
        ...

    async def get(self, booking_id: int, *, lock: bool = False) -> Booking | None: ...

    async def upcoming_of(self, resident_id: int, now: datetime) -> list[Booking]:
        """The resident's active bookings that have not started, soonest first."""
        ...

    async def of_day(self, start: datetime, end: datetime) -> list[Booking]:
        """Every booking starting in [start, end), by time then official."""
        ...

    async def set_status(self, booking_id: int, status: BookingStatus, now: datetime) -> bool:
        """Move a booked booking to `status`; False when it is not booked any more."""
        ...

    async def record(
        self,
        kind: BookingEvent,
        actor: Actor,
        now: datetime,
        *,
        booking_id: int | None = None,
        official_id: int | None = None,
        note: str | None = None,
    ) -> None: ...

    async def due_reminders(self, reminder: Reminder, now: datetime, ahead: timedelta) -> list[int]:
        """Booked bookings starting within `ahead` from now whose reminder is not sent."""
        ...

    async def claim_reminder(self, booking_id: int, reminder: Reminder, now: datetime) -> bool:
        """Mark the reminder sent; False when another tick or worker got there first."""
        ...


@dataclass(frozen=True, slots=True)
class AppointmentConfig:
    timezone: ZoneInfo
    number_prefix: str
    # How many days ahead residents can book.
    days_ahead: int = 14
    # Booking, cancelling and moving close this long before the start.
    change_before: timedelta = timedelta(hours=2)
    day_reminder: timedelta = timedelta(hours=24)
    soon_reminder: timedelta = timedelta(hours=2)
    contact_centre_phone: str = "15-80"


class AppointmentService:
    def __init__(
        self,
        store: AppointmentStore,
        outbox: OutboxStore,
        translator: Translator,
        clock: Clock,
        config: AppointmentConfig,
    ) -> None:
        self._store = store
        self._outbox = outbox
        self._translator = translator
        self._clock = clock
        self.config = config

    # -- reading ---------------------------------------------------------------------------

    def local(self, moment: datetime) -> datetime:
        return moment.astimezone(self.config.timezone)

    @staticmethod
    def utc(moment: datetime) -> datetime:
        return moment.astimezone(UTC)

    def when(self, moment: datetime) -> str:
        return self.local(moment).strftime("%d.%m.%Y %H:%M")

    def number(self, booking: Booking) -> str:
        return booking.number(self.config.number_prefix)

    async def officials(self) -> list[Official]:
        return await self._store.officials()

    async def official(self, code: str) -> Official | None:
        return await self._store.official(code)

    async def official_by_id(self, official_id: int) -> Official | None:
        return await self._store.official_by_id(official_id)

    async def free_slots(self, official: Official, day: date) -> list[datetime]:
        """Slots of the day nobody holds, that start late enough to be booked."""
        if day in await self._store.closed_days(official.id, day, day):
            return []
        starts = official.schedule.slots(day, self.config.timezone)
        if not starts:
            return []
        earliest = self._clock() + self.config.change_before
        step = timedelta(minutes=official.schedule.slot_minutes)
        taken = await self._store.taken(official.id, starts[0], starts[-1] + step)
        return [s for s in starts if s >= earliest and s not in taken]

    async def free_days(self, official: Official) -> list[date]:
        """The next days (within `days_ahead`) with at least one free slot."""
        today = self.local(self._clock()).date()
        days: list[date] = []
        for offset in range(self.config.days_ahead + 1):
            day = today + timedelta(days=offset)
            if await self.free_slots(official, day):
                days.append(day)
        return days

    async def upcoming(self, resident_id: int) -> list[Booking]:
        return await self._store.upcoming_of(resident_id, self._clock())

    async def get(self, booking_id: int) -> Booking | None:
        return await self._store.get(booking_id)

    async def own(self, booking_id: int | None, resident_id: int | None) -> Booking | None:
        """The booking if it is this resident's; nobody learns about anyone else's."""
        if booking_id is None or resident_id is None:
            return None
        booking = await self._store.get(booking_id)
        return booking if booking is not None and booking.resident_id == resident_id else None

    def changeable(self, booking: Booking) -> bool:
        return (
            booking.status is BookingStatus.BOOKED
            and booking.starts_at - self.config.change_before > self._clock()
        )

    async def of_day(self, day: date) -> list[Booking]:
        start = datetime.combine(day, datetime.min.time(), self.config.timezone)
        end = datetime.combine(day + timedelta(days=1), datetime.min.time(), self.config.timezone)
        return await self._store.of_day(start.astimezone(UTC), end.astimezone(UTC))

    # -- the resident's changes ------------------------------------------------------------

    async def book(
        self,
        official: Official,
        start: datetime,
        *,
        resident_id: int,
        account_id: int,
        question: str,
        actor: Actor,
        move: Booking | None = None,
    ) -> Booking:
        """Book a free slot, or move `move` there (cancel and book in one step)."""
        now = self._clock()
        if start not in await self.free_slots(official, self.local(start).date()):
            raise SlotTakenError
        if move is not None and not self.changeable(move):
            raise TooLateError
        if any(
            b.official_id == official.id and (move is None or b.id != move.id)
            for b in await self._store.upcoming_of(resident_id, now)
        ):
            raise AlreadyBookedError
        new = NewBooking(
            official_id=official.id,
            starts_at=start,
            ends_at=start + timedelta(minutes=official.schedule.slot_minutes),
            resident_id=resident_id,
            account_id=account_id,
            question=question,
            now=now,
            day=self.local(start).date(),
            skip_day_reminder=start - now <= self.config.day_reminder,
            skip_soon_reminder=start - now <= self.config.soon_reminder,
        )
        booking = await self._store.add(new, cancel=move.id if move is not None else None)
        if move is not None:
            await self._store.record(
                BookingEvent.MOVED,
                actor,
                now,
                booking_id=move.id,
                official_id=move.official_id,
                note=f"→ {self.number(booking)} {self.when(start)}",
            )
        await self._store.record(
            BookingEvent.BOOKED,
            actor,
            now,
            booking_id=booking.id,
            official_id=official.id,
            note=self.when(start),
        )
        return booking

    async def cancel_own(self, booking: Booking, actor: Actor) -> None:
        if not self.changeable(booking):
            raise TooLateError
        if not await self._store.set_status(booking.id, BookingStatus.CANCELLED, self._clock()):
            raise TooLateError
        await self._store.record(
            BookingEvent.CANCELLED,
            actor,
            self._clock(),
            booking_id=booking.id,
            official_id=booking.official_id,
        )

    # -- the staff's changes ---------------------------------------------------------------

    async def mark(self, booking_id: int, status: BookingStatus, actor: Actor) -> Booking | None:
        """Attended, no-show or cancelled by staff; None when the booking is not booked."""
        booking = await self._store.get(booking_id, lock=True)
        if booking is None or not await self._store.set_status(booking_id, status, self._clock()):
            return None
        kinds = {
            BookingStatus.ATTENDED: BookingEvent.ATTENDED,
            BookingStatus.NO_SHOW: BookingEvent.NO_SHOW,
            BookingStatus.CANCELLED: BookingEvent.CANCELLED,
        }
        await self._store.record(
            kinds[status],
            actor,
            self._clock(),
            booking_id=booking_id,
            official_id=booking.official_id,
        )
        return booking

    async def notice_for(self, booking: Booking, reason: str | None) -> Reply:
        return self.cancel_notice(booking, await self._name_of(booking), reason)

    async def cancel_by_staff(
        self, booking_id: int, reason: str | None, actor: Actor
    ) -> Booking | None:
        """Cancel with a reason; the resident is told in their language."""
        booking = await self._store.get(booking_id, lock=True)
        if booking is None:
            return None
        changed = await self._store.set_status(booking_id, BookingStatus.CANCELLED, self._clock())
        if not changed:
            return None
        await self._store.record(
            BookingEvent.CANCELLED,
            actor,
            self._clock(),
            booking_id=booking_id,
            official_id=booking.official_id,
            note=reason,
        )
        await self._tell(booking, self.cancel_notice(booking, await self._name_of(booking), reason))
        return booking

    async def close_day(
        self, official: Official, day: date, reason: str | None, actor: Actor
    ) -> int:
        """Close the day for new bookings and cancel the booked ones with a notice; returns
        how many were cancelled."""
        now = self._clock()
        if await self._store.close_day(official.id, day, actor, now):
            await self._store.record(
                BookingEvent.DAY_CLOSED,
                actor,
                now,
                official_id=official.id,
                note=f"{day.isoformat()} {reason or ''}".strip(),
            )
        cancelled = 0
        for booking in await self.of_day(day):
            if booking.official_id != official.id or booking.status is not BookingStatus.BOOKED:
                continue
            if await self.cancel_by_staff(booking.id, reason, actor) is not None:
                cancelled += 1
        return cancelled

    async def _name_of(self, booking: Booking) -> dict[str, str]:
        official = await self._store.official_by_id(booking.official_id)
        if official is None:
            return {}
        return {loc: official.label(loc) for loc in official.names}

    def cancel_notice(
        self, booking: Booking, official: dict[str, str], reason: str | None
    ) -> Reply:
        """What the resident gets when staff cancel; built in the resident's language."""
        with self._translator.use(booking.locale):
            locale = self._translator.resolve(booking.locale)
            lines = [
                _(
                    "❌ Your appointment {number} ({official}, {time}) is cancelled by the city "
                    "council."
                ).format(
                    number=self.number(booking),
                    official=official.get(locale, "—"),
                    time=self.when(booking.starts_at),
                )
            ]
            if reason:
                lines.append(_("Reason: {reason}").format(reason=reason))
            lines.append(_("You can book another time from the menu."))
        return Reply("\n\n".join(lines))

    async def _tell(self, booking: Booking, reply: Reply) -> None:
        await self._outbox.add(
            channel=booking.channel,
            chat=booking.chat,
            kind=OutboxKind.REPLIES,
            payload={"replies": [reply.to_data()]},
            now=self._clock(),
        )

    # -- reminders -------------------------------------------------------------------------

    async def remind(self) -> list[int]:
        """Queue the reminders that are due, each once (the claim is the guard across ticks
        and workers); returns the bookings reminded."""
        now = self._clock()
        reminded: list[int] = []
        windows = (
            (Reminder.SOON, self.config.soon_reminder),
            (Reminder.DAY_BEFORE, self.config.day_reminder),
        )
        for reminder, ahead in windows:
            for booking_id in await self._store.due_reminders(reminder, now, ahead):
                if not await self._store.claim_reminder(booking_id, reminder, now):
                    continue
                booking = await self._store.get(booking_id)
                official = (
                    await self._store.official_by_id(booking.official_id) if booking else None
                )
                if booking is None or official is None:
                    continue
                if reminder is Reminder.SOON:
                    # The day-before one would only repeat it now.
                    await self._store.claim_reminder(booking_id, Reminder.DAY_BEFORE, now)
                await self._tell(booking, self._reminder(booking, official, reminder))
                await self._store.record(
                    BookingEvent.REMINDED_SOON
                    if reminder is Reminder.SOON
                    else BookingEvent.REMINDED_DAY,
                    SYSTEM,
                    now,
                    booking_id=booking.id,
                    official_id=official.id,
                )
                reminded.append(booking.id)
        return reminded

    def _reminder(self, booking: Booking, official: Official, reminder: Reminder) -> Reply:
        with self._translator.use(booking.locale):
            locale = self._translator.resolve(booking.locale)
            if reminder is Reminder.DAY_BEFORE:
                head = _("⏰ A reminder of your appointment:")
            else:
                head = _("⏰ Your appointment starts at {time}:").format(
                    time=self.local(booking.starts_at).strftime("%H:%M")
                )
            text = "\n".join(
                [
                    head,
                    "",
                    *booking_lines(self, booking, official, locale),
                    "",
                    _("Cannot come? Cancel it in «My bookings» so someone else can."),
                ]
            )
        return Reply(text)


def booking_lines(
    service: AppointmentService, booking: Booking, official: Official, locale: str
) -> list[str]:
    """A booking as the resident reads it. Call inside the resident's locale."""
    return [
        _("Booking number: {number}").format(number=service.number(booking)),
        _("With: {official}").format(official=official.label(locale)),
        _("When: {time}").format(time=service.when(booking.starts_at)),
        _("Where: {place}").format(place=official.place(locale)),
        _("Question: {question}").format(question=booking.question),
    ]
