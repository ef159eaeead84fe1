"""The operators' desk: what a button press or a message in the staff chat does to an appeal.

Channel adapters translate the staff chat's events into these calls and the results back into
messages; every change goes through the lifecycle (and so through the transition table).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from domain.actions import Act
from domain.dialog.replies import Reply
from domain.entities import NewMedia
from domain.i18n import N_, gettext
from domain.lifecycle import (
    ActorRef,
    AppealNotFoundError,
    Lifecycle,
    NoChatError,
    NoteRequiredError,
    PhotoRequiredError,
)
from domain.numbering import parse_number
from domain.phone_appeals import no_chat_text
from domain.staff import ACT_TARGETS, department_buttons, department_key, event_line
from domain.statuses import Actor, Status, TransitionError, can_transition, status_label

_ = gettext

REASON_MIN = 3


class Pending:
    """What the operator was asked to send next (stored as their dialog state)."""

    DONE_PHOTO = "done_photo"
    REJECT_REASON = "reject_reason"
    DUPLICATE_OF = "duplicate_of"


@dataclass(slots=True)
class DeskResult:
    # A short answer to the button press (shown to the operator alone).
    toast: str | None = None
    alert: bool = False
    # Messages for the staff chat, in the card's thread.
    say: list[Reply] = field(default_factory=list)
    # Set: the operator must now send this; cleared: nothing is awaited any more.
    pending: str | None = None
    clear_pending: bool = False


# target status -> (what to wait for, short answer to the press, the prompt in the chat)
_ASKS: dict[Status, tuple[str, str, str]] = {
    Status.DONE: (
        Pending.DONE_PHOTO,
        N_("Send a photo of the completed work."),
        N_(
            "{name}, reply with a photo of the completed work on {number} "
            "(a caption becomes the note). /cancel to stop."
        ),
    ),
    Status.REJECTED: (
        Pending.REJECT_REASON,
        N_("Send the reason."),
        N_(
            "{name}, send the reason for rejecting {number}; the resident will see it. "
            "/cancel to stop."
        ),
    ),
    Status.DUPLICATE: (
        Pending.DUPLICATE_OF,
        N_("Send the original appeal's number."),
        N_(
            "{name}, send the number of the appeal that {number} duplicates "
            "(e.g. 1580-2026-000123). /cancel to stop."
        ),
    ),
}


def operator(user_id: int, name: str) -> ActorRef:
    return ActorRef(Actor.OPERATOR, str(user_id), name)


class Desk:
    def __init__(self, lifecycle: Lifecycle, timezone: ZoneInfo) -> None:
        self._lifecycle = lifecycle
        self._timezone = timezone

    def _refusal(self, exc: TransitionError) -> DeskResult:
        return DeskResult(
            toast=_("Not allowed: an appeal that is «{current}» cannot become «{target}».").format(
                current=status_label(exc.current), target=status_label(exc.target)
            ),
            alert=True,
        )

    async def press(self, act: Act, arg: str, who: ActorRef) -> DeskResult:
        """An operator pressed a card button (`arg`: the appeal id, for a department choice
        followed by "." and the department's key)."""
        head, _sep, department_key_arg = arg.partition(".")
        appeal_id = int(head) if head.isdigit() and len(head) <= 12 else None
        if appeal_id is None:
            return DeskResult(toast=_("This button is no longer valid."), alert=True)
        try:
            appeal = await self._lifecycle.get(appeal_id)
        except AppealNotFoundError:
            return DeskResult(toast=_("Appeal not found."), alert=True)
        if act is Act.STAFF_PHONE:
            _appeal, phone = await self._lifecycle.reveal_phone(appeal.id, who)
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
            return self._refusal(TransitionError(appeal.status, target, Actor.OPERATOR))
        asks = _ASKS.get(target)
        if asks is not None:
            # These moves need something more from the operator: ask, and wait for it.
            pending, toast, prompt = asks
            text = gettext(prompt).format(name=who.name or "", number=appeal.number)
            return DeskResult(toast=gettext(toast), say=[Reply(text)], pending=pending)
        return await self._move(appeal.id, target, who)

    async def _route(self, appeal_id: int, key: str, who: ActorRef) -> DeskResult:
        departments = {department_key(d): d for d in await self._lifecycle.departments()}
        department = departments.get(key)
        if department is None:
            return DeskResult(toast=_("This button is no longer valid."), alert=True)
        try:
            appeal = await self._lifecycle.route(appeal_id, department, who)
        except TransitionError:
            return DeskResult(toast=_("A closed or done appeal cannot be routed."), alert=True)
        return DeskResult(
            toast=_("{number} is routed to {department}.").format(
                number=appeal.number, department=department
            )
        )

    async def _move(
        self,
        appeal_id: int,
        target: Status,
        who: ActorRef,
        *,
        note: str | None = None,
        media: tuple[NewMedia, ...] = (),
        duplicate_of: int | None = None,
    ) -> DeskResult:
        try:
            appeal = await self._lifecycle.transition(
                appeal_id, target, who, note=note, media=media, duplicate_of=duplicate_of
            )
        except TransitionError as exc:
            return self._refusal(exc)
        except PhotoRequiredError:
            return DeskResult(
                say=[Reply(_("A photo of the completed work is required; the appeal stays open."))]
            )
        except NoteRequiredError:
            return DeskResult(say=[Reply(_("A reason is required."))])
        return DeskResult(
            toast=_("{number}: {status}").format(
                number=appeal.number, status=status_label(appeal.status)
            ),
            clear_pending=True,
        )

    async def complete(
        self,
        pending: str,
        appeal_id: int,
        who: ActorRef,
        *,
        text: str | None,
        photo: NewMedia | None,
    ) -> DeskResult:
        """The operator sent what a pending action asked for (or something else)."""
        if pending == Pending.DONE_PHOTO:
            if photo is None:
                return DeskResult(
                    say=[
                        Reply(
                            _("A photo of the completed work is required; the appeal stays open.")
                        )
                    ]
                )
            return await self._move(appeal_id, Status.DONE, who, note=text, media=(photo,))
        reason = (text or "").strip()
        if pending == Pending.REJECT_REASON:
            if len(reason) < REASON_MIN:
                return DeskResult(say=[Reply(_("A reason is required."))])
            return await self._move(appeal_id, Status.REJECTED, who, note=reason)
        parsed = parse_number(reason.split()[0]) if reason else None
        original = await self._lifecycle.find(reason.split()[0]) if parsed else None
        if original is None:
            return DeskResult(
                say=[Reply(_("No appeal with the number «{text}».").format(text=reason[:40]))]
            )
        if original == appeal_id:
            return DeskResult(say=[Reply(_("An appeal cannot duplicate itself."))])
        return await self._move(appeal_id, Status.DUPLICATE, who, duplicate_of=original)

    async def reply_to_card(
        self, appeal_id: int, who: ActorRef, *, text: str | None, photo: NewMedia | None
    ) -> DeskResult:
        """A reply to the card: a photo completes the work, text goes to the resident."""
        if photo is not None:
            return await self._move(appeal_id, Status.DONE, who, note=text, media=(photo,))
        if text and text.strip():
            try:
                appeal = await self._lifecycle.relay_to_resident(appeal_id, text, who)
            except NoChatError as exc:
                return DeskResult(say=[Reply(no_chat_text(str(exc)))])
            return DeskResult(
                say=[Reply(_("✉️ Sent to the resident of {number}.").format(number=appeal.number))]
            )
        return DeskResult()

    async def command(self, name: str, argument: str) -> DeskResult:
        """A staff command: /cancel, /history <number>; anything else gets the help."""
        if name == "cancel":
            return DeskResult(say=[Reply(_("Cancelled."))], clear_pending=True)
        if name == "history":
            if not argument:
                return DeskResult(say=[Reply(_("Usage: /history 1580-2026-000123"))])
            return DeskResult(say=[Reply(await self.history_by_number(argument))])
        return DeskResult(
            say=[
                Reply(
                    _(
                        "Operators' commands: /history <number>, /cancel. Work an appeal with "
                        "the buttons on its card; reply to the card with text to write to the "
                        "resident, or with a photo to report the work done."
                    )
                )
            ]
        )

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
