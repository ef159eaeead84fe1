"""The operators' desk: what a button press or a message in the staff chat does to an appeal.

Channel adapters translate the staff chat's events into these calls and the results back into
messages; every change goes through the lifecycle (and so through the transition table).

Safety rules an operator can rely on:
- What the desk asks for (a reason, a duplicate's number, a completion photo) belongs to the
  operator who pressed the button and to that appeal's card: only their reply to the prompt or
  to that card answers it, and it expires.
- Nothing reaches a resident from a typed message without one confirming tap: a rejection, a
  duplicate notice, a completion photo sent without «Done», a message to the resident. The
  confirmation shows the text the resident will get.
- A press on a stale card says who changed the appeal and when, and the card is refreshed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from domain.actions import Act, Action
from domain.clock import Clock, local_time
from domain.confirmations import answer_confirmation
from domain.dialog.events import Channel, MediaKind
from domain.dialog.replies import Button, Reply
from domain.entities import NewMedia
from domain.i18n import gettext
from domain.lifecycle import (
    NOTE_MAX,
    ActorRef,
    AppealNotFoundError,
    Lifecycle,
    NoChatError,
    NoteRequiredError,
    PhotoRequiredError,
)
from domain.numbering import parse_number
from domain.pending import PendingAction, PendingChange, PendingKind, PendingStore
from domain.phone_appeals import no_chat_text
from domain.staff import (
    ACT_TARGETS,
    actor_label,
    department_buttons,
    department_key,
    event_line,
)
from domain.statuses import Actor, Status, TransitionError, can_transition, status_label

_ = gettext

REASON_MIN = 3


@dataclass(slots=True)
class DeskResult:
    # A short answer to the button press (shown to the operator alone).
    toast: str | None = None
    alert: bool = False
    # Messages for the staff chat, in the card's thread.
    say: list[Reply] = field(default_factory=list)
    # The first message of `say` asks for this pending action: replies to it answer it.
    prompt_for: PendingAction | None = None
    # A line that replaces the buttons of the pressed confirmation (what came of it).
    settle: str | None = None


@dataclass(frozen=True, slots=True)
class Operator:
    """An operator acting in the staff chat."""

    chat_id: int
    user_id: int
    name: str

    @property
    def actor(self) -> ActorRef:
        return ActorRef(Actor.OPERATOR, str(self.user_id), self.name)


# target status -> what the desk waits for after the button
_ASKS: dict[Status, PendingKind] = {
    Status.DONE: PendingKind.DONE_PHOTO,
    Status.REJECTED: PendingKind.REJECT_REASON,
    Status.DUPLICATE: PendingKind.DUPLICATE_OF,
}
# A reply to a confirmation answers the step before it again (a corrected reason, say).
_ASKED_AGAIN = {
    PendingKind.CONFIRM_REJECT: PendingKind.REJECT_REASON,
    PendingKind.CONFIRM_DUPLICATE: PendingKind.DUPLICATE_OF,
}


def _photo_of(action: PendingAction) -> NewMedia | None:
    if action.media_ref is None or action.media_kind is None:
        return None
    return NewMedia(
        MediaKind(action.media_kind), Channel.TELEGRAM, action.media_ref, action.media_unique_id
    )


class Desk:
    def __init__(
        self,
        lifecycle: Lifecycle,
        pending: PendingStore,
        clock: Clock,
        timezone: ZoneInfo,
        *,
        pending_ttl: timedelta,
    ) -> None:
        self._lifecycle = lifecycle
        self._pending = pending
        self._clock = clock
        self._timezone = timezone
        self._ttl = pending_ttl

    # -- presses ---------------------------------------------------------------------------

    async def press(self, act: Act, arg: str, who: Operator) -> DeskResult:
        """An operator pressed a card button (`arg`: the appeal id; for a department choice
        followed by "." and the department's key; for a confirmation the pending action's id
        "." its token)."""
        if act in (Act.STAFF_CONFIRM, Act.STAFF_DROP):
            return await self._answer_confirmation(act, arg, who)
        head, _sep, department_key_arg = arg.partition(".")
        appeal_id = int(head) if head.isdigit() and len(head) <= 12 else None
        if appeal_id is None:
            return DeskResult(toast=_("This button is no longer valid."), alert=True)
        try:
            appeal = await self._lifecycle.get(appeal_id)
        except AppealNotFoundError:
            return DeskResult(toast=_("Appeal not found."), alert=True)
        if act is Act.STAFF_PHONE:
            _appeal, phone = await self._lifecycle.reveal_phone(appeal.id, who.actor)
            return DeskResult(
                toast=_("Resident's phone for {number}: {phone}").format(
                    number=appeal.number, phone=phone
                ),
                alert=True,
            )
        if act is Act.STAFF_HISTORY:
            return DeskResult(say=[Reply(await self.history(appeal.id))])
        if act is Act.STAFF_ROUTE:
            departments = await self._lifecycle.departments()
            return DeskResult(
                say=[
                    Reply(
                        _("Which department should handle {number}?").format(number=appeal.number),
                        department_buttons(appeal.id, departments),
                    )
                ]
            )
        if act is Act.STAFF_DEPARTMENT:
            return await self._route(appeal.id, department_key_arg, who)
        target = ACT_TARGETS.get(act)
        if target is None:
            return DeskResult(toast=_("This button is no longer valid."), alert=True)
        if not can_transition(appeal.status, target, Actor.OPERATOR):
            return await self._stale(appeal.id, appeal.number, appeal.status, target)
        asked = _ASKS.get(target)
        if asked is not None:
            return await self._ask(asked, appeal.id, appeal.number, who)
        return await self._move(appeal.id, target, who)

    async def _ask(
        self, kind: PendingKind, appeal_id: int, number: str, who: Operator
    ) -> DeskResult:
        """Wait for the operator's reply (to this prompt or to the card)."""
        action = await self._put(who, appeal_id, PendingChange(kind, self._expiry()))
        minutes = self._minutes()
        name = who.name
        if kind is PendingKind.DONE_PHOTO:
            toast = _("Reply to the bot's message with a photo.")
            prompt = _(
                "{name}, reply to this message or to the card of {number} with a photo of the "
                "completed work (a caption becomes the note). I wait {minutes} min; /cancel stops."
            )
        elif kind is PendingKind.REJECT_REASON:
            toast = _("Reply to the bot's message with the reason.")
            prompt = _(
                "{name}, reply to this message with the reason for rejecting {number}. You will "
                "see what the resident gets before it is sent. I wait {minutes} min; /cancel stops."
            )
        else:
            toast = _("Reply to the bot's message with the original's number.")
            prompt = _(
                "{name}, reply to this message with the number of the appeal that {number} "
                "duplicates (e.g. 1580-2026-000123). I wait {minutes} min; /cancel stops."
            )
        text = prompt.format(name=name, number=number, minutes=minutes)
        return DeskResult(toast=toast, say=[Reply(text)], prompt_for=action)

    async def _route(self, appeal_id: int, key: str, who: Operator) -> DeskResult:
        departments = {department_key(d): d for d in await self._lifecycle.departments()}
        department = departments.get(key)
        if department is None:
            return DeskResult(toast=_("This button is no longer valid."), alert=True)
        try:
            appeal = await self._lifecycle.route(appeal_id, department, who.actor)
        except TransitionError as error:
            # Behind the appeal (done, or finished: closed, rejected, withdrawn by the
            # resident...): say what it is now and bring the card up to date.
            appeal = await self._lifecycle.get(appeal_id)
            await self._lifecycle.refresh_card(appeal)
            text = _(
                "{number} is «{status}»: it cannot be routed any more. The card is updated."
            ).format(number=appeal.number, status=status_label(error.current))
            return DeskResult(toast=text, alert=True)
        return DeskResult(
            toast=_("{number} is routed to {department}.").format(
                number=appeal.number, department=department
            )
        )

    async def _stale(
        self, appeal_id: int, number: str, current: Status, target: Status
    ) -> DeskResult:
        """The card was behind: say who changed the appeal and when, and refresh the card."""
        appeal = await self._lifecycle.get(appeal_id)
        await self._lifecycle.refresh_card(appeal)
        change = await self._lifecycle.last_status_change(appeal_id)
        who = actor_label(change) if change else _("system")
        when = self._when(change.at if change else appeal.status_changed_at)
        if current is target:
            text = _("Already «{status}»: {name}, {time}.").format(
                status=status_label(current), name=who, time=when
            )
        else:
            text = _(
                "{number} is «{status}» since {time} ({name}), so it cannot become «{target}». "
                "The card is updated."
            ).format(
                number=number,
                status=status_label(current),
                name=who,
                time=when,
                target=status_label(target),
            )
        return DeskResult(toast=text, alert=True)

    def _when(self, moment: datetime) -> str:
        """The time alone for today, the date and time otherwise."""
        local = moment.astimezone(self._timezone)
        if local.date() == self._clock().astimezone(self._timezone).date():
            return local_time(moment, self._timezone, time_only=True)
        return self._lifecycle.local_time(moment)

    async def _move(
        self,
        appeal_id: int,
        target: Status,
        who: Operator,
        *,
        note: str | None = None,
        media: tuple[NewMedia, ...] = (),
        duplicate_of: int | None = None,
    ) -> DeskResult:
        try:
            appeal = await self._lifecycle.transition(
                appeal_id, target, who.actor, note=note, media=media, duplicate_of=duplicate_of
            )
        except TransitionError as exc:
            number = (await self._lifecycle.get(appeal_id)).number
            return await self._stale(appeal_id, number, exc.current, exc.target)
        except PhotoRequiredError:
            return DeskResult(
                say=[Reply(_("A photo of the completed work is required; the appeal stays open."))]
            )
        except NoteRequiredError:
            return DeskResult(say=[Reply(_("A reason is required."))])
        return DeskResult(
            toast=_("{number}: {status}").format(
                number=appeal.number, status=status_label(appeal.status)
            )
        )

    # -- messages --------------------------------------------------------------------------

    async def message(
        self,
        who: Operator,
        *,
        replied_to: int | None,
        text: str | None,
        photo: NewMedia | None,
    ) -> DeskResult:
        """An operator's message in the staff chat (not a command). Only replies to the bot's
        prompts and to cards mean anything; everything else is operators talking."""
        if replied_to is None:
            return DeskResult()
        action = await self._pending.by_prompt(who.chat_id, replied_to)
        if action is not None and action.operator_id != who.user_id:
            return DeskResult(
                say=[
                    Reply(
                        _("This question was for {name}; reply to the card instead.").format(
                            name=action.operator_name
                        )
                    )
                ]
            )
        appeal_id = action.appeal_id if action else await self._appeal_of(who, replied_to)
        if appeal_id is None:
            # A reply to one of the bot's messages that asks nothing (any more).
            return DeskResult(
                say=[
                    Reply(
                        _(
                            "That message no longer waits for an answer. Work an appeal with "
                            "the buttons on its card, or reply to the card."
                        )
                    )
                ]
            )
        if action is None:
            action = await self._pending.of(who.chat_id, who.user_id, appeal_id)
        if action is not None and action.expired(self._clock()):
            await self._pending.delete(action.id)
            if action.prompt_message_id == replied_to:
                return DeskResult(say=[Reply(await self._expired_text(action))])
            action = None
        if action is not None:
            kind = _ASKED_AGAIN.get(action.kind, action.kind)
            if kind.awaits_reply:
                return await self._answer(action, kind, who, text, photo)
        if photo is not None:
            return await self._offer_done(appeal_id, who, text, photo)
        if text and text.strip():
            return await self._offer_relay(appeal_id, who, text)
        return DeskResult(
            say=[
                Reply(
                    _(
                        "A reply to a card can be text (a message to the resident) or a photo "
                        "(of the completed work); this was neither, so nothing was done."
                    )
                )
            ]
        )

    async def _appeal_of(self, who: Operator, message_id: int) -> int | None:
        return await self._lifecycle.appeal_of_staff_message(who.chat_id, message_id)

    async def _answer(
        self,
        action: PendingAction,
        kind: PendingKind,
        who: Operator,
        text: str | None,
        photo: NewMedia | None,
    ) -> DeskResult:
        """The operator's reply to what the desk asked for."""
        appeal = await self._lifecycle.get(action.appeal_id)
        if kind is PendingKind.DONE_PHOTO:
            if photo is None:
                return DeskResult(
                    say=[
                        Reply(
                            _(
                                "A photo of the completed work is needed: reply with a photo "
                                "(not a file). The appeal stays open."
                            )
                        )
                    ]
                )
            await self._pending.delete(action.id)
            return await self._move(appeal.id, Status.DONE, who, note=text, media=(photo,))
        reason = (text or "").strip()
        if kind is PendingKind.REJECT_REASON:
            if len(reason) < REASON_MIN:
                return DeskResult(say=[Reply(_("A reason is required."))])
            return await self._confirm(
                who, appeal.id, Status.REJECTED, PendingKind.CONFIRM_REJECT, note=reason
            )
        first = reason.split()[0] if reason else ""
        original = await self._lifecycle.find(first) if parse_number(first) else None
        if original is None:
            return DeskResult(
                say=[Reply(_("No appeal with the number «{text}».").format(text=reason[:40]))]
            )
        if original == appeal.id:
            return DeskResult(say=[Reply(_("An appeal cannot duplicate itself."))])
        return await self._confirm(
            who, appeal.id, Status.DUPLICATE, PendingKind.CONFIRM_DUPLICATE, duplicate_of=original
        )

    async def _confirm(
        self,
        who: Operator,
        appeal_id: int,
        target: Status,
        kind: PendingKind,
        *,
        note: str | None = None,
        duplicate_of: int | None = None,
    ) -> DeskResult:
        """Show the operator what the resident will get, with one button to send it."""
        appeal = await self._lifecycle.get(appeal_id)
        if not can_transition(appeal.status, target, Actor.OPERATOR):
            await self._drop_pending(who, appeal_id)
            stale = await self._stale(appeal.id, appeal.number, appeal.status, target)
            return DeskResult(say=[Reply(stale.toast or "")])
        note = note[:NOTE_MAX] if note else None
        push = await self._lifecycle.status_push(appeal, target, note, duplicate_of)
        resident_text = (
            push.text
            if push is not None
            else _("(The caller has no chat with the bot: the staff chat will be asked to call.)")
        )
        action = await self._put(
            who,
            appeal.id,
            PendingChange(kind, self._expiry(), note=note, duplicate_of=duplicate_of),
        )
        if kind is PendingKind.CONFIRM_REJECT:
            head = _("{name}, {number} will be rejected and the resident will get:")
            send = _("⛔ Reject and send")
        else:
            head = _("{name}, {number} will be marked a duplicate and the resident will get:")
            send = _("♊ Mark and send")
        text = "\n\n".join(
            [head.format(name=who.name, number=appeal.number), resident_text, self._expires_line()]
        )
        return DeskResult(say=[Reply(text, self._confirm_buttons(action, send))], prompt_for=action)

    async def _offer_done(
        self, appeal_id: int, who: Operator, caption: str | None, photo: NewMedia
    ) -> DeskResult:
        """A photo replied to a card without «Done»: ask before the resident is asked."""
        appeal = await self._lifecycle.get(appeal_id)
        if not can_transition(appeal.status, Status.DONE, Actor.OPERATOR):
            return DeskResult(
                say=[
                    Reply(
                        _(
                            "{number} is «{status}»: only an appeal in progress can be marked "
                            "done. The photo was not used."
                        ).format(number=appeal.number, status=status_label(appeal.status))
                    )
                ]
            )
        action = await self._put(
            who,
            appeal.id,
            PendingChange(
                PendingKind.CONFIRM_DONE,
                self._expiry(),
                note=(caption or "").strip()[:NOTE_MAX] or None,
                media_kind=photo.kind.value,
                media_ref=photo.file_ref,
                media_unique_id=photo.unique_id,
            ),
        )
        text = "\n\n".join(
            [
                _(
                    "{name}, mark {number} done with this photo? The resident will see it and be "
                    "asked whether the problem is fixed."
                ).format(name=who.name, number=appeal.number),
                self._expires_line(),
            ]
        )
        buttons = self._confirm_buttons(action, _("✅ Mark done"))
        return DeskResult(say=[Reply(text, buttons)], prompt_for=action)

    async def _offer_relay(self, appeal_id: int, who: Operator, text: str) -> DeskResult:
        """Text replied to a card: show the operator the message the resident will get."""
        appeal = await self._lifecycle.get(appeal_id)
        try:
            preview = await self._lifecycle.relay_preview(appeal.id, text)
        except NoChatError as exc:
            return DeskResult(say=[Reply(no_chat_text(str(exc)))])
        action = await self._put(
            who,
            appeal.id,
            PendingChange(PendingKind.CONFIRM_RELAY, self._expiry(), note=text.strip()[:NOTE_MAX]),
        )
        body = "\n\n".join(
            [
                _("{name}, the resident of {number} will get:").format(
                    name=who.name, number=appeal.number
                ),
                preview.text,
                self._expires_line(),
            ]
        )
        buttons = self._confirm_buttons(action, _("📨 Send"))
        return DeskResult(say=[Reply(body, buttons)], prompt_for=action)

    # -- confirmations ---------------------------------------------------------------------

    async def _answer_confirmation(self, act: Act, arg: str, who: Operator) -> DeskResult:
        async def carry_out(action: PendingAction) -> DeskResult:
            return await self._carry_out(action, who)

        return await answer_confirmation(
            self._pending,
            arg,
            chat_id=who.chat_id,
            user_id=who.user_id,
            name=who.name,
            now=self._clock(),
            drop=act is Act.STAFF_DROP,
            expired_text=self._expired_text,
            carry_out=carry_out,
            result=DeskResult,
            when=self._lifecycle.local_time,
        )

    async def _carry_out(self, action: PendingAction, who: Operator) -> DeskResult:
        if action.kind is PendingKind.CONFIRM_REJECT:
            return await self._move(action.appeal_id, Status.REJECTED, who, note=action.note)
        if action.kind is PendingKind.CONFIRM_DUPLICATE:
            return await self._move(
                action.appeal_id, Status.DUPLICATE, who, duplicate_of=action.duplicate_of
            )
        if action.kind is PendingKind.CONFIRM_DONE:
            photo = _photo_of(action)
            media = (photo,) if photo else ()
            return await self._move(
                action.appeal_id, Status.DONE, who, note=action.note, media=media
            )
        if action.kind is PendingKind.CONFIRM_RELAY and action.note:
            try:
                appeal = await self._lifecycle.relay_to_resident(
                    action.appeal_id, action.note, who.actor
                )
            except NoChatError as exc:
                return DeskResult(toast=no_chat_text(str(exc)), alert=True)
            return DeskResult(
                toast=_("✉️ Sent to the resident of {number}.").format(number=appeal.number)
            )
        return DeskResult(toast=_("This button is no longer valid."), alert=True)

    # -- commands --------------------------------------------------------------------------

    async def command(
        self, name: str, argument: str, who: Operator, replied_to: int | None = None
    ) -> DeskResult:
        """A staff command: /cancel, /history <number>; anything else gets the help."""
        if name == "cancel":
            return await self._cancel(who, replied_to)
        if name == "history":
            if not argument:
                return DeskResult(say=[Reply(_("Usage: /history 1580-2026-000123"))])
            return DeskResult(say=[Reply(await self.history_by_number(argument))])
        return DeskResult(
            say=[
                Reply(
                    _(
                        "Operators' commands: /history <number>, /cancel, /call <phone> (an "
                        "appeal taken by phone), /link <number> <number>, /appointments "
                        "[date] (the day's receptions), /close_day <official> <date> "
                        "[reason]. Work an appeal "
                        "with the buttons on its card. Reply to the card with text to write to "
                        "the resident, or with a photo to report the work done; you confirm "
                        "before anything reaches the resident."
                    )
                )
            ]
        )

    async def _cancel(self, who: Operator, replied_to: int | None) -> DeskResult:
        """/cancel as a reply ends what that prompt or card waits for; alone, everything the
        operator has pending."""
        actions = await self._pending.all_of(who.chat_id, who.user_id)
        if replied_to is not None:
            appeal_id = await self._appeal_of(who, replied_to)
            narrowed = [
                a for a in actions if a.prompt_message_id == replied_to or a.appeal_id == appeal_id
            ]
            actions = narrowed or actions
        if not actions:
            return DeskResult(say=[Reply(_("Nothing was waiting for you."))])
        numbers = []
        for action in actions:
            await self._pending.delete(action.id)
            numbers.append((await self._lifecycle.get(action.appeal_id)).number)
        return DeskResult(
            say=[
                Reply(
                    _("Cancelled ({numbers}); nothing was sent.").format(numbers=", ".join(numbers))
                )
            ]
        )

    # -- timers ----------------------------------------------------------------------------

    async def expire(self) -> list[int]:
        """Drop pending actions past their time and tell their operators (once each)."""
        expired = await self._pending.expired(self._clock())
        for action in expired:
            await self._pending.delete(action.id)
            told = [Reply(await self._expired_text(action))]
            if await self._lifecycle.department_by_chat(action.chat_id) is not None:
                # An executor's action, in their department's chat.
                await self._lifecycle.to_chat(action.chat_id, told, action.appeal_id)
            else:
                await self._lifecycle.to_staff(action.appeal_id, told)
        return [action.id for action in expired]

    # -- history ---------------------------------------------------------------------------

    async def history(self, appeal_id: int) -> str:
        appeal = await self._lifecycle.get(appeal_id)
        entries = await self._lifecycle.history(appeal_id)
        lines = [_("History of {number}:").format(number=appeal.number)]
        lines.extend("• " + event_line(entry, self._timezone) for entry in entries)
        return "\n".join(lines)

    async def history_by_number(self, number: str) -> str:
        appeal_id = await self._lifecycle.find(number)
        if appeal_id is None:
            return _("No appeal with the number «{text}».").format(text=number[:40])
        return await self.history(appeal_id)

    # -- helpers ---------------------------------------------------------------------------

    async def _put(self, who: Operator, appeal_id: int, change: PendingChange) -> PendingAction:
        return await self._pending.put(
            who.chat_id, who.user_id, who.name, appeal_id, change, self._clock()
        )

    async def _drop_pending(self, who: Operator, appeal_id: int) -> None:
        action = await self._pending.of(who.chat_id, who.user_id, appeal_id)
        if action is not None:
            await self._pending.delete(action.id)

    def _expiry(self) -> datetime:
        return self._clock() + self._ttl

    def _minutes(self) -> int:
        return max(1, round(self._ttl.total_seconds() / 60))

    def _expires_line(self) -> str:
        return _("(This waits {minutes} min for your answer.)").format(minutes=self._minutes())

    async def _expired_text(self, action: PendingAction) -> str:
        number = (await self._lifecycle.get(action.appeal_id)).number
        return _(
            "⌛ {name}, your unfinished action on {number} expired after {minutes} min; nothing "
            "was changed or sent. Press the card's button again if needed."
        ).format(name=action.operator_name, number=number, minutes=self._minutes())

    @staticmethod
    def _confirm_buttons(action: PendingAction, send: str) -> tuple[tuple[Button, ...], ...]:
        arg = f"{action.id}.{action.token}"
        return (
            (
                Button(send, Action(Act.STAFF_CONFIRM, arg)),
                Button(_("✖️ Cancel"), Action(Act.STAFF_DROP, arg)),
            ),
        )
