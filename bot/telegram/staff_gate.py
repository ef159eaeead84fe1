"""Checks staff membership before the update's unit of work begins.

On SQLite one transaction runs at a time, so a slow `getChatMember` inside it would hold every
resident's update; here it runs first, with its own short timeout, and the handler finds the
answer in `staff_member` (True, False, or None when it could not be told).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from enum import StrEnum
from typing import Any

from aiogram import BaseMiddleware, Bot
from aiogram.types import Message, TelegramObject, Update

from bot.telegram.membership import StaffMembership
from domain.actions import STAFF_ACTS, Action

STAFF_MEMBER_KEY = "staff_member"


class Verdict(StrEnum):
    OPERATOR = "operator"
    STRANGER = "stranger"
    # Telegram did not answer in time: refuse, and say to try again.
    UNKNOWN = "unknown"
    # Not a staff action: nobody was asked.
    NOT_ASKED = "not_asked"


def _asks_staff(update: Update, chat_id: int, bot_id: int) -> int | None:
    """The user whose membership this update needs, if it is a staff action."""
    query = update.callback_query
    if query is not None:
        action = Action.parse(query.data)
        return query.from_user.id if action is not None and action.act in STAFF_ACTS else None
    message = update.message
    if message is None or message.chat.id != chat_id or message.from_user is None:
        return None
    if message.from_user.is_bot:
        return None
    if _is_command(message) or _replies_to_bot(message, bot_id):
        return message.from_user.id
    return None  # operators talking among themselves: nobody is asked anything


def _is_command(message: Message) -> bool:
    return (message.text or "").startswith("/")


def _replies_to_bot(message: Message, bot_id: int) -> bool:
    replied = message.reply_to_message
    return replied is not None and replied.from_user is not None and replied.from_user.id == bot_id


class StaffGateMiddleware(BaseMiddleware):
    def __init__(self, membership: StaffMembership) -> None:
        self._membership = membership

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        data[STAFF_MEMBER_KEY] = Verdict.NOT_ASKED
        if isinstance(event, Update):
            bot: Bot = data["bot"]
            user_id = _asks_staff(event, self._membership.chat_id, bot.id)
            if user_id is not None:
                member = await self._membership.check(bot, user_id)
                data[STAFF_MEMBER_KEY] = (
                    Verdict.UNKNOWN
                    if member is None
                    else Verdict.OPERATOR
                    if member
                    else Verdict.STRANGER
                )
        return await handler(event, data)
