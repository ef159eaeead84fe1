"""Telegram staff-chat handlers: card buttons, replies to cards, and staff commands.

They check who is acting, translate the event for the operators' desk, and turn its answer
into Telegram calls; all decisions are the desk's and the lifecycle's.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from aiogram import Bot, Router
from aiogram.exceptions import TelegramAPIError
from aiogram.fsm.context import FSMContext
from aiogram.methods import AnswerCallbackQuery
from aiogram.types import CallbackQuery, Message, User

from bot.telegram.middleware import TelegramTurn
from bot.telegram.render import render
from domain.actions import STAFF_ACTS, Action
from domain.clock import Clock
from domain.desk import Desk, DeskResult, Pending, operator
from domain.dialog.events import Channel, MediaKind
from domain.dialog.replies import Reply
from domain.entities import NewMedia
from domain.i18n import Translator, gettext
from domain.lifecycle import Lifecycle, LifecycleConfig
from fsm_states.appeal import state_id
from fsm_states.staff import StaffPending

logger = logging.getLogger(__name__)
_ = gettext

MEMBER_STATUSES = frozenset({"creator", "administrator", "member"})
MEMBERSHIP_TTL = 60.0

_PENDING_STATES = {
    Pending.DONE_PHOTO: state_id(StaffPending.done_photo),
    Pending.REJECT_REASON: state_id(StaffPending.reject_reason),
    Pending.DUPLICATE_OF: state_id(StaffPending.duplicate_of),
}
_STATE_PENDING = {value: key for key, value in _PENDING_STATES.items()}


@dataclass(slots=True)
class StaffRuntime:
    chat_id: int
    locale: str
    timezone: ZoneInfo
    translator: Translator
    clock: Clock
    lifecycle: LifecycleConfig
    # Membership answers are cached briefly: one getChatMember per operator per minute.
    _members: dict[int, tuple[bool, float]] = field(default_factory=dict)

    async def is_operator(self, bot: Bot, user_id: int) -> bool:
        cached = self._members.get(user_id)
        now = time.monotonic()
        if cached is not None and cached[1] > now:
            return cached[0]
        try:
            member = await bot.get_chat_member(self.chat_id, user_id)
            status = str(getattr(member, "status", ""))
            allowed = status in MEMBER_STATUSES or (
                status == "restricted" and bool(getattr(member, "is_member", False))
            )
        except TelegramAPIError:
            logger.warning("could not check staff membership of %d", user_id)
            return False
        self._members[user_id] = (allowed, now + MEMBERSHIP_TTL)
        return allowed

    def desk(self, turn: TelegramTurn) -> Desk:
        return Desk(Lifecycle(turn.uow, self.translator, self.clock, self.lifecycle), self.timezone)


def _staff_action(query: CallbackQuery) -> dict[str, Any] | bool:
    action = Action.parse(query.data)
    if action is None or action.act not in STAFF_ACTS:
        return False
    return {"action": action}


def _operator(user: User) -> Any:
    return operator(user.id, user.full_name)


def _photo(message: Message) -> NewMedia | None:
    if not message.photo:
        return None
    largest = message.photo[-1]
    return NewMedia(MediaKind.PHOTO, Channel.TELEGRAM, largest.file_id, largest.file_unique_id)


def _command(message: Message) -> tuple[str, str] | None:
    text = message.text or ""
    if not text.startswith("/"):
        return None
    head, _sep, rest = text[1:].partition(" ")
    return head.split("@", 1)[0].lower(), rest.strip()


def create_router(rt: StaffRuntime) -> Router:
    router = Router(name="staff")

    def say(turn: TelegramTurn, replies: list[Reply], thread_id: int | None, reply_to: int) -> None:
        turn.pending.add(
            *render(rt.chat_id, replies, private=False, thread_id=thread_id, reply_to=reply_to)
        )

    async def apply(result: DeskResult, state: FSMContext, appeal_id: int | None) -> None:
        if result.pending is not None and appeal_id is not None:
            await state.set_state(_PENDING_STATES[result.pending])
            await state.set_data({"appeal_id": appeal_id})
        elif result.clear_pending:
            await state.clear()

    @router.callback_query(_staff_action)
    async def on_button(
        query: CallbackQuery, action: Action, bot: Bot, state: FSMContext, turn: TelegramTurn
    ) -> None:
        message = query.message
        with rt.translator.use(rt.locale):
            if (
                message is None
                or message.chat.id != rt.chat_id
                or not await rt.is_operator(bot, query.from_user.id)
            ):
                turn.pending.add(
                    AnswerCallbackQuery(
                        callback_query_id=query.id,
                        text=_("Only operators of the contact centre can do this."),
                        show_alert=True,
                    )
                )
                return
            result = await rt.desk(turn).press(action.act, action.arg, _operator(query.from_user))
            await apply(result, state, action.int_arg())
            turn.pending.add(
                AnswerCallbackQuery(
                    callback_query_id=query.id, text=result.toast, show_alert=result.alert
                )
            )
            thread_id = getattr(message, "message_thread_id", None)
            say(turn, result.say, thread_id, message.message_id)

    @router.message(lambda message: message.chat.id == rt.chat_id)
    async def on_message(message: Message, bot: Bot, state: FSMContext, turn: TelegramTurn) -> None:
        user = message.from_user
        if user is None or user.is_bot:
            return
        command = _command(message)
        current = await state.get_state()
        replied = message.reply_to_message
        if command is None and current is None and replied is None:
            return  # operators talking among themselves
        with rt.translator.use(rt.locale):
            thread_id = message.message_thread_id
            if not await rt.is_operator(bot, user.id):
                refusal = Reply(_("Only operators of the contact centre can do this."))
                say(turn, [refusal], thread_id, message.message_id)
                return
            desk = rt.desk(turn)
            text = message.caption if message.photo else message.text
            result = DeskResult()
            appeal_id: int | None = None
            if command is not None:
                result = await desk.command(*command)
            elif current in _STATE_PENDING:
                data = await state.get_data()
                appeal_id = data.get("appeal_id")
                if isinstance(appeal_id, int):
                    result = await desk.complete(
                        _STATE_PENDING[current],
                        appeal_id,
                        _operator(user),
                        text=text,
                        photo=_photo(message),
                    )
            elif replied is not None:
                appeal_id = await turn.uow.staff.appeal_of(rt.chat_id, replied.message_id)
                if appeal_id is None:
                    return
                result = await desk.reply_to_card(
                    appeal_id, _operator(user), text=text, photo=_photo(message)
                )
            await apply(result, state, appeal_id)
            replies = list(result.say)
            if result.toast and not replies:
                replies.append(Reply(result.toast))
            say(turn, replies, thread_id, message.message_id)

    return router
