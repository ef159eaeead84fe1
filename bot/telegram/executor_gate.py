"""Checks membership of a department's executors' chat before the update's unit of work begins
(as bot.telegram.staff_gate does for the staff chat, and for the same reason: a Telegram call
never runs inside a transaction).

Only a member of the chat a press or a reply comes from may act there; which department that
chat belongs to, and whether the department holds the appeal, the executors' desk decides.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware, Bot
from aiogram.types import Message, TelegramObject, Update

from bot.telegram.membership import StaffMembership
from bot.telegram.staff_gate import Verdict
from domain.actions import EXECUTOR_ACTS, Action

EXECUTOR_MEMBER_KEY = "executor_member"


def _asks(update: Update, chats: dict[int, StaffMembership], bot_id: int) -> tuple[int, int] | None:
    """(chat, user) whose membership this update needs, if it is an executor's action."""
    query = update.callback_query
    if query is not None:
        action = Action.parse(query.data)
        if action is None or action.act not in EXECUTOR_ACTS:
            return None
        chat_id = query.message.chat.id if query.message is not None else 0
        return chat_id, query.from_user.id
    message = update.message
    if message is None or message.chat.id not in chats or message.from_user is None:
        return None
    if message.from_user.is_bot:
        return None
    if (message.text or "").startswith("/") or _replies_to_bot(message, bot_id):
        return message.chat.id, message.from_user.id
    return None  # executors talking among themselves


def _replies_to_bot(message: Message, bot_id: int) -> bool:
    replied = message.reply_to_message
    return replied is not None and replied.from_user is not None and replied.from_user.id == bot_id


class ExecutorGateMiddleware(BaseMiddleware):
    def __init__(self, chats: dict[int, StaffMembership]) -> None:
        self._chats = chats

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        data[EXECUTOR_MEMBER_KEY] = Verdict.NOT_ASKED
        if isinstance(event, Update):
            bot: Bot = data["bot"]
            asked = _asks(event, self._chats, bot.id)
            if asked is not None:
                chat_id, user_id = asked
                membership = self._chats.get(chat_id)
                member = await membership.check(bot, user_id) if membership else False
                data[EXECUTOR_MEMBER_KEY] = (
                    Verdict.UNKNOWN
                    if member is None
                    else Verdict.OPERATOR
                    if member
                    else Verdict.STRANGER
                )
        return await handler(event, data)
