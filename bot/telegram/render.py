"""Neutral replies in, Telegram Bot API calls out (built here, sent after the commit)."""

from __future__ import annotations

from typing import Any

from aiogram.methods import SendMessage, TelegramMethod
from aiogram.types import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
)

from domain.dialog.replies import Reply, Request

TEXT_LIMIT = 4096
# Telegram wants some text on a message that carries only a keyboard; an arrow needs no translation.
KEYBOARD_CARRIER = "⬇️"


def _fit(text: str) -> str:
    return text if len(text) <= TEXT_LIMIT else text[: TEXT_LIMIT - 1] + "…"


def _inline(reply: Reply) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [InlineKeyboardButton(text=b.label, callback_data=b.action.pack()) for b in row]
            for row in reply.buttons
        ]
    )


def _request_keyboard(reply: Reply) -> ReplyKeyboardMarkup:
    button = KeyboardButton(
        text=reply.request_label,
        request_contact=reply.request is Request.CONTACT or None,
        request_location=reply.request is Request.LOCATION or None,
    )
    return ReplyKeyboardMarkup(keyboard=[[button]], resize_keyboard=True, one_time_keyboard=True)


def render(chat_id: int, replies: list[Reply]) -> list[TelegramMethod[Any]]:
    """The calls that show `replies` in a private chat.

    A message has room for one keyboard: inline buttons (with stable action ids) or a reply
    keyboard (the only place for request_contact / request_location). A reply that needs both
    becomes two messages. A plain reply removes any request keyboard left from an earlier step.
    """
    calls: list[TelegramMethod[Any]] = []
    for reply in replies:
        text = _fit(reply.text)
        if reply.request is not None and reply.buttons:
            calls.append(SendMessage(chat_id=chat_id, text=text, reply_markup=_inline(reply)))
            calls.append(
                SendMessage(
                    chat_id=chat_id, text=KEYBOARD_CARRIER, reply_markup=_request_keyboard(reply)
                )
            )
        elif reply.request is not None:
            calls.append(
                SendMessage(chat_id=chat_id, text=text, reply_markup=_request_keyboard(reply))
            )
        elif reply.buttons:
            calls.append(SendMessage(chat_id=chat_id, text=text, reply_markup=_inline(reply)))
        else:
            calls.append(
                SendMessage(
                    chat_id=chat_id,
                    text=text,
                    reply_markup=ReplyKeyboardRemove(remove_keyboard=True),
                )
            )
    return calls
