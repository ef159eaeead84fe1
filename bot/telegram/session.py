"""The HTTP session aiogram talks to the Bot API with, minus one hot spot."""

from __future__ import annotations

from typing import Any

from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.methods import Response, TelegramMethod
from aiogram.methods.base import TelegramType


class BotApiSession(AiohttpSession):
    """aiogram parses every answer with `Response[method.__returning__]`; pydantic keeps such
    parametrised models only weakly, so each call used to build the model class anew (a
    sizeable share of the bot's CPU under load). Holding one per result type avoids that."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._response_types: dict[Any, type[Response[Any]]] = {}

    def check_response(
        self, bot: Bot, method: TelegramMethod[TelegramType], status_code: int, content: str
    ) -> Response[TelegramType]:
        returning = method.__returning__
        if returning not in self._response_types:
            self._response_types[returning] = Response[returning]  # type: ignore[valid-type]
        return super().check_response(bot, method, status_code, content)
