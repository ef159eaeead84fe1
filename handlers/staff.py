"""Telegram staff-chat handlers: card buttons, replies to the bot, commands, membership changes.

They check who is acting (the answer was found before the unit of work, see
bot.telegram.staff_gate), translate the event for the operators' desk, and turn its answer
into Telegram calls; all decisions are the desk's and the lifecycle's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from aiogram import Router
from aiogram.methods import AnswerCallbackQuery, EditMessageText
from aiogram.types import CallbackQuery, ChatMemberUpdated, Message

from bot.telegram.membership import StaffMembership
from bot.telegram.middleware import TelegramTurn
from bot.telegram.staff_gate import Verdict
from domain.actions import STAFF_ACTS, Action
from domain.appointments import AppointmentConfig
from domain.clock import Clock
from domain.desk import Desk, DeskResult, Operator
from domain.dialog.events import Channel, MediaKind
from domain.dialog.replies import Reply
from domain.entities import NewMedia
from domain.i18n import Translator, gettext
from domain.lifecycle import Lifecycle, LifecycleConfig
from handlers.desk_replies import PromptStore, say
from storage.uow import UnitOfWork, UnitOfWorkFactory

_ = gettext


@dataclass(slots=True)
class StaffRuntime:
    """What the staff handlers need (workflow data `staff`)."""

    chat_id: int
    locale: str
    timezone: ZoneInfo
    translator: Translator
    clock: Clock
    lifecycle: LifecycleConfig
    membership: StaffMembership
    uows: UnitOfWorkFactory
    pending_ttl: timedelta = timedelta(minutes=10)
    # Appointments with officials (handlers.appointments); None leaves them out.
    appointments: AppointmentConfig | None = None

    def desk(self, turn: TelegramTurn) -> Desk:
        lifecycle = Lifecycle(turn.uow, self.translator, self.clock, self.lifecycle)
        return Desk(
            lifecycle, turn.uow.pending, self.clock, self.timezone, pending_ttl=self.pending_ttl
        )


def refusal_of(verdict: Verdict) -> str | None:
    if verdict is Verdict.OPERATOR:
        return None
    if verdict is Verdict.UNKNOWN:
        return _(
            "Could not check that you are an operator: Telegram did not answer in time. "
            "Please try again in a moment."
        )
    return _("Only operators of the contact centre can do this.")


def photo_of(message: Message) -> NewMedia | None:
    if message.photo:
        largest = message.photo[-1]
        return NewMedia(MediaKind.PHOTO, Channel.TELEGRAM, largest.file_id, largest.file_unique_id)
    if message.video:
        video = message.video
        return NewMedia(MediaKind.VIDEO, Channel.TELEGRAM, video.file_id, video.file_unique_id)
    return None


def command_of(message: Message) -> tuple[str, str] | None:
    text = message.text or ""
    if not text.startswith("/"):
        return None
    head, _sep, rest = text[1:].partition(" ")
    return head.split("@", 1)[0].lower(), rest.strip()


def _say(
    turn: TelegramTurn,
    staff: StaffRuntime,
    result: DeskResult,
    thread_id: int | None,
    reply_to: int | None,
) -> None:
    """The desk's messages, in the thread they belong to."""
    say(
        turn,
        staff.chat_id,
        result.say,
        prompt=result.prompt_for,
        prompts=pending_prompts,
        uows=staff.uows,
        thread_id=thread_id,
        reply_to=reply_to,
    )


def pending_prompts(uow: UnitOfWork) -> PromptStore:
    return uow.pending


async def staff_button(query: CallbackQuery) -> dict[str, Any] | bool:
    """A press of an operators' button, wherever it was pressed (forged ones included)."""
    action = Action.parse(query.data)
    if action is None or action.act not in STAFF_ACTS:
        return False
    return {"action": action}


async def in_staff_chat(message: Message, staff: StaffRuntime) -> bool:
    return message.chat.id == staff.chat_id


async def staff_chat_member(event: ChatMemberUpdated, staff: StaffRuntime) -> bool:
    return event.chat.id == staff.chat_id


async def on_button(
    query: CallbackQuery,
    action: Action,
    staff: StaffRuntime,
    turn: TelegramTurn,
    staff_member: Verdict,
) -> None:
    message = query.message
    with staff.translator.use(staff.locale):
        refusal = refusal_of(staff_member)
        if message is None or message.chat.id != staff.chat_id:
            refusal = _("Only operators of the contact centre can do this.")
        if refusal is not None or message is None:
            turn.pending.add(
                AnswerCallbackQuery(callback_query_id=query.id, text=refusal, show_alert=True)
            )
            return
        who = Operator(staff.chat_id, query.from_user.id, query.from_user.full_name)
        result = await staff.desk(turn).press(action.act, action.arg, who)
        turn.pending.add(
            AnswerCallbackQuery(
                callback_query_id=query.id, text=result.toast, show_alert=result.alert
            )
        )
        if result.settle is not None and isinstance(message, Message) and message.text:
            # The confirmation keeps its text for the record and loses its buttons.
            turn.pending.add(
                EditMessageText(
                    chat_id=staff.chat_id,
                    message_id=message.message_id,
                    text=f"{message.text}\n\n{result.settle}"[:4096],
                )
            )
        thread_id = getattr(message, "message_thread_id", None)
        _say(turn, staff, result, thread_id, message.message_id)


async def on_message(
    message: Message, staff: StaffRuntime, turn: TelegramTurn, staff_member: Verdict
) -> None:
    if staff_member is Verdict.NOT_ASKED:
        return  # operators talking among themselves, or replying to each other
    user = message.from_user
    if user is None:
        return
    with staff.translator.use(staff.locale):
        thread_id = message.message_thread_id
        refusal = refusal_of(staff_member)
        if refusal is not None:
            _say(turn, staff, DeskResult(say=[Reply(refusal)]), thread_id, message.message_id)
            return
        desk = staff.desk(turn)
        who = Operator(staff.chat_id, user.id, user.full_name)
        replied = message.reply_to_message
        replied_to = replied.message_id if replied is not None else None
        command = command_of(message)
        if command is not None:
            result = await desk.command(*command, who, replied_to)
        else:
            text = message.caption if message.photo or message.video else message.text
            result = await desk.message(
                who, replied_to=replied_to, text=text, photo=photo_of(message)
            )
        if result.toast and not result.say:
            result.say.append(Reply(result.toast))
        _say(turn, staff, result, thread_id, message.message_id)


async def on_member_change(event: ChatMemberUpdated, staff: StaffRuntime) -> None:
    member = event.new_chat_member
    await staff.membership.changed(
        member.user.id, str(member.status), bool(getattr(member, "is_member", False))
    )


def create_router() -> Router:
    router = Router(name="staff")
    router.callback_query.register(on_button, staff_button)
    router.message.register(on_message, in_staff_chat)
    router.chat_member.register(on_member_change, staff_chat_member)
    return router
