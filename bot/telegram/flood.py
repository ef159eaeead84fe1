"""Telegram side of flood control (bot.flood): residents' private chats only."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware, Bot
from aiogram.methods import AnswerCallbackQuery, SendMessage
from aiogram.types import Chat, TelegramObject, Update, User

from bot.flood import FloodGuard, Verdict, too_fast
from bot.telegram.delivery import send
from domain.i18n import Translator
from storage.fsm_redis import OverLimit, count_at_lock

logger = logging.getLogger(__name__)


class FloodMiddleware(BaseMiddleware):
    """Outer middleware, before the resident's lock and the unit of work: a flooding resident
    costs neither a transaction nor a held webhook connection. Where counted in Redis, the
    count is taken by the lock's own round trip, which then refuses the lock."""

    def __init__(self, guard: FloodGuard, translator: Translator) -> None:
        self._guard = guard
        self._translator = translator

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        user = data.get("event_from_user")
        chat = data.get("event_chat")
        if not isinstance(event, Update) or not isinstance(user, User):
            return await handler(event, data)
        if isinstance(chat, Chat) and chat.type != "private":
            return await handler(event, data)
        count = self._guard.at_lock(f"tg:{user.id}")
        if count is None:
            verdict = await self._guard.check(f"tg:{user.id}")
            if verdict is Verdict.ALLOW:
                return await handler(event, data)
        else:
            # Counted by the resident's chat lock, in the round trip that takes it: over the
            # limit, the lock is not taken and says so.
            with count_at_lock(count):
                try:
                    return await handler(event, data)
                except OverLimit as over:
                    verdict = self._guard.verdict(over.count)
        logger.info("update %d from a flooding user: %s", event.update_id, verdict)
        if verdict is Verdict.WARN:
            bot: Bot = data["bot"]
            with self._translator.use(user.language_code):
                text = too_fast()
            if event.callback_query is not None:
                await send(
                    bot, AnswerCallbackQuery(callback_query_id=event.callback_query.id, text=text)
                )
            else:
                await send(bot, SendMessage(chat_id=user.id, text=text))
        return None
