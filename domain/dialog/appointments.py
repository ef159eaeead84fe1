"""Booking an appointment with the mayor or an official: whom, the question, a day, a free
slot, confirm; and «My bookings» (see, cancel, move). Part of the one dialog; `Dialog`
routes here."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time
from typing import TYPE_CHECKING, Any

from domain.actions import CONFIRMED, Act, Action
from domain.appointments import (
    QUESTION_MAX,
    QUESTION_MIN,
    Actor,
    AlreadyBookedError,
    Booking,
    Official,
    SlotTakenError,
    TooLateError,
    booking_lines,
)
from domain.dialog.replies import Button, rows
from domain.i18n import N_, gettext
from fsm_states.appointments import AppointmentStep

if TYPE_CHECKING:
    from domain.dialog.core import Turn

_ = gettext

STATES = frozenset(step.value for step in AppointmentStep)
ACTS = frozenset(
    {
        Act.APPOINTMENTS,
        Act.APPT_OFFICIAL,
        Act.APPT_DAY,
        Act.APPT_SLOT,
        Act.APPT_BOOK,
        Act.APPT_MINE,
        Act.APPT_CANCEL,
        Act.APPT_MOVE,
    }
)
_WEEKDAYS = (N_("Mon"), N_("Tue"), N_("Wed"), N_("Thu"), N_("Fri"), N_("Sat"), N_("Sun"))
_BACK = {
    AppointmentStep.QUESTION: AppointmentStep.OFFICIAL,
    AppointmentStep.DAY: AppointmentStep.QUESTION,
    AppointmentStep.SLOT: AppointmentStep.DAY,
    AppointmentStep.CONFIRM: AppointmentStep.SLOT,
}


def _resident(turn: Turn) -> Actor:
    return Actor("resident", str(turn.account.id))


def _day_arg(day: date) -> str:
    return day.strftime("%Y%m%d")


def _parse_day(arg: str) -> date | None:
    if len(arg) != 8 or not arg.isdigit():
        return None
    try:
        return date(int(arg[:4]), int(arg[4:6]), int(arg[6:]))
    except ValueError:
        return None


class AppointmentFlow:
    """The resident's side of appointments."""

    def __init__(self, menu: Callable[[Turn], None]) -> None:
        self._menu = menu

    # -- entry points ----------------------------------------------------------------------

    async def on_action(self, turn: Turn, action: Action) -> None:
        """A button of this flow, pressed whatever step the resident is on."""
        act = action.act
        if act is Act.APPOINTMENTS:
            await turn.state.set_state(AppointmentStep.OFFICIAL)
            await turn.state.set_data({})
            await self._prompt_official(turn)
        elif act is Act.APPT_MINE:
            await self._leave(turn)
            await self.my_bookings(turn)
        elif act is Act.APPT_CANCEL:
            await self._cancel(turn, action.arg)
        elif act is Act.APPT_MOVE:
            await self._move(turn, action.int_arg())
        elif act is Act.APPT_OFFICIAL:
            await self._on_official(turn, action.arg)
        elif act is Act.APPT_DAY:
            await self._on_day(turn, action.arg)
        elif act is Act.APPT_SLOT:
            await self._on_slot(turn, action.arg)
        elif act is Act.APPT_BOOK:
            await self._on_book(turn)

    async def on_input(self, turn: Turn, current: str) -> None:
        """Anything else that arrives on one of this flow's steps."""
        event = turn.event
        action = event.action
        if action is not None and action.act is Act.BACK:
            await self._back(turn, current)
            return
        if current == AppointmentStep.QUESTION and event.text is not None:
            await self._on_question(turn, event.text)
            return
        need = {
            AppointmentStep.OFFICIAL: _("Please choose whom to see with the buttons."),
            AppointmentStep.QUESTION: _("Please type your question in a few words."),
            AppointmentStep.DAY: _("Please choose a day with the buttons."),
            AppointmentStep.SLOT: _("Please choose a time with the buttons."),
            AppointmentStep.CONFIRM: _("Press «Book» to book this time, or go back."),
        }
        turn.lead(need.get(AppointmentStep(current), ""))
        await self.reprompt(turn, current)

    async def reprompt(self, turn: Turn, current: str) -> None:
        data = await turn.state.get_data()
        step = AppointmentStep(current)
        if step is AppointmentStep.OFFICIAL:
            await self._prompt_official(turn)
            return
        official = await self._official(turn, data)
        if official is None:
            return
        if step is AppointmentStep.QUESTION:
            self._prompt_question(turn, official)
        elif step is AppointmentStep.DAY:
            await self._prompt_day(turn, official)
        else:
            day = _parse_day(str(data.get("day", "")))
            if day is None:
                await self._goto(turn, AppointmentStep.DAY, data)
            elif step is AppointmentStep.SLOT:
                await self._prompt_slot(turn, official, day)
            else:
                await self._prompt_confirm(turn, official, data)

    # -- steps -----------------------------------------------------------------------------

    async def _prompt_official(self, turn: Turn) -> None:
        officials = await turn.appointments.officials()
        buttons = [
            (Button(o.label(turn.locale), Action(Act.APPT_OFFICIAL, o.code)),) for o in officials
        ]
        turn.say(
            _(
                "Appointments with the mayor and officials of the city council. Whom would you "
                "like to see?"
            ),
            *buttons,
            (Button(_("🗓 My bookings"), Action(Act.APPT_MINE)),),
            (Button(_("🏠 Menu"), Action(Act.MENU)),),
        )

    async def _on_official(self, turn: Turn, code: str) -> None:
        official = await turn.appointments.official(code)
        if official is None:
            turn.lead(_("This official does not receive residents now."))
            await self._goto(turn, AppointmentStep.OFFICIAL, {})
            return
        await self._goto(turn, AppointmentStep.QUESTION, {"official": official.code})

    def _prompt_question(self, turn: Turn, official: Official) -> None:
        turn.say(
            _(
                "{official}.\n\nWhat is your question? Describe it in a few words ({min} to "
                "{max} characters), so that the official can prepare."
            ).format(official=official.label(turn.locale), min=QUESTION_MIN, max=QUESTION_MAX),
            self._nav(),
        )

    async def _on_question(self, turn: Turn, text: str) -> None:
        question = " ".join(text.split())
        data = await turn.state.get_data()
        official = await self._official(turn, data)
        if official is None:
            return
        if len(question) < QUESTION_MIN:
            turn.lead(
                _("The question is too short: at least {min} characters, please.").format(
                    min=QUESTION_MIN
                )
            )
            self._prompt_question(turn, official)
            return
        if len(question) > QUESTION_MAX:
            turn.lead(
                _(
                    "The question is too long: {length} characters, the limit is {max}. Please "
                    "put it in fewer words; you can tell the rest at the appointment."
                ).format(length=len(question), max=QUESTION_MAX)
            )
            self._prompt_question(turn, official)
            return
        await self._goto(turn, AppointmentStep.DAY, {**data, "question": question})

    async def _prompt_day(self, turn: Turn, official: Official) -> None:
        days = await turn.appointments.free_days(official)
        if not days:
            turn.say(
                _(
                    "{official} has no free time in the next {days} days. Please look again "
                    "later, or choose another official."
                ).format(
                    official=official.label(turn.locale),
                    days=turn.appointments.config.days_ahead,
                ),
                self._nav(),
            )
            return
        buttons = [
            Button(
                f"{gettext(_WEEKDAYS[day.weekday()])} {day.strftime('%d.%m')}",
                Action(Act.APPT_DAY, _day_arg(day)),
            )
            for day in days
        ]
        turn.say(
            _("{official}: choose a day.").format(official=official.label(turn.locale)),
            *rows(*buttons, per_row=3),
            self._nav(),
        )

    async def _on_day(self, turn: Turn, arg: str) -> None:
        data = await self._data_for(turn, AppointmentStep.DAY)
        if data is None:
            return
        official = await self._official(turn, data)
        day = _parse_day(arg)
        if official is None:
            return
        if day is None or not await turn.appointments.free_slots(official, day):
            turn.lead(_("There is no free time on that day any more."))
            await self._goto(turn, AppointmentStep.DAY, data)
            return
        await self._goto(turn, AppointmentStep.SLOT, {**data, "day": _day_arg(day)})

    async def _prompt_slot(self, turn: Turn, official: Official, day: date) -> None:
        slots = await turn.appointments.free_slots(official, day)
        if not slots:
            turn.lead(_("There is no free time on that day any more."))
            await self._goto(turn, AppointmentStep.DAY, await turn.state.get_data())
            return
        buttons = [
            Button(
                turn.appointments.local(start).strftime("%H:%M"),
                Action(Act.APPT_SLOT, turn.appointments.local(start).strftime("%H%M")),
            )
            for start in slots
        ]
        turn.say(
            _("{official}, {date}: choose a free time.").format(
                official=official.label(turn.locale), date=day.strftime("%d.%m.%Y")
            ),
            *rows(*buttons, per_row=4),
            self._nav(),
        )

    async def _on_slot(self, turn: Turn, arg: str) -> None:
        data = await self._data_for(turn, AppointmentStep.SLOT)
        if data is None:
            return
        official = await self._official(turn, data)
        if official is None:
            return
        start = self._start(turn, data, arg)
        day = _parse_day(str(data.get("day", "")))
        if start is None or day is None:
            await self._goto(turn, AppointmentStep.DAY, data)
            return
        if start not in await turn.appointments.free_slots(official, day):
            turn.lead(_("This time is not free any more; please choose another."))
            await self._goto(turn, AppointmentStep.SLOT, data)
            return
        await self._goto(turn, AppointmentStep.CONFIRM, {**data, "slot": arg})

    async def _prompt_confirm(self, turn: Turn, official: Official, data: dict[str, Any]) -> None:
        start = self._start(turn, data, str(data.get("slot", "")))
        if start is None:
            await self._goto(turn, AppointmentStep.SLOT, data)
            return
        lines = [
            _("Please check your booking:"),
            "",
            _("With: {official}").format(official=official.label(turn.locale)),
            _("When: {time}").format(time=turn.appointments.when(start)),
            _("Where: {place}").format(place=official.place(turn.locale)),
            _("Question: {question}").format(question=data.get("question", "")),
        ]
        if data.get("move"):
            lines += ["", _("Your current booking will be cancelled when you book this one.")]
        turn.say(
            "\n".join(lines),
            (Button(_("✅ Book"), Action(Act.APPT_BOOK)),),
            self._nav(),
        )

    async def _on_book(self, turn: Turn) -> None:
        data = await self._data_for(turn, AppointmentStep.CONFIRM)
        if data is None:
            return
        official = await self._official(turn, data)
        if official is None:
            return
        start = self._start(turn, data, str(data.get("slot", "")))
        resident_id = turn.account.resident_id
        if start is None or resident_id is None:
            await self._goto(turn, AppointmentStep.DAY, data)
            return
        moving = await turn.appointments.own(data.get("move"), resident_id)
        if data.get("move") and moving is None:
            await turn.state.clear()
            turn.lead(_("Booking not found."))
            await self.my_bookings(turn)
            return
        try:
            booking = await turn.appointments.book(
                official,
                start,
                resident_id=resident_id,
                account_id=turn.account.id,
                question=str(data.get("question", "")),
                actor=_resident(turn),
                move=moving,
            )
        except SlotTakenError:
            turn.lead(
                _("Sorry, this time was just taken by someone else. Here are the free times:")
            )
            await self._goto(turn, AppointmentStep.SLOT, data)
            return
        except TooLateError:
            await turn.state.clear()
            turn.lead(self._too_late(turn))
            self._menu(turn)
            return
        except AlreadyBookedError:
            await turn.state.clear()
            turn.lead(
                _(
                    "You already have a booking with {official}. Move or cancel it in «My "
                    "bookings»."
                ).format(official=official.label(turn.locale))
            )
            await self.my_bookings(turn)
            return
        await turn.state.clear()
        head = _("✅ Your appointment is moved.") if moving else _("✅ Your appointment is booked.")
        turn.lead(
            "\n".join(
                [
                    head,
                    "",
                    *booking_lines(turn.appointments, booking, official, turn.locale),
                    "",
                    _(
                        "We will remind you the day before and two hours before. To cancel or "
                        "move it, open «My bookings»."
                    ),
                ]
            )
        )
        self._menu(turn)

    # -- «My bookings» ---------------------------------------------------------------------

    async def my_bookings(self, turn: Turn) -> None:
        resident_id = turn.account.resident_id
        bookings = await turn.appointments.upcoming(resident_id) if resident_id else []
        if not bookings:
            turn.say(
                _("You have no upcoming bookings."),
                (Button(_("📅 Book an appointment"), Action(Act.APPOINTMENTS)),),
                (Button(_("🏠 Menu"), Action(Act.MENU)),),
            )
            return
        lines = [_("Your upcoming bookings:")]
        buttons: list[tuple[Button, ...]] = []
        for booking in bookings:
            official = await turn.appointments.official_by_id(booking.official_id)
            if official is None:
                continue
            lines += ["", *booking_lines(turn.appointments, booking, official, turn.locale)]
            short = turn.appointments.local(booking.starts_at).strftime("%d.%m %H:%M")
            if turn.appointments.changeable(booking):
                arg = str(booking.id)
                buttons.append(
                    (
                        Button(
                            _("✖️ Cancel {time}").format(time=short),
                            Action(Act.APPT_CANCEL, arg),
                        ),
                        Button(_("🔁 Move {time}").format(time=short), Action(Act.APPT_MOVE, arg)),
                    )
                )
        hours = turn.appointments.config.change_before.total_seconds() / 3600
        lines += [
            "",
            _("You can cancel or move a booking until {hours:g} hours before it.").format(
                hours=hours
            ),
        ]
        turn.say(
            "\n".join(lines),
            *buttons,
            (Button(_("📅 Book an appointment"), Action(Act.APPOINTMENTS)),),
            (Button(_("🏠 Menu"), Action(Act.MENU)),),
        )

    async def _cancel(self, turn: Turn, arg: str) -> None:
        head, _sep, confirmed = arg.partition(".")
        booking = await self._own(turn, head)
        if booking is None:
            return
        if not turn.appointments.changeable(booking):
            turn.lead(self._too_late(turn))
            await self.my_bookings(turn)
            return
        number = turn.appointments.number(booking)
        if confirmed != CONFIRMED:
            turn.say(
                _("Cancel booking {number} on {time}?").format(
                    number=number, time=turn.appointments.when(booking.starts_at)
                ),
                (
                    Button(
                        _("🗑 Yes, cancel it"),
                        Action(Act.APPT_CANCEL, f"{booking.id}.{CONFIRMED}"),
                    ),
                ),
                (Button(_("◀️ No, keep it"), Action(Act.APPT_MINE)),),
            )
            return
        try:
            await turn.appointments.cancel_own(booking, _resident(turn))
        except TooLateError:
            turn.lead(self._too_late(turn))
        else:
            turn.lead(_("Booking {number} is cancelled.").format(number=number))
        await self.my_bookings(turn)

    async def _move(self, turn: Turn, booking_id: int | None) -> None:
        booking = await self._own(turn, str(booking_id or ""))
        if booking is None:
            return
        official = await turn.appointments.official_by_id(booking.official_id)
        if not turn.appointments.changeable(booking) or official is None or not official.active:
            turn.lead(self._too_late(turn))
            await self.my_bookings(turn)
            return
        turn.lead(_("Choose the new time. Your current booking stays until you book the new one."))
        data = {"official": official.code, "question": booking.question, "move": booking.id}
        await self._goto(turn, AppointmentStep.DAY, data)

    async def _own(self, turn: Turn, arg: str) -> Booking | None:
        booking_id = int(arg) if arg.isdigit() and len(arg) <= 12 else None
        booking = await turn.appointments.own(booking_id, turn.account.resident_id)
        if booking is None:
            turn.lead(_("Booking not found."))
            await self.my_bookings(turn)
        return booking

    # -- shared pieces ---------------------------------------------------------------------

    def _too_late(self, turn: Turn) -> str:
        hours = turn.appointments.config.change_before.total_seconds() / 3600
        return _(
            "A booking can be changed only until {hours:g} hours before it. Please call the "
            "contact centre {phone}."
        ).format(hours=hours, phone=turn.appointments.config.contact_centre_phone)

    async def _leave(self, turn: Turn) -> None:
        if await turn.state.get_state() in STATES:
            await turn.state.clear()

    async def _goto(self, turn: Turn, step: AppointmentStep, data: dict[str, Any]) -> None:
        await turn.state.set_state(step.value)
        await turn.state.set_data(data)
        await self.reprompt(turn, step.value)

    async def _back(self, turn: Turn, current: str) -> None:
        step = AppointmentStep(current)
        data = await turn.state.get_data()
        if step is AppointmentStep.OFFICIAL or (step is AppointmentStep.DAY and data.get("move")):
            await turn.state.clear()
            if data.get("move"):
                await self.my_bookings(turn)
            else:
                self._menu(turn)
            return
        await self._goto(turn, _BACK[step], data)

    async def _data_for(self, turn: Turn, step: AppointmentStep) -> dict[str, Any] | None:
        """The booking so far, when the resident is on `step` (an old button otherwise)."""
        if await turn.state.get_state() != step.value:
            current = await turn.state.get_state()
            turn.lead(_("This button belongs to a finished step."))
            if current in STATES:
                await self.reprompt(turn, current or "")
            else:
                self._menu(turn)
            return None
        return await turn.state.get_data()

    async def _official(self, turn: Turn, data: dict[str, Any]) -> Official | None:
        official = await turn.appointments.official(str(data.get("official", "")))
        if official is None:
            turn.lead(_("This official does not receive residents now."))
            await turn.state.set_state(AppointmentStep.OFFICIAL.value)
            await turn.state.set_data({})
            await self._prompt_official(turn)
        return official

    def _start(self, turn: Turn, data: dict[str, Any], hhmm: str) -> datetime | None:
        day = _parse_day(str(data.get("day", "")))
        if day is None or len(hhmm) != 4 or not hhmm.isdigit():
            return None
        try:
            moment = time(int(hhmm[:2]), int(hhmm[2:]))
        except ValueError:
            return None
        zone = turn.appointments.config.timezone
        return turn.appointments.utc(datetime.combine(day, moment, zone))

    @staticmethod
    def _nav() -> tuple[Button, ...]:
        return (
            Button(_("⬅️ Back"), Action(Act.BACK)),
            Button(_("✖️ Cancel"), Action(Act.CANCEL)),
        )
