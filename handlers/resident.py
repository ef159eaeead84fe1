"""Telegram resident handlers: translate private-chat events in, and nothing else."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.enums import ChatType
from aiogram.fsm.context import FSMContext
from aiogram.methods import AnswerCallbackQuery
from aiogram.types import CallbackQuery, Message

from bot.telegram.filters import Magic
from bot.telegram.inbound import from_callback, from_message
from bot.telegram.middleware import TelegramTurn


async def on_message(message: Message, state: FSMContext, turn: TelegramTurn) -> None:
    await turn.run(from_message(message), message.chat.id, state)


async def on_button(query: CallbackQuery, state: FSMContext, turn: TelegramTurn) -> None:
    # Stop the button's spinner first; the dialog's answer follows as messages.
    turn.pending.add(AnswerCallbackQuery(callback_query_id=query.id))
    origin = query.message.message_id if query.message is not None else None
    await turn.run(from_callback(query), query.from_user.id, state, origin)


def create_router() -> Router:
    router = Router(name="resident")
    router.message.filter(Magic(F.chat.type == ChatType.PRIVATE), Magic(F.from_user))
    router.callback_query.filter(Magic(F.message.chat.type == ChatType.PRIVATE))
    router.message.register(on_message)
    router.callback_query.register(on_button)
    return router
