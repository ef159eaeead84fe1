"""A department's executors in their own Telegram chat: what their presses and replies do.

Executors act as `Actor.EXECUTOR` in the one transition table, which lets them take an appeal
into work and report it done (with a photo), and nothing else: no rejection, no duplicate, no
phone, no message to the resident. They act only on the appeals their department holds (see
`Lifecycle.holder`); a press on another department's appeal is refused. Every action is
recorded with who, when and the role, and the staff chat sees it at once (its card is
re-rendered by the lifecycle and a short notice says what happened).

What they are asked for (a completion photo, a reason to send the appeal back) waits in the
desk's pending actions, bound to the executor and to their chat, and expires like the
operators' ones; reporting done waits for one confirming tap, as for operators.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from domain.actions import Act, Action
from domain.clock import Clock
from domain.confirmations import answer_confirmation
from domain.departments import DepartmentSpec
from domain.desk import REASON_MIN, DeskResult
from domain.dialog.events import Channel, MediaItem, MediaKind
from domain.dialog.replies import Button, Reply
from domain.entities import AppealState, NewMedia
from domain.i18n import gettext
from domain.lifecycle import (
    NOTE_MAX,
    ActorRef,
    AppealNotFoundError,
    Lifecycle,
    PhotoRequiredError,
)
from domain.pending import PendingAction, PendingChange, PendingKind, PendingStore
from domain.statuses import (
    WORKABLE_STATUSES,
    Actor,
    Status,
    TransitionError,
    can_transition,
    status_label,
)

_ = gettext


@dataclass(frozen=True, slots=True)
class Executor:
    """A member of a department's executors' chat, acting there."""

    chat_id: int
    user_id: int
    name: str
    department: DepartmentSpec
    locale: str

    @property
    def label(self) -> str:
        """How the history and the staff chat name them: the person and their department."""
        return f"{self.name} ({self.department.name(self.locale)})"

    @property
    def actor(self) -> ActorRef:
        return ActorRef(Actor.EXECUTOR, str(self.user_id), self.label)


class ExecutorDesk:
    def __init__(
        self,
        lifecycle: Lifecycle,
        pending: PendingStore,
        clock: Clock,
        *,
        pending_ttl: timedelta,
    ) -> None:
        self._lifecycle = lifecycle
        self._pending = pending
        self._clock = clock
        self._ttl = pending_ttl

    # -- presses ---------------------------------------------------------------------------

    async def press(self, act: Act, arg: str, who: Executor) -> DeskResult:
        if act in (Act.EXEC_CONFIRM, Act.EXEC_DROP):
            return await self._answer_confirmation(act, arg, who)
        appeal = await self._theirs(arg, who)
        if isinstance(appeal, DeskResult):
            return appeal
        if act is Act.EXEC_TAKE:
            if not can_transition(appeal.status, Status.IN_PROGRESS, Actor.EXECUTOR):
                return self._cannot(appeal, Status.IN_PROGRESS)
            appeal = await self._lifecycle.transition(appeal.id, Status.IN_PROGRESS, who.actor)
            await self._tell_staff(appeal, _("🛠 Executor {name} took {number} into work."), who)
            text = _("🛠 {name} took {number} into work.").format(
                name=who.name, number=appeal.number
            )
            return DeskResult(
                toast=_("{number}: {status}").format(
                    number=appeal.number, status=status_label(appeal.status)
                ),
                say=[Reply(text)],
            )
        if act is Act.EXEC_DONE:
            if not can_transition(appeal.status, Status.DONE, Actor.EXECUTOR):
                return self._cannot(appeal, Status.DONE)
            action = await self._put(
                who, appeal.id, PendingChange(PendingKind.DONE_PHOTO, self._expiry())
            )
            text = _(
                "{name}, reply to this message with a photo of the completed work on {number} "
                "(a caption becomes the note). I wait {minutes} min; /cancel stops."
            ).format(name=who.name, number=appeal.number, minutes=self._minutes())
            return DeskResult(
                toast=_("Reply to the bot's message with a photo."),
                say=[Reply(text)],
                prompt_for=action,
            )
        if act is Act.EXEC_RETURN:
            if appeal.status not in WORKABLE_STATUSES:
                return self._cannot(appeal, None)
            change = PendingChange(PendingKind.RETURN_REASON, self._expiry())
            action = await self._put(who, appeal.id, change)
            text = _(
                "{name}, reply to this message with the reason why {number} is not for your "
                "department; the operators will route it elsewhere. I wait {minutes} min; "
                "/cancel stops."
            ).format(name=who.name, number=appeal.number, minutes=self._minutes())
            return DeskResult(
                toast=_("Reply to the bot's message with the reason."),
                say=[Reply(text)],
                prompt_for=action,
            )
        return _invalid()

    async def _theirs(self, arg: str, who: Executor) -> AppealState | DeskResult:
        """The appeal the press is about, if the executor's department holds it."""
        head = arg.partition(".")[0]
        appeal_id = int(head) if head.isdigit() and len(head) <= 12 else None
        if appeal_id is None:
            return _invalid()
        try:
            appeal = await self._lifecycle.get(appeal_id)
        except AppealNotFoundError:
            return DeskResult(toast=_("Appeal not found."), alert=True)
        held = await self._lifecycle.holder(appeal.id)
        if held is None or held.department_code != who.department.code:
            return DeskResult(
                toast=_("{number} is not with your department; nothing was changed.").format(
                    number=appeal.number
                ),
                alert=True,
            )
        return appeal

    @staticmethod
    def _cannot(appeal: AppealState, target: Status | None) -> DeskResult:
        if target is None:
            text = _("{number} is «{status}»: it cannot be sent back any more.")
        elif target is Status.DONE:
            text = _("{number} is «{status}»: only an appeal in progress can be reported done.")
        else:
            text = _("{number} is «{status}»: it cannot be taken into work now.")
        return DeskResult(
            toast=text.format(number=appeal.number, status=status_label(appeal.status)),
            alert=True,
        )

    # -- replies ---------------------------------------------------------------------------

    async def message(
        self,
        who: Executor,
        *,
        replied_to: int | None,
        text: str | None,
        photo: NewMedia | None,
    ) -> DeskResult:
        """An executor's reply to one of the bot's messages (anything else is colleagues
        talking, and never reaches here)."""
        if replied_to is None:
            return DeskResult()
        action = await self._pending.by_prompt(who.chat_id, replied_to)
        if action is None:
            # A reply to another of the bot's messages (its "a photo is needed", say) answers
            # the one question the executor has open here, if there is exactly one.
            open_ = [
                a
                for a in await self._pending.all_of(who.chat_id, who.user_id)
                if a.kind.awaits_reply
            ]
            action = open_[0] if len(open_) == 1 else None
        if action is None or not action.kind.awaits_reply:
            return DeskResult(
                say=[
                    Reply(
                        _(
                            "That message does not wait for an answer. Work an appeal with "
                            "the buttons on its card."
                        )
                    )
                ]
            )
        if action.operator_id != who.user_id:
            return DeskResult(
                say=[Reply(_("This question was for {name}.").format(name=action.operator_name))]
            )
        if action.expired(self._clock()):
            await self._pending.delete(action.id)
            return DeskResult(say=[Reply(await self._expired_text(action))])
        appeal = await self._theirs(str(action.appeal_id), who)
        if isinstance(appeal, DeskResult):
            await self._pending.delete(action.id)
            return DeskResult(say=[Reply(appeal.toast or "")])
        if action.kind is PendingKind.DONE_PHOTO:
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
            return await self._offer_done(appeal, who, text, photo)
        reason = (text or "").strip()
        if len(reason) < REASON_MIN:
            return DeskResult(say=[Reply(_("A reason is required."))])
        await self._pending.delete(action.id)
        try:
            await self._lifecycle.return_to_operators(appeal.id, reason, who.actor)
        except TransitionError:
            return DeskResult(say=[Reply(self._cannot(appeal, None).toast or "")])
        return DeskResult(
            say=[
                Reply(
                    _("↩️ {number} is back with the operators; they will route it.").format(
                        number=appeal.number
                    )
                )
            ]
        )

    async def _offer_done(
        self, appeal: AppealState, who: Executor, caption: str | None, photo: NewMedia
    ) -> DeskResult:
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
                _("(This waits {minutes} min for your answer.)").format(minutes=self._minutes()),
            ]
        )
        arg = f"{action.id}.{action.token}"
        buttons = (
            (
                Button(_("✅ Mark done"), Action(Act.EXEC_CONFIRM, arg)),
                Button(_("✖️ Cancel"), Action(Act.EXEC_DROP, arg)),
            ),
        )
        return DeskResult(say=[Reply(text, buttons)], prompt_for=action)

    async def _answer_confirmation(self, act: Act, arg: str, who: Executor) -> DeskResult:
        async def done(action: PendingAction) -> DeskResult:
            return await self._done(action, who)

        return await answer_confirmation(
            self._pending,
            arg,
            chat_id=who.chat_id,
            user_id=who.user_id,
            name=who.name,
            now=self._clock(),
            drop=act is Act.EXEC_DROP,
            expired_text=self._expired_text,
            carry_out=done,
            result=DeskResult,
            when=self._lifecycle.local_time,
        )

    async def _done(self, action: PendingAction, who: Executor) -> DeskResult:
        appeal = await self._theirs(str(action.appeal_id), who)
        if isinstance(appeal, DeskResult):
            return appeal
        if action.kind is not PendingKind.CONFIRM_DONE or action.media_ref is None:
            return _invalid()
        photo = NewMedia(
            MediaKind(action.media_kind or MediaKind.PHOTO.value),
            Channel.TELEGRAM,
            action.media_ref,
            action.media_unique_id,
        )
        try:
            appeal = await self._lifecycle.transition(
                appeal.id, Status.DONE, who.actor, note=action.note, media=(photo,)
            )
        except TransitionError:
            return self._cannot(await self._lifecycle.get(appeal.id), Status.DONE)
        except PhotoRequiredError:
            return DeskResult(
                toast=_("A photo of the completed work is required; the appeal stays open."),
                alert=True,
            )
        await self._tell_staff(
            appeal,
            _("✅ Executor {name} reported {number} done."),
            who,
            media=(MediaItem(photo.kind, photo.file_ref),),
            note=action.note,
        )
        return DeskResult(
            toast=_("{number}: {status}").format(
                number=appeal.number, status=status_label(appeal.status)
            )
        )

    # -- commands --------------------------------------------------------------------------

    async def command(self, name: str, who: Executor) -> DeskResult:
        """/cancel drops what the executor has pending here; anything else gets the help."""
        if name == "cancel":
            actions = await self._pending.all_of(who.chat_id, who.user_id)
            if not actions:
                return DeskResult(say=[Reply(_("Nothing was waiting for you."))])
            numbers = []
            for action in actions:
                await self._pending.delete(action.id)
                numbers.append((await self._lifecycle.get(action.appeal_id)).number)
            return DeskResult(
                say=[
                    Reply(
                        _("Cancelled ({numbers}); nothing was sent.").format(
                            numbers=", ".join(numbers)
                        )
                    )
                ]
            )
        return DeskResult(
            say=[
                Reply(
                    _(
                        "Executors of {department}: take an appeal into work, report it done "
                        "with a photo, or send it back to the operators with the buttons on its "
                        "card; answer the bot's questions by replying to them. /cancel stops "
                        "what you started."
                    ).format(department=who.department.name(who.locale))
                )
            ]
        )

    # -- helpers ---------------------------------------------------------------------------

    async def _tell_staff(
        self,
        appeal: AppealState,
        template: str,
        who: Executor,
        *,
        media: tuple[MediaItem, ...] = (),
        note: str | None = None,
    ) -> None:
        """The staff chat sees every executor action as it happens, in the card's thread."""
        text = template.format(name=who.label, number=appeal.number)
        if note:
            text += "\n" + _("Executor's note: {note}").format(note=note)
        await self._lifecycle.to_staff(appeal.id, [Reply(text, media=media)])

    async def _put(self, who: Executor, appeal_id: int, change: PendingChange) -> PendingAction:
        return await self._pending.put(
            who.chat_id, who.user_id, who.name, appeal_id, change, self._clock()
        )

    def _expiry(self) -> datetime:
        return self._clock() + self._ttl

    def _minutes(self) -> int:
        return max(1, round(self._ttl.total_seconds() / 60))

    async def _expired_text(self, action: PendingAction) -> str:
        number = (await self._lifecycle.get(action.appeal_id)).number
        return _(
            "⌛ {name}, your unfinished action on {number} expired after {minutes} min; nothing "
            "was changed or sent. Press the card's button again if needed."
        ).format(name=action.operator_name, number=number, minutes=self._minutes())


def _invalid() -> DeskResult:
    return DeskResult(toast=_("This button is no longer valid."), alert=True)
