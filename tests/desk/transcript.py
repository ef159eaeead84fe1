"""Drive the operators' desk and the resident's answers directly, a line at a time.

A line says who does what to one appeal and what comes of it: the status it moves the appeal to
(or the one it is refused), what the one who acted is told, what the card then says, and what
reaches the resident and the staff chat through the outbox. Each line is one unit of work, as
one incoming event is in the bot; nothing is sent, so what is queued is what is checked.

Scripts are plain data: the transition each line makes is known without running it (a script
starts from a new appeal), which is what lets a test check them against the transition table.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import select

from domain.actions import Act
from domain.desk import Desk, DeskResult, Operator
from domain.dialog.core import Dialog
from domain.dialog.events import Channel, MediaKind
from domain.dialog.replies import Button
from domain.entities import NewMedia
from domain.i18n import Translator
from domain.lifecycle import ActorRef, Lifecycle, LifecycleConfig
from domain.staff import card_buttons, card_text
from domain.statuses import INITIAL_STATUS, Actor, Status, TransitionError
from storage.models import OutboxMessage
from storage.uow import UnitOfWork, UnitOfWorkFactory
from tests.clock import FakeClock
from tests.dialog.transcript import Transcript

STAFF_CHAT = -1001580
RESIDENT_ID = 1001
# The staff-chat message ids the bot would have got: the worked appeal's card, then prompts.
CARD_MESSAGE = 100
FIRST_PROMPT = 500


# -- what someone does ---------------------------------------------------------------------------


class Verb(StrEnum):
    PRESS = "presses"
    TAP = "taps"
    TYPE = "types"
    REPLY = "replies to the prompt"
    REPLY_PHOTO = "replies to the prompt with a photo"
    CARD_REPLY = "replies to the card"
    CARD_PHOTO = "replies to the card with a photo"
    FORCE = "asks the lifecycle for"
    FORCE_PHOTO = "asks the lifecycle, with a photo, for"
    WAIT = "waits, days:"


@dataclass(frozen=True)
class Do:
    """One thing someone does; `line`-making methods say what should come of it."""

    actor: Actor
    name: str
    verb: Verb
    arg: Any = None
    note: str | None = None
    # Who is at the staff chat's keyboard, for an operator's action.
    operator: Operator | None = None

    def moves(self, to: Status, **expect: Any) -> Line:
        """The appeal moves to `to` (from wherever the script has it)."""
        return Line(self, moves=to, **expect)

    def refused(self, target: Status, **expect: Any) -> Line:
        """The appeal would move to `target`; the table does not let this actor do it."""
        return Line(self, refuses=target, **expect)

    def says(self, told: str, **expect: Any) -> Line:
        """No status change; the one who acted is told this."""
        return Line(self, told=told, **expect)

    def __str__(self) -> str:
        shown = self.arg.value if isinstance(self.arg, Act | Status) else self.arg
        return f"{self.actor} {self.name} {self.verb} {shown!r}"


@dataclass(frozen=True)
class Line:
    do: Do
    moves: Status | None = None
    refuses: Status | None = None
    # What the one who acted sees: the desk's toast and messages, or the dialog's replies.
    told: str = ""
    # Something the card's text shows afterwards.
    card: str = ""
    # Queued for the resident / posted to the staff chat (None: nothing at all).
    resident: str | None = None
    staff: str | None = None


@dataclass(frozen=True)
class OperatorAt:
    """An operator at the staff chat's keyboard."""

    operator: Operator

    def _do(self, verb: Verb, arg: Any = None, note: str | None = None) -> Do:
        return Do(Actor.OPERATOR, self.operator.name, verb, arg, note, self.operator)

    def press(self, act: Act) -> Do:
        """A button on the appeal's card."""
        return self._do(Verb.PRESS, act)

    def taps(self, label: str) -> Do:
        """A button on the desk's latest message with buttons (a department, a confirmation)."""
        return self._do(Verb.TAP, label)

    def reply(self, text: str) -> Do:
        """A reply to the bot's latest prompt."""
        return self._do(Verb.REPLY, text)

    def reply_photo(self, caption: str | None = None) -> Do:
        return self._do(Verb.REPLY_PHOTO, caption)

    def reply_to_card(self, text: str) -> Do:
        return self._do(Verb.CARD_REPLY, text)

    def photo_to_card(self, caption: str | None = None) -> Do:
        return self._do(Verb.CARD_PHOTO, caption)

    def forces(self, target: Status, note: str | None = None) -> Do:
        """Straight through the lifecycle, as any other path (an API) would."""
        return self._do(Verb.FORCE, target, note)


@dataclass(frozen=True)
class ResidentAt:
    """The resident who filed the appeal, in the bot's chat."""

    name: str

    def press(self, act: Act) -> Do:
        """A button about the appeal (Fixed, Not fixed, Withdraw, Answer)."""
        return Do(Actor.RESIDENT, self.name, Verb.PRESS, act)

    def text(self, text: str) -> Do:
        return Do(Actor.RESIDENT, self.name, Verb.TYPE, text)

    def forces(self, target: Status, note: str | None = None) -> Do:
        return Do(Actor.RESIDENT, self.name, Verb.FORCE, target, note)


@dataclass(frozen=True)
class ExecutorAt:
    """A department's executor, straight through the lifecycle (the executors' desk in their
    chat is driven over HTTP in tests/e2e/test_executors.py): the table decides alone."""

    name: str

    def forces(self, target: Status, note: str | None = None) -> Do:
        return Do(Actor.EXECUTOR, self.name, Verb.FORCE, target, note)

    def forces_with_photo(self, target: Status, note: str | None = None) -> Do:
        return Do(Actor.EXECUTOR, self.name, Verb.FORCE_PHOTO, target, note)


def timer(days: float) -> Do:
    """The clock moves on and the maintenance timers run."""
    return Do(Actor.SYSTEM, "the clock", Verb.WAIT, days)


def system_forces(target: Status) -> Do:
    """A timer (or any other path of the system's own) asks the lifecycle for a move."""
    return Do(Actor.SYSTEM, "the system", Verb.FORCE, target)


OKSANA = OperatorAt(Operator(STAFF_CHAT, 900, "Oksana"))
PETRO = OperatorAt(Operator(STAFF_CHAT, 901, "Petro"))
OLENA = ResidentAt("Olena")


def transitions(script: list[Line]) -> list[tuple[Status, Status, Actor]]:
    """(from, to, actor) of every line that moves the appeal, read off the script alone."""
    current, moves = INITIAL_STATUS, []
    for line in script:
        if line.moves is not None:
            moves.append((current, line.moves, line.do.actor))
            current = line.moves
    return moves


def refusals(script: list[Line]) -> list[tuple[Status, Status, Actor]]:
    """(from, to, actor) of every line the table refuses, read off the script alone."""
    current, refused = INITIAL_STATUS, []
    for line in script:
        if line.refuses is not None:
            refused.append((current, line.refuses, line.do.actor))
        if line.moves is not None:
            current = line.moves
    return refused


# -- running a script ----------------------------------------------------------------------------


class DeskTranscript:
    """One appeal filed by the resident (and a second one, to be named as its original), worked
    by operators through the desk; each `run` is one unit of work and checks one line."""

    def __init__(
        self,
        dialog: Dialog,
        uows: UnitOfWorkFactory,
        translator: Translator,
        clock: FakeClock,
        config: LifecycleConfig,
        *,
        pending_ttl: timedelta = timedelta(minutes=10),
    ) -> None:
        self._uows = uows
        self._translator = translator
        self._clock = clock
        self._config = config
        self._ttl = pending_ttl
        self.resident = Transcript(dialog, uows, user_id=RESIDENT_ID)
        self.appeal_id = 0
        self.number = ""
        self._buttons: list[Button] = []
        self._prompt: int | None = None
        self._message_ids = FIRST_PROMPT
        self._outbox_seen = 0
        self._history_seen = 0

    # -- setting up --------------------------------------------------------------------------

    async def file(self) -> None:
        """The resident registers and files two appeals; the first one is worked."""
        await self.resident.register()
        for description in ("A deep pothole by the bus stop.", "The same pothole, again."):
            await self.resident.press(Act.NEW_APPEAL)
            await self.resident.press(Act.CATEGORY, "other")
            await self.resident.text("вул. Лесі Українки, 1")
            await self.resident.press(Act.MEDIA_SKIP)
            await self.resident.text(description)
            await self.resident.press(Act.SUBMIT)
        async with self._uows() as uow:
            lifecycle = self._lifecycle(uow)
            found = await lifecycle.find("1580-2026-000001")
            assert found is not None
            self.appeal_id = found
            self.number = (await lifecycle.get(found)).number
            # The sender records the card it posts; a reply to it is a reply about the appeal.
            await uow.staff.remember(STAFF_CHAT, CARD_MESSAGE, found, "card")
            await uow.commit()
        self._outbox_seen = await self._outbox_top()
        self._history_seen = len(await self._status_history())

    def _lifecycle(self, uow: UnitOfWork) -> Lifecycle:
        return Lifecycle(uow, self._translator, self._clock, self._config)

    def _desk(self, uow: UnitOfWork) -> Desk:
        return Desk(
            self._lifecycle(uow),
            uow.pending,
            self._clock,
            self._config.timezone,
            pending_ttl=self._ttl,
        )

    # -- a line ------------------------------------------------------------------------------

    async def run(self, line: Line) -> None:
        before = await self.status()
        told = await self._perform(line.do)
        where = f"{line.do} (appeal «{before}»)"
        for expected in line.told.split("\n") if line.told else ():
            assert expected in told, f"{where}: told\n{told}\nnot {expected!r}"
        after = await self.status()
        new = (await self._status_history())[self._history_seen :]
        self._history_seen += len(new)
        if line.moves is not None:
            assert after is line.moves, f"{where}: «{after}», not «{line.moves}»"
            assert new == [(before, line.moves, line.do.actor.value)], f"{where}: {new}"
        else:
            assert after is before, f"{where}: moved to «{after}»"
            assert not new, f"{where}: recorded {new}"
        resident, staff = await self._queued()
        self._check_queued(where, "the resident", resident, line.resident)
        self._check_queued(where, "the staff chat", staff, line.staff)
        if line.card:
            card = await self.card()
            for part in line.card.split("\n"):
                assert part in card, f"{where}: the card says\n{card}\nnot {part!r}"

    @staticmethod
    def _check_queued(where: str, whom: str, got: str | None, expected: str | None) -> None:
        if expected is None:
            assert got is None, f"{where}: {whom} got\n{got}"
            return
        assert got is not None, f"{where}: {whom} got nothing"
        for part in expected.split("\n"):
            assert part in got, f"{where}: {whom} got\n{got}\nnot {part!r}"

    async def _perform(self, do: Do) -> str:
        if do.verb in (Verb.FORCE, Verb.FORCE_PHOTO):
            return await self._force(do)
        if do.actor is Actor.SYSTEM:
            self._clock.advance(days=do.arg)
            async with self._uows() as uow:
                await self._lifecycle(uow).close_unanswered()
                await uow.commit()
            return ""
        if do.actor is Actor.RESIDENT:
            if do.verb is Verb.PRESS:
                await self.resident.press(do.arg, str(self.appeal_id))
            else:
                await self.resident.text(do.arg)
            return self.resident.texts()
        operator = do.operator
        assert operator is not None
        async with self._uows() as uow:
            desk = self._desk(uow)
            result = await self._operate(desk, operator, do)
            if result.prompt_for is not None:
                # The prompt's message id is learned when it is sent; replies to it answer it.
                self._message_ids += 1
                self._prompt = self._message_ids
                action = result.prompt_for
                await uow.pending.set_prompt(action.id, action.token, self._message_ids)
            await uow.commit()
        if any(reply.buttons for reply in result.say):
            self._buttons = [b for reply in result.say for b in reply.all_buttons()]
        return "\n".join([result.toast or "", *(r.text for r in result.say), result.settle or ""])

    async def _operate(self, desk: Desk, who: Operator, do: Do) -> DeskResult:
        appeal = str(self.appeal_id)
        if do.verb is Verb.PRESS:
            return await desk.press(do.arg, appeal, who)
        if do.verb is Verb.TAP:
            buttons = [b for b in self._buttons if b.label == do.arg]
            assert buttons, f"{do}: no such button on the desk's latest message"
            return await desk.press(buttons[0].action.act, buttons[0].action.arg, who)
        photo = None
        text = do.arg
        if do.verb in (Verb.REPLY_PHOTO, Verb.CARD_PHOTO):
            photo = NewMedia(MediaKind.PHOTO, Channel.TELEGRAM, "done-photo", "done-unique")
        replied_to = CARD_MESSAGE if do.verb in (Verb.CARD_REPLY, Verb.CARD_PHOTO) else self._prompt
        return await desk.message(who, replied_to=replied_to, text=text, photo=photo)

    async def _force(self, do: Do) -> str:
        who = ActorRef(do.actor, "900", do.name)
        media = (
            (NewMedia(MediaKind.PHOTO, Channel.TELEGRAM, "done-photo", "done-unique"),)
            if do.verb is Verb.FORCE_PHOTO
            else ()
        )
        async with self._uows() as uow:
            try:
                await self._lifecycle(uow).transition(
                    self.appeal_id, do.arg, who, note=do.note, media=media
                )
            # The lifecycle's refusals: the table's, and a missing note, photo or appeal.
            except (TransitionError, ValueError, LookupError) as error:
                return f"{type(error).__name__}: {error}"
            await uow.commit()
        return "done"

    # -- what is there to see ----------------------------------------------------------------

    async def status(self) -> Status:
        async with self._uows() as uow:
            return (await self._lifecycle(uow).get(self.appeal_id)).status

    async def _status_history(self) -> list[tuple[Status | None, Status | None, str]]:
        async with self._uows() as uow:
            entries = await self._lifecycle(uow).history(self.appeal_id)
        return [(e.from_status, e.to_status, e.actor_kind) for e in entries if e.kind == "status"]

    async def card(self) -> str:
        """The card as the staff chat would now show it: its text, then its buttons' ids."""
        async with self._uows() as uow:
            view = await uow.appeals.staff_view(self.appeal_id)
        assert view is not None
        with self._translator.use(self._config.staff_locale) as locale:
            text = card_text(view, locale, self._clock(), self._config.timezone)
            buttons = [b.action.pack() for row in card_buttons(view) for b in row]
        return "\n".join([text, " ".join(buttons)])

    async def _outbox_top(self) -> int:
        async with self._uows() as uow:
            query = select(OutboxMessage.id).order_by(OutboxMessage.id.desc()).limit(1)
            return int((await uow.session.execute(query)).scalar_one_or_none() or 0)

    async def _queued(self) -> tuple[str | None, str | None]:
        """The texts queued since the last line for the resident and for the staff chat."""
        async with self._uows() as uow:
            query = (
                select(OutboxMessage.chat, OutboxMessage.payload)
                .where(OutboxMessage.id > self._outbox_seen, OutboxMessage.kind == "replies")
                .order_by(OutboxMessage.id)
            )
            rows = list((await uow.session.execute(query)).all())
        self._outbox_seen = await self._outbox_top()
        texts: dict[str, list[str]] = {}
        for chat, payload in rows:
            texts.setdefault(chat, []).extend(r["text"] for r in payload["replies"])
        resident = texts.pop(str(RESIDENT_ID), None)
        staff = texts.pop(str(STAFF_CHAT), None)
        assert not texts, f"queued for someone else: {texts}"
        return (
            "\n".join(resident) if resident is not None else None,
            "\n".join(staff) if staff is not None else None,
        )
