"""The appeal lifecycle: every status change, relay and contact reveal goes through here.

A change, its history entry and every notification it causes are written in the caller's unit of
work, so they commit together or not at all; the outbox sender delivers the notifications later.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from domain.actions import KEEP, Act, Action
from domain.clock import Clock, local_time
from domain.departments import Assignment, DepartmentSpec
from domain.dialog.events import Channel, MediaItem
from domain.dialog.replies import Button, Reply
from domain.entities import (
    Account,
    AppealState,
    HistoryEntry,
    NewMedia,
    OperatorMessage,
    StoredMedia,
)
from domain.i18n import N_, Translator, gettext
from domain.kinds import EventKind, MediaRole, OutboxKind
from domain.staff import actor_kind_label, card_text, department_buttons, executor_buttons
from domain.statuses import (
    NOTE_REQUIRED,
    OPEN_STATUSES,
    WORKABLE_STATUSES,
    Actor,
    Status,
    TransitionError,
    check_transition,
    status_label,
)

if TYPE_CHECKING:
    from domain.ports import UnitOfWork

_ = gettext

NOTE_MAX = 2000

# How the staff chat is shown what a resident sends about a filed appeal.
_ANSWERS = N_("💬 The resident answers on {number}:\n{text}")
_ADDS = N_("📎 The resident adds to {number}:\n{text}")
# What a resident types outside any step within this long after an operator's message about an
# open appeal is taken as their answer to it.
OPERATOR_THREAD = timedelta(hours=24)


class AppealNotFoundError(LookupError):
    pass


class NoteRequiredError(ValueError):
    pass


class PhotoRequiredError(ValueError):
    pass


class NoChatError(LookupError):
    """The appeal came by phone and its caller has no chat with the bot (yet)."""


@dataclass(frozen=True, slots=True)
class ActorRef:
    kind: Actor
    id: str | None = None
    name: str | None = None


SYSTEM = ActorRef(Actor.SYSTEM)


@dataclass(frozen=True, slots=True)
class LifecycleConfig:
    staff_chat_id: int | None
    staff_locale: str
    timezone: ZoneInfo
    centre_phone: str
    # A done appeal the resident does not answer about is closed after this long.
    confirm_window: timedelta
    # An appeal held by a department's executors and overdue by more than this is escalated
    # to the staff chat (a department's `escalation_hours` overrides it), at most once per
    # period.
    escalation_after: timedelta = timedelta(hours=24)
    escalation_period: timedelta = timedelta(hours=24)


# A phone appeal without a chat: the staff chat is asked to call back on these.
CALL_BACK_STATUSES = frozenset({Status.DONE, Status.REJECTED, Status.DUPLICATE})

# Outbox kinds: neutral replies to a person or the staff chat, and the staff card itself.
# (Names kept for the outbox transports that import them.)
KIND_REPLIES = OutboxKind.REPLIES
KIND_CARD = OutboxKind.CARD
KIND_CARD_EDIT = OutboxKind.CARD_EDIT


class Lifecycle:
    def __init__(
        self, uow: UnitOfWork, translator: Translator, clock: Clock, config: LifecycleConfig
    ) -> None:
        self._uow = uow
        self._translator = translator
        self._clock = clock
        self._config = config

    def local_time(self, moment: datetime) -> str:
        return local_time(moment, self._config.timezone)

    async def find(self, number: str) -> int | None:
        return await self._uow.appeals.id_by_number(number.strip())

    async def history(self, appeal_id: int) -> list[HistoryEntry]:
        return await self._uow.appeals.history(appeal_id)

    async def get(self, appeal_id: int) -> AppealState:
        appeal = await self._uow.appeals.get(appeal_id)
        if appeal is None:
            raise AppealNotFoundError(appeal_id)
        return appeal

    # -- status changes ------------------------------------------------------------------

    async def transition(
        self,
        appeal_id: int,
        target: Status,
        actor: ActorRef,
        *,
        note: str | None = None,
        media: Sequence[NewMedia] = (),
        duplicate_of: int | None = None,
    ) -> AppealState:
        """Move an appeal along the table, record it, and queue everyone's notifications."""
        appeal = await self._uow.appeals.get(appeal_id, lock=True)
        if appeal is None:
            raise AppealNotFoundError(appeal_id)
        check_transition(appeal.status, target, actor.kind)
        note = (note or "").strip()[:NOTE_MAX] or None
        if target in NOTE_REQUIRED and note is None:
            raise NoteRequiredError(target)
        if target is Status.DONE and not media:
            raise PhotoRequiredError(appeal.number)
        if target is Status.DUPLICATE and (duplicate_of is None or duplicate_of == appeal.id):
            raise AppealNotFoundError(duplicate_of)
        now = self._clock()
        department = None
        if target is Status.ACCEPTED and appeal.department is None:
            category = await self._uow.categories.by_id(appeal.category_id)
            department = category.department if category else None
        await self._uow.appeals.set_status(
            appeal.id, target, now, department=department, duplicate_of_id=duplicate_of
        )
        await self._uow.appeals.add_event(
            appeal.id,
            at=now,
            kind=EventKind.STATUS,
            actor_kind=actor.kind.value,
            actor_id=actor.id,
            actor_name=actor.name,
            from_status=appeal.status,
            to_status=target,
            note=note,
        )
        if media:
            role = MediaRole.COMPLETION if target is Status.DONE else MediaRole.REOPEN
            await self._uow.appeals.add_media(appeal.id, media, role)
        updated = await self.get(appeal.id)
        if actor.kind is not Actor.RESIDENT:
            await self._push_status(updated, target, note, duplicate_of)
        else:
            await self._tell_staff_about_resident(updated, target, note, media)
        await self.refresh_card(updated)
        if target is Status.ACCEPTED:
            await self._hand_to_department(updated, actor)
        elif actor.kind is not Actor.EXECUTOR:
            await self._tell_executors(updated, actor)
        return updated

    async def _chats(self, appeal: AppealState) -> list[Account]:
        """Where the resident hears about this appeal: the account it was filed from; for a
        phone appeal, every account of its resident (none while it waits for the number)."""
        if appeal.account_id is not None:
            account = await self._uow.accounts.by_id(appeal.account_id)
            return [account] if account is not None else []
        if appeal.resident_id is None:
            return []
        return await self._uow.identity.accounts_of(appeal.resident_id)

    async def _push_status(
        self, appeal: AppealState, target: Status, note: str | None, duplicate_of: int | None
    ) -> None:
        chats = await self._chats(appeal)
        for account in chats:
            reply = await self._status_reply(appeal, target, note, duplicate_of, account.locale)
            await self._to_account(account.channel, account.external_id, [reply], appeal.id)
        if not chats and target in CALL_BACK_STATUSES:
            await self._ask_call_back(appeal, target, note)

    async def _ask_call_back(self, appeal: AppealState, target: Status, note: str | None) -> None:
        """A phone appeal nobody can be told about in a messenger: operators call back."""
        with self._translator.use(self._config.staff_locale):
            text = _(
                "☎️ {number} came by phone and its caller has no chat with the bot: please call "
                "them back and tell them it is «{status}»."
            ).format(number=appeal.number, status=status_label(target))
            if note:
                text += "\n" + _("Operator's note: {note}").format(note=note)
            reply = Reply(text)
        await self.to_staff(appeal.id, [reply])

    async def status_push(
        self, appeal: AppealState, target: Status, note: str | None, duplicate_of: int | None
    ) -> Reply | None:
        """What the resident gets when the appeal becomes `target`, in the language of their
        first chat; the desk shows it to the operator before a rejection or duplicate is sent.
        None when nobody can be told in a messenger (a phone appeal: operators call back)."""
        chats = await self._chats(appeal)
        if not chats:
            return None
        return await self._status_reply(appeal, target, note, duplicate_of, chats[0].locale)

    async def _status_reply(
        self,
        appeal: AppealState,
        target: Status,
        note: str | None,
        duplicate_of: int | None,
        locale: str | None,
    ) -> Reply:
        """The push about a status change, in the recipient's language."""
        resolved = self._translator.resolve(locale)
        department = appeal.department or "—"
        if appeal.department and target is Status.ACCEPTED:
            department = await self._uow.categories.department_name(appeal.department, resolved)
        with self._translator.use(resolved):
            lines = [
                _("Appeal {number}: {status}").format(
                    number=appeal.number, status=status_label(target)
                )
            ]
            # Viber shows only the latest message's keyboard: every push keeps a way back.
            menu = Button(_("🏠 Menu"), Action(Act.MENU, KEEP))
            buttons: tuple[tuple[Button, ...], ...] = ((menu,),)
            media: tuple[MediaItem, ...] = ()
            if target is Status.ACCEPTED:
                lines.append(
                    _("It was accepted and passed to: {department}.").format(department=department)
                )
                lines.append(_("Due by: {date}").format(date=self.local_time(appeal.due_at)))
            elif target is Status.IN_PROGRESS:
                lines.append(_("Work has started."))
                lines.append(_("Due by: {date}").format(date=self.local_time(appeal.due_at)))
            elif target is Status.DONE:
                lines.append(
                    _("The work is reported done. Is the problem fixed? Please answer below.")
                )
                media, labelled = await self._before_and_after(appeal.id)
                if labelled:
                    lines.append(labelled)
                buttons = (
                    (
                        Button(_("✅ Fixed"), Action(Act.FIXED, str(appeal.id))),
                        Button(_("❌ Not fixed"), Action(Act.NOT_FIXED, str(appeal.id))),
                    ),
                )
            elif target is Status.CLOSED:
                lines.append(
                    _("There was no answer about the result, so the appeal is closed as fixed.")
                )
            elif target is Status.REJECTED:
                lines.append(_("The appeal was rejected."))
            elif target is Status.DUPLICATE and duplicate_of is not None:
                original = await self._uow.appeals.get(duplicate_of)
                if original is not None:
                    lines.append(_duplicate_line(original))
            if note:
                lines.append(_("Operator's note: {note}").format(note=note))
            reply = Reply("\n".join(lines), buttons, media=media)
        return reply

    async def _before_and_after(self, appeal_id: int) -> tuple[tuple[MediaItem, ...], str]:
        """The resident's first photo beside the completion photo, where the channel can show
        both (media from another channel cannot be re-sent by file id), and a line that says
        which is which (call inside the recipient's locale)."""
        media = await self._uow.appeals.media(appeal_id)
        first_report = next((m for m in media if m.role == MediaRole.REPORT), None)
        completion = [m for m in media if m.role == MediaRole.COMPLETION]
        chosen: list[StoredMedia] = ([first_report] if first_report else []) + completion[-1:]
        if first_report is not None and completion:
            label = _("📷 First: your photo, before. Second: the completed work, after.")
        elif completion:
            label = _("📷 The photo shows the completed work.")
        else:
            label = ""
        return tuple(MediaItem(m.kind, m.file_ref) for m in chosen), label

    async def _tell_staff_about_resident(
        self, appeal: AppealState, target: Status, note: str | None, media: Sequence[NewMedia]
    ) -> None:
        with self._translator.use(self._config.staff_locale):
            if target is Status.REOPENED:
                text = _("🔁 The resident says {number} is NOT fixed: {note}").format(
                    number=appeal.number, note=note or "—"
                )
            elif target is Status.WITHDRAWN:
                text = _(
                    "🚫 The resident withdrew {number}; please stop the work on it. Reason: {note}"
                ).format(number=appeal.number, note=note or "—")
            else:
                text = _("✅ The resident confirmed {number} is fixed; closed.").format(
                    number=appeal.number
                )
            reply = Reply(text, media=tuple(MediaItem(m.kind, m.file_ref) for m in media))
        await self.to_staff(appeal.id, [reply])

    # -- relays and reveals --------------------------------------------------------------

    async def relay_to_resident(self, appeal_id: int, text: str, operator: ActorRef) -> AppealState:
        appeal = await self.get(appeal_id)
        chats = await self._chats(appeal)
        if not chats:
            raise NoChatError(appeal.number)
        text = text.strip()[:NOTE_MAX]
        await self._uow.appeals.add_event(
            appeal.id,
            at=self._clock(),
            kind=EventKind.RELAY_OUT,
            actor_kind=operator.kind.value,
            actor_id=operator.id,
            actor_name=operator.name,
            note=text,
        )
        for account in chats:
            reply = self.relay_reply(account, appeal, text)
            await self._to_account(account.channel, account.external_id, [reply], appeal.id)
        return appeal

    def relay_reply(self, account: Account, appeal: AppealState, text: str) -> Reply:
        """An operator's message as the resident sees it (shown to the operator first)."""
        with self._translator.use(account.locale):
            return Reply(
                _("💬 Operator of {centre} about appeal {number}:\n{text}").format(
                    centre=self._config.centre_phone, number=appeal.number, text=text
                ),
                ((Button(_("↩️ Answer"), Action(Act.REPLY, str(appeal.id))),),),
            )

    async def relay_preview(self, appeal_id: int, text: str) -> Reply:
        """The operator's message as the resident would get it; NoChatError when the appeal
        has no chat to send it to."""
        appeal = await self.get(appeal_id)
        chats = await self._chats(appeal)
        if not chats:
            raise NoChatError(appeal.number)
        return self.relay_reply(chats[0], appeal, text.strip()[:NOTE_MAX])

    async def appeal_of_staff_message(self, chat_id: int, message_id: int) -> int | None:
        """The appeal a staff-chat message of the bot (its card, a relay) belongs to."""
        return await self._uow.staff.appeal_of(chat_id, message_id)

    async def last_status_change(self, appeal_id: int) -> HistoryEntry | None:
        """Who moved the appeal to its current status, and when."""
        entries = await self._uow.appeals.history(appeal_id)
        return next((e for e in reversed(entries) if e.kind == EventKind.STATUS), None)

    async def relay_to_staff(
        self, appeal_id: int, text: str, resident: ActorRef, media: Sequence[NewMedia] = ()
    ) -> AppealState:
        """The resident's words (and photos) to the operators, in the card's thread."""
        appeal = await self.get(appeal_id)
        await self._resident_to_staff(
            appeal,
            resident,
            text,
            media,
            kind=EventKind.RELAY_IN,
            role=MediaRole.ANSWER,
            header=_ANSWERS,
        )
        return appeal

    async def add_to_appeal(
        self, appeal_id: int, text: str, resident: ActorRef, media: Sequence[NewMedia] = ()
    ) -> AppealState:
        """A comment or photos the resident adds to an open appeal from «My appeals»: kept
        with the appeal, recorded, and shown to the operators in the card's thread."""
        appeal = await self._uow.appeals.get(appeal_id, lock=True)
        if appeal is None:
            raise AppealNotFoundError(appeal_id)
        if appeal.status not in OPEN_STATUSES:
            raise TransitionError(appeal.status, appeal.status, resident.kind)
        await self._resident_to_staff(
            appeal,
            resident,
            text,
            media,
            kind=EventKind.ADDITION,
            role=MediaRole.ADDITION,
            header=_ADDS,
        )
        return appeal

    async def _resident_to_staff(
        self,
        appeal: AppealState,
        resident: ActorRef,
        text: str,
        media: Sequence[NewMedia],
        *,
        kind: EventKind,
        role: MediaRole,
        header: str,
    ) -> None:
        """What a resident sends about a filed appeal: recorded with it, its photos kept, and
        shown to the operators in the card's thread."""
        text = text.strip()[:NOTE_MAX]
        await self._uow.appeals.add_event(
            appeal.id,
            at=self._clock(),
            kind=kind,
            actor_kind=resident.kind.value,
            actor_id=resident.id,
            note=text or None,
        )
        if media:
            await self._uow.appeals.add_media(appeal.id, media, role)
        with self._translator.use(self._config.staff_locale):
            reply = Reply(
                gettext(header).format(number=appeal.number, text=text or "📷"),
                media=tuple(MediaItem(m.kind, m.file_ref) for m in media),
            )
        await self.to_staff(appeal.id, [reply])

    async def last_operator_message(self, account: Account) -> OperatorMessage | None:
        """The operator's latest message to this account about an open appeal, if recent."""
        if account.resident_id is None:
            return None
        return await self._uow.conversation.last_operator_message(
            account.id, account.resident_id, self._clock() - OPERATOR_THREAD
        )

    async def route(self, appeal_id: int, department: str, operator: ActorRef) -> AppealState:
        """Pass an open appeal to another department; recorded, and shown on the card."""
        appeal = await self._uow.appeals.get(appeal_id, lock=True)
        if appeal is None:
            raise AppealNotFoundError(appeal_id)
        if appeal.status not in WORKABLE_STATUSES:
            raise TransitionError(appeal.status, appeal.status, operator.kind)
        now = self._clock()
        await self._uow.appeals.set_department(appeal.id, department, now)
        await self._uow.appeals.add_event(
            appeal.id,
            at=now,
            kind=EventKind.ROUTE,
            actor_kind=operator.kind.value,
            actor_id=operator.id,
            actor_name=operator.name,
            note=department,
        )
        updated = await self.get(appeal.id)
        await self.refresh_card(updated)
        if updated.status is not Status.NEW:
            # A new appeal goes to its department's executors when it is accepted.
            await self._hand_to_department(updated, operator)
        return updated

    async def departments(self) -> list[str]:
        return await self._uow.categories.departments()

    async def reveal_phone(self, appeal_id: int, operator: ActorRef) -> tuple[AppealState, str]:
        """The resident's number for one operator, recorded; marked when nothing proves it is
        really theirs (a Viber contact) or when a caller gave it on the phone."""
        appeal = await self.get(appeal_id)
        contact = await self._uow.identity.appeal_contact(appeal.id)
        if contact is None:
            phone = "—"
        elif contact.by_phone:
            phone = _("{phone} (given by the caller on the phone)").format(phone=contact.phone)
        elif not contact.verified:
            phone = _("{phone} (UNVERIFIED: claimed on {channel}, not proven)").format(
                phone=contact.phone, channel=contact.channel.capitalize()
            )
        else:
            phone = contact.phone
        await self._uow.appeals.add_event(
            appeal.id,
            at=self._clock(),
            kind=EventKind.REVEAL,
            actor_kind=operator.kind.value,
            actor_id=operator.id,
            actor_name=operator.name,
        )
        return appeal, phone

    # -- staff chat ----------------------------------------------------------------------

    def card_chat(self) -> str | None:
        """Where new appeals' cards go (the staff chat), if the city has one."""
        chat = self._config.staff_chat_id
        return str(chat) if chat is not None else None

    async def post_card(self, appeal_id: int) -> None:
        """Queue the new appeal's card for the staff chat."""
        chat = self.card_chat()
        if chat is None:
            return
        await self._uow.outbox.add(
            channel=Channel.TELEGRAM,
            chat=chat,
            kind=KIND_CARD,
            payload={},
            now=self._clock(),
            appeal_id=appeal_id,
        )

    async def refresh_card(self, appeal: AppealState) -> None:
        if self._config.staff_chat_id is None:
            return
        await self._uow.outbox.add(
            channel=Channel.TELEGRAM,
            chat=str(self._config.staff_chat_id),
            kind=KIND_CARD_EDIT,
            payload={},
            now=self._clock(),
            appeal_id=appeal.id,
        )

    async def to_staff(self, appeal_id: int | None, replies: list[Reply]) -> None:
        """Queue messages into the staff chat, in the thread of the appeal's card."""
        if self._config.staff_chat_id is None:
            return
        await self._uow.outbox.add(
            channel=Channel.TELEGRAM,
            chat=str(self._config.staff_chat_id),
            kind=KIND_REPLIES,
            payload={"replies": [r.to_data() for r in replies], "card": appeal_id},
            now=self._clock(),
            appeal_id=appeal_id,
        )

    async def _to_account(
        self, channel: Channel, chat: str, replies: list[Reply], appeal_id: int
    ) -> None:
        await self._uow.outbox.add(
            channel=channel,
            chat=chat,
            kind=KIND_REPLIES,
            payload={"replies": [r.to_data() for r in replies]},
            now=self._clock(),
            appeal_id=appeal_id,
        )

    # -- departments' executors ----------------------------------------------------------

    async def holder(self, appeal_id: int) -> Assignment | None:
        """Which department's executors hold the appeal in their chat, if any."""
        return await self._uow.departments.assignment(appeal_id)

    async def department_by_chat(self, chat_id: int) -> DepartmentSpec | None:
        return await self._uow.departments.by_chat(chat_id)

    async def _hand_to_department(self, appeal: AppealState, actor: ActorRef) -> None:
        """Post the card in the chat of the appeal's department, when it has one; the chat
        that held it before is told it moved. A department without a chat: operators act."""
        held = await self._uow.departments.assignment(appeal.id)
        department = (
            await self._uow.departments.by_name(appeal.department) if appeal.department else None
        )
        if held is not None and (department is None or held.department_code != department.code):
            await self._uow.departments.release(appeal.id)
            with self._translator.use(self._config.staff_locale):
                text = _("➡️ {number} was passed to another department.").format(
                    number=appeal.number
                )
            await self.to_chat(held.chat_id, [Reply(text)], appeal.id)
        if department is None or department.chat_id is None:
            return
        if held is not None and held.department_code == department.code:
            return  # already theirs
        now = self._clock()
        await self._uow.departments.assign(appeal.id, department.code, department.chat_id, now)
        await self._uow.appeals.add_event(
            appeal.id,
            at=now,
            kind=EventKind.TO_EXECUTORS,
            actor_kind=actor.kind.value,
            actor_id=actor.id,
            actor_name=actor.name,
            note=department.names["uk"],
        )
        await self.to_chat(department.chat_id, [await self.executor_card(appeal.id)], appeal.id)

    async def executor_card(self, appeal_id: int) -> Reply:
        """The card executors see: the appeal without anything private (no phone, no
        resident), their three buttons, in the city's language."""
        view = await self._uow.appeals.staff_view(appeal_id)
        if view is None:
            raise AppealNotFoundError(appeal_id)
        with self._translator.use(self._config.staff_locale) as locale:
            text = card_text(view, locale, self._clock(), self._config.timezone)
            buttons = executor_buttons(appeal_id)
        media = tuple(
            MediaItem(m.kind, m.file_ref) for m in view.media if m.role == MediaRole.REPORT
        )
        return Reply(text, buttons, media=media)

    async def _tell_executors(self, appeal: AppealState, actor: ActorRef) -> None:
        """Someone else (an operator, the resident, a timer) moved an appeal executors hold."""
        held = await self._uow.departments.assignment(appeal.id)
        if held is None:
            return
        with self._translator.use(self._config.staff_locale):
            text = _("ℹ️ {number} is now «{status}» ({who}).").format(
                number=appeal.number,
                status=status_label(appeal.status),
                who=actor.name or actor_kind_label(actor.kind),
            )
        await self.to_chat(held.chat_id, [Reply(text)], appeal.id)

    async def return_to_operators(
        self, appeal_id: int, reason: str, executor: ActorRef
    ) -> AppealState:
        """Executors say the appeal is not theirs: recorded with the reason, their chat no
        longer holds it, and the staff chat is asked to route it elsewhere."""
        appeal = await self._uow.appeals.get(appeal_id, lock=True)
        if appeal is None:
            raise AppealNotFoundError(appeal_id)
        if appeal.status not in WORKABLE_STATUSES:
            raise TransitionError(appeal.status, appeal.status, executor.kind)
        reason = reason.strip()[:NOTE_MAX]
        await self._uow.appeals.add_event(
            appeal.id,
            at=self._clock(),
            kind=EventKind.RETURNED,
            actor_kind=executor.kind.value,
            actor_id=executor.id,
            actor_name=executor.name,
            note=reason,
        )
        await self._uow.departments.release(appeal.id)
        departments = await self.departments()
        with self._translator.use(self._config.staff_locale):
            text = _(
                "↩️ {name} sends {number} back to the operators: {reason}\n"
                "Which department should handle it?"
            ).format(name=executor.name or "—", number=appeal.number, reason=reason)
            reply = Reply(text, department_buttons(appeal.id, departments))
        await self.to_staff(appeal.id, [reply])
        await self.refresh_card(appeal)
        return appeal

    async def to_chat(self, chat_id: int, replies: list[Reply], appeal_id: int | None) -> None:
        """Queue messages into a group chat other than the staff chat (a department's)."""
        await self._uow.outbox.add(
            channel=Channel.TELEGRAM,
            chat=str(chat_id),
            kind=KIND_REPLIES,
            payload={"replies": [r.to_data() for r in replies]},
            now=self._clock(),
            appeal_id=appeal_id,
        )

    async def remind_executors(self, period: timedelta) -> tuple[list[int], list[int]]:
        """Overdue appeals executors hold: reminded in their chat at most once per period
        (the department's `reminder_hours`, else `period`), and escalated to the staff chat
        when overdue by more than the escalation time, at most once per escalation period.
        Each reminder is claimed in the database first, so two ticks (or workers) never send
        the same one twice."""
        now = self._clock()
        reminded: list[int] = []
        escalated: list[int] = []
        for held in await self._uow.departments.overdue_held(now):
            department = await self._uow.departments.by_code(held.department_code)
            hours = department.reminder_hours if department else None
            every = timedelta(hours=hours) if hours else period
            appeal = await self.get(held.appeal_id)
            if await self._uow.departments.claim_reminder(appeal.id, now, now - every):
                with self._translator.use(self._config.staff_locale):
                    text = _(
                        "⏰ {number} is overdue: it was due by {date}. Please take it into work "
                        "or report it done."
                    ).format(number=appeal.number, date=self.local_time(appeal.due_at))
                await self.to_chat(held.chat_id, [Reply(text)], appeal.id)
                reminded.append(appeal.id)
            limit = department.escalation_hours if department else None
            after = timedelta(hours=limit) if limit else self._config.escalation_after
            if now - appeal.due_at <= after:
                continue
            before = now - self._config.escalation_period
            if not await self._uow.departments.claim_escalation(appeal.id, now, before):
                continue
            name = department.names["uk"] if department else held.department_code
            with self._translator.use(self._config.staff_locale) as locale:
                if department is not None:
                    name = department.name(locale)
                text = _(
                    "🚨 Escalation: {number} is overdue by more than {hours} h (due by {date}) "
                    "and still with {department}."
                ).format(
                    number=appeal.number,
                    hours=round(after.total_seconds() / 3600),
                    date=self.local_time(appeal.due_at),
                    department=name,
                )
            await self._uow.appeals.add_event(
                appeal.id,
                at=now,
                kind=EventKind.ESCALATED,
                actor_kind=Actor.SYSTEM.value,
                actor_id=None,
                note=name,
            )
            await self.to_staff(appeal.id, [Reply(text)])
            await self.refresh_card(appeal)
            escalated.append(appeal.id)
        return reminded, escalated

    # -- timers --------------------------------------------------------------------------

    async def remind_overdue(self, period: timedelta) -> list[int]:
        """Tell the staff chat about appeals past due, at most once per period each."""
        now = self._clock()
        ids = await self._uow.appeals.overdue(now, now - period)
        for appeal_id in ids:
            appeal = await self.get(appeal_id)
            with self._translator.use(self._config.staff_locale):
                text = _("⏰ Appeal {number} is overdue: it was due by {date}.").format(
                    number=appeal.number, date=self.local_time(appeal.due_at)
                )
            await self.to_staff(appeal.id, [Reply(text)])
            await self.refresh_card(appeal)
        if ids:
            await self._uow.appeals.mark_reminded(ids, now)
        return ids

    async def close_unanswered(self) -> list[int]:
        """Close done appeals whose residents did not answer within the window."""
        ids = await self._uow.appeals.done_before(self._clock() - self._config.confirm_window)
        for appeal_id in ids:
            await self.transition(appeal_id, Status.CLOSED, SYSTEM)
        return ids


def _duplicate_line(original: AppealState) -> str:
    """Where the same problem stands, in words that match the original's status: a closed
    original is not "work under way". Call inside the recipient's locale."""
    status = original.status
    if status is Status.DONE:
        text = _(
            "The same problem was already reported under appeal {original}; the work there is "
            "reported done."
        )
    elif status is Status.CLOSED:
        text = _(
            "The same problem was already reported under appeal {original}; it is fixed and closed."
        )
    elif status in OPEN_STATUSES:
        text = _(
            "The same problem is already being handled under appeal {original} (status: {status})."
        )
    else:
        text = _(
            "The same problem was already reported under appeal {original} (status: {status})."
        )
    return text.format(original=original.number, status=status_label(status))
