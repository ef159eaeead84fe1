"""The staff chat's side of appointments: the day's list (/appointments), marking attended or
no-show, cancelling with a reason, and closing a day (/close_day).

Like the appeals desk (domain.desk), nothing reaches a resident without one confirming tap by
the operator who started it: the reason is asked as a reply to the bot's prompt, then the
operator sees what the resident will get. Pending actions belong to their operator and expire.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Protocol

from domain.actions import Act, Action
from domain.appointments import (
    REASON_MIN,
    Actor,
    AppointmentService,
    Booking,
    BookingStatus,
)
from domain.clock import Clock
from domain.confirmations import answer_confirmation
from domain.desk import Operator
from domain.dialog.replies import Button, Reply
from domain.i18n import N_, gettext

_ = gettext

COMMANDS = frozenset({"appointments", "close_day"})
ACTS = frozenset(
    {
        Act.STAFF_APPT_ATTENDED,
        Act.STAFF_APPT_NO_SHOW,
        Act.STAFF_APPT_CANCEL,
        Act.STAFF_APPT_CONFIRM,
        Act.STAFF_APPT_DROP,
    }
)
REASON_MAX = 500
_DATE_RES = (
    (re.compile(r"^(\d{4})-(\d{2})-(\d{2})$"), (0, 1, 2)),
    (re.compile(r"^(\d{1,2})\.(\d{1,2})\.(\d{4})$"), (2, 1, 0)),
)
STATUS_LABELS = {
    BookingStatus.BOOKED: N_("booked"),
    BookingStatus.CANCELLED: N_("cancelled"),
    BookingStatus.ATTENDED: N_("attended"),
    BookingStatus.NO_SHOW: N_("did not come"),
}
_MARKS = {
    Act.STAFF_APPT_ATTENDED: BookingStatus.ATTENDED,
    Act.STAFF_APPT_NO_SHOW: BookingStatus.NO_SHOW,
}


class DeskPendingKind(StrEnum):
    # Waiting for the operator's reply with the reason.
    CANCEL_REASON = "cancel_reason"
    # Showed what the resident(s) will get; waiting for one tap.
    CONFIRM_CANCEL = "confirm_cancel"
    CONFIRM_CLOSE_DAY = "confirm_close_day"


@dataclass(frozen=True, slots=True)
class DeskPending:
    id: int
    # Carried by the confirmation buttons, so an old button never confirms a newer action.
    token: str
    chat_id: int
    operator_id: int
    operator_name: str
    kind: DeskPendingKind
    booking_id: int | None
    official_id: int | None
    day: date | None
    note: str | None
    prompt_message_id: int | None
    expires_at: datetime


class DeskPendingStore(Protocol):
    """What the appointments desk waits for; one action per operator."""

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
        """Create the operator's pending action, replacing an earlier one."""
        ...

    async def get(self, pending_id: int) -> DeskPending | None: ...

    async def by_prompt(self, chat_id: int, message_id: int) -> DeskPending | None:
        """The pending action whose prompt or confirmation is this message."""
        ...

    async def set_prompt(self, pending_id: int, token: str, message_id: int) -> None: ...

    async def delete(self, pending_id: int) -> None: ...


@dataclass(slots=True)
class AppointmentDeskResult:
    toast: str | None = None
    alert: bool = False
    say: list[Reply] = field(default_factory=list)
    # The first message of `say` asks for this: replies to it answer it.
    prompt_for: DeskPending | None = None
    # Replaces the pressed message (a booking's line with its new status).
    edit: Reply | None = None
    # A line added under a pressed confirmation, whose buttons go.
    settle: str | None = None


def parse_day(text: str, today: date) -> date | None:
    """A date as operators type it: 2026-12-01 or 01.12.2026; empty is today."""
    text = text.strip()
    if not text:
        return today
    for pattern, order in _DATE_RES:
        found = pattern.match(text)
        if found:
            parts = [int(p) for p in found.groups()]
            try:
                return date(parts[order[0]], parts[order[1]], parts[order[2]])
            except ValueError:
                return None
    return None


def _actor(who: Operator) -> Actor:
    return Actor("operator", str(who.user_id), who.name)


class AppointmentDesk:
    def __init__(
        self,
        service: AppointmentService,
        pending: DeskPendingStore,
        clock: Clock,
        *,
        pending_ttl: timedelta,
        locale: str,
    ) -> None:
        # The staff chat's language, for officials' names and titles.
        self._locale = locale
        self._service = service
        self._pending = pending
        self._clock = clock
        self._ttl = pending_ttl

    def _today(self) -> date:
        return self._service.local(self._clock()).date()

    # -- the day's list --------------------------------------------------------------------

    async def command(self, name: str, argument: str, who: Operator) -> AppointmentDeskResult:
        if name == "close_day":
            return await self._ask_close_day(argument, who)
        day = parse_day(argument, self._today())
        if day is None:
            return AppointmentDeskResult(
                say=[Reply(_("Usage: /appointments [date], e.g. /appointments 2026-12-01"))]
            )
        bookings = await self._service.of_day(day)
        head = _("Appointments on {date}: {count}").format(
            date=day.strftime("%d.%m.%Y"), count=len(bookings)
        )
        if not bookings:
            return AppointmentDeskResult(say=[Reply(head)])
        replies = [Reply(head)]
        for booking in bookings:
            replies.append(await self._card(booking))
        return AppointmentDeskResult(say=replies)

    async def _card(self, booking: Booking, status: BookingStatus | None = None) -> Reply:
        official = await self._service.official_by_id(booking.official_id)
        status = status or booking.status
        locale = self._locale
        lines = [
            " · ".join(
                (
                    self._service.local(booking.starts_at).strftime("%H:%M"),
                    official.label(locale) if official else "—",
                    self._service.number(booking),
                )
            ),
            _("Resident: {name}, {phone}").format(
                name=booking.resident_name or "—", phone=booking.phone or "—"
            ),
            _("Question: {question}").format(question=booking.question),
            _("Status: {status}").format(status=gettext(STATUS_LABELS[status])),
        ]
        buttons: tuple[tuple[Button, ...], ...] = ()
        if status is BookingStatus.BOOKED:
            arg = str(booking.id)
            buttons = (
                (
                    Button(_("✅ Came"), Action(Act.STAFF_APPT_ATTENDED, arg)),
                    Button(_("🚫 Did not come"), Action(Act.STAFF_APPT_NO_SHOW, arg)),
                ),
                (Button(_("✖️ Cancel with a reason"), Action(Act.STAFF_APPT_CANCEL, arg)),),
            )
        return Reply("\n".join(lines), buttons)

    # -- presses ---------------------------------------------------------------------------

    async def press(self, act: Act, arg: str, who: Operator) -> AppointmentDeskResult:
        if act in (Act.STAFF_APPT_CONFIRM, Act.STAFF_APPT_DROP):
            return await self._answer_confirmation(act, arg, who)
        booking_id = int(arg) if arg.isdigit() and len(arg) <= 12 else None
        booking = await self._service.get(booking_id) if booking_id is not None else None
        if booking is None:
            return AppointmentDeskResult(toast=_("This button is no longer valid."), alert=True)
        if booking.status is not BookingStatus.BOOKED:
            return await self._stale(booking)
        target = _MARKS.get(act)
        if target is not None:
            marked = await self._service.mark(booking.id, target, _actor(who))
            if marked is None:
                return await self._stale(booking)
            return AppointmentDeskResult(
                toast=_("{number}: {status}").format(
                    number=self._service.number(booking), status=gettext(STATUS_LABELS[target])
                ),
                edit=await self._card(booking, target),
            )
        action = await self._put(who, DeskPendingKind.CANCEL_REASON, booking_id=booking.id)
        text = _(
            "{name}, reply to this message with the reason for cancelling {number} "
            "({time}). The resident will get it; you confirm first. I wait {minutes} min."
        ).format(
            name=who.name,
            number=self._service.number(booking),
            time=self._service.when(booking.starts_at),
            minutes=self._minutes(),
        )
        return AppointmentDeskResult(
            toast=_("Reply to the bot's message with the reason."),
            say=[Reply(text)],
            prompt_for=action,
        )

    async def _stale(self, booking: Booking) -> AppointmentDeskResult:
        fresh = await self._service.get(booking.id) or booking
        return AppointmentDeskResult(
            toast=_("{number} is already «{status}».").format(
                number=self._service.number(fresh), status=gettext(STATUS_LABELS[fresh.status])
            ),
            alert=True,
            edit=await self._card(fresh),
        )

    # -- replies to prompts ----------------------------------------------------------------

    async def waits_for(self, chat_id: int, message_id: int) -> bool:
        """Whether a reply to this message is for this desk."""
        return await self._pending.by_prompt(chat_id, message_id) is not None

    async def message(
        self, who: Operator, replied_to: int, text: str | None
    ) -> AppointmentDeskResult:
        action = await self._pending.by_prompt(who.chat_id, replied_to)
        if action is None:
            return AppointmentDeskResult()
        if action.operator_id != who.user_id:
            return AppointmentDeskResult(
                say=[Reply(_("This question was for {name}.").format(name=action.operator_name))]
            )
        if action.expires_at <= self._clock():
            await self._pending.delete(action.id)
            return AppointmentDeskResult(say=[Reply(self._expired_text(action))])
        if (text or "").strip().lower().startswith("/cancel"):
            await self._pending.delete(action.id)
            return AppointmentDeskResult(say=[Reply(_("Cancelled; nothing was sent."))])
        if action.kind is DeskPendingKind.CONFIRM_CLOSE_DAY or action.booking_id is None:
            return AppointmentDeskResult(say=[Reply(_("Press a button of the message."))])
        reason = " ".join((text or "").split())
        if len(reason) < REASON_MIN or len(reason) > REASON_MAX:
            return AppointmentDeskResult(
                say=[
                    Reply(
                        _("The reason must be {min} to {max} characters.").format(
                            min=REASON_MIN, max=REASON_MAX
                        )
                    )
                ]
            )
        booking = await self._service.get(action.booking_id)
        if booking is None or booking.status is not BookingStatus.BOOKED:
            await self._pending.delete(action.id)
            return await self._stale(booking) if booking else AppointmentDeskResult()
        action = await self._put(
            who, DeskPendingKind.CONFIRM_CANCEL, booking_id=booking.id, note=reason
        )
        notice = await self._service.notice_for(booking, reason)
        body = "\n\n".join(
            [
                _("{name}, {number} will be cancelled and the resident will get:").format(
                    name=who.name, number=self._service.number(booking)
                ),
                notice.text,
                self._expires_line(),
            ]
        )
        return AppointmentDeskResult(
            say=[Reply(body, self._confirm_buttons(action, _("✖️ Cancel and tell")))],
            prompt_for=action,
        )

    # -- closing a day ---------------------------------------------------------------------

    async def _ask_close_day(self, argument: str, who: Operator) -> AppointmentDeskResult:
        parts = argument.split(maxsplit=2)
        official = await self._service.official(parts[0]) if parts else None
        day = parse_day(parts[1], self._today()) if len(parts) > 1 else None
        if official is None or day is None:
            codes = ", ".join(o.code for o in await self._service.officials())
            return AppointmentDeskResult(
                say=[
                    Reply(
                        _(
                            "Usage: /close_day <official> <date> [reason], e.g. /close_day "
                            "mayor 2026-12-01 business trip. Officials: {codes}"
                        ).format(codes=codes)
                    )
                ]
            )
        reason = parts[2].strip()[:REASON_MAX] if len(parts) > 2 else None
        booked = [
            b
            for b in await self._service.of_day(day)
            if b.official_id == official.id and b.status is BookingStatus.BOOKED
        ]
        action = await self._put(
            who,
            DeskPendingKind.CONFIRM_CLOSE_DAY,
            official_id=official.id,
            day=day,
            note=reason,
        )
        text = "\n\n".join(
            [
                _(
                    "{name}, close the reception of {official} on {date}? No new bookings; "
                    "{count} booked appointments will be cancelled and their residents told."
                ).format(
                    name=who.name,
                    official=official.label(self._locale),
                    date=day.strftime("%d.%m.%Y"),
                    count=len(booked),
                ),
                self._expires_line(),
            ]
        )
        return AppointmentDeskResult(
            say=[Reply(text, self._confirm_buttons(action, _("🔒 Close the day")))],
            prompt_for=action,
        )

    # -- confirmations ---------------------------------------------------------------------

    async def _answer_confirmation(
        self, act: Act, arg: str, who: Operator
    ) -> AppointmentDeskResult:
        async def carry_out(action: DeskPending) -> AppointmentDeskResult:
            return await self._carry_out(action, who)

        async def expired_text(action: DeskPending) -> str:
            return self._expired_text(action)

        return await answer_confirmation(
            self._pending,
            arg,
            chat_id=who.chat_id,
            user_id=who.user_id,
            name=who.name,
            now=self._clock(),
            drop=act is Act.STAFF_APPT_DROP,
            expired_text=expired_text,
            carry_out=carry_out,
            result=AppointmentDeskResult,
            when=self._service.when,
        )

    async def _carry_out(self, action: DeskPending, who: Operator) -> AppointmentDeskResult:
        if action.kind is DeskPendingKind.CONFIRM_CANCEL and action.booking_id is not None:
            booking = await self._service.cancel_by_staff(
                action.booking_id, action.note or "", _actor(who)
            )
            if booking is None:
                return AppointmentDeskResult(
                    toast=_("The booking is not active any more."), alert=True
                )
            return AppointmentDeskResult(
                toast=_("{number} is cancelled; the resident is told.").format(
                    number=self._service.number(booking)
                )
            )
        if (
            action.kind is DeskPendingKind.CONFIRM_CLOSE_DAY
            and action.official_id is not None
            and action.day is not None
        ):
            official = await self._service.official_by_id(action.official_id)
            if official is None:
                return AppointmentDeskResult(toast=_("This button is no longer valid."), alert=True)
            count = await self._service.close_day(official, action.day, action.note, _actor(who))
            return AppointmentDeskResult(
                toast=_("The day is closed; {count} bookings cancelled.").format(count=count),
                say=[
                    Reply(
                        _(
                            "🔒 {official}: no reception on {date}; {count} bookings cancelled."
                        ).format(
                            official=official.label(self._locale),
                            date=action.day.strftime("%d.%m.%Y"),
                            count=count,
                        )
                    )
                ],
            )
        return AppointmentDeskResult(toast=_("This button is no longer valid."), alert=True)

    # -- helpers ---------------------------------------------------------------------------

    async def _put(
        self,
        who: Operator,
        kind: DeskPendingKind,
        *,
        booking_id: int | None = None,
        official_id: int | None = None,
        day: date | None = None,
        note: str | None = None,
    ) -> DeskPending:
        now = self._clock()
        return await self._pending.put(
            who.chat_id,
            who.user_id,
            who.name,
            kind,
            now + self._ttl,
            now,
            booking_id=booking_id,
            official_id=official_id,
            day=day,
            note=note,
        )

    def _minutes(self) -> int:
        return max(1, round(self._ttl.total_seconds() / 60))

    def _expires_line(self) -> str:
        return _("(This waits {minutes} min for your answer.)").format(minutes=self._minutes())

    def _expired_text(self, action: DeskPending) -> str:
        return _(
            "⌛ {name}, your unfinished action expired after {minutes} min; nothing was changed "
            "or sent."
        ).format(name=action.operator_name, minutes=self._minutes())

    @staticmethod
    def _confirm_buttons(action: DeskPending, send: str) -> tuple[tuple[Button, ...], ...]:
        arg = f"{action.id}.{action.token}"
        return (
            (
                Button(send, Action(Act.STAFF_APPT_CONFIRM, arg)),
                Button(_("✖️ Cancel"), Action(Act.STAFF_APPT_DROP, arg)),
            ),
        )
