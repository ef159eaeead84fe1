"""The HTTP session aiogram talks to the Bot API with, minus two hot spots."""

from __future__ import annotations

from contextvars import ContextVar
from http import HTTPStatus
from typing import Any

from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.methods import Response, TelegramMethod
from aiogram.methods.base import TelegramType

# Set while sending a call whose answer nobody reads (a reply with nothing to do after it).
# Parsing the answer (a whole Message with its keyboard) into aiogram's types was the
# largest part of a call's cost under load; success is still told from the answer's status
# and its "ok", and a failure is parsed and raised as before.
answer_unread: ContextVar[bool] = ContextVar("answer_unread", default=False)


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
        if answer_unread.get() and HTTPStatus.OK <= status_code <= HTTPStatus.IM_USED:
            try:
                answer = self.json_loads(content)
            except ValueError:
                answer = None
            if isinstance(answer, dict) and answer.get("ok") is True:
                unread: Response[TelegramType] = self._response_types[returning].model_construct(
                    ok=True, result=None
                )
                return unread
        return super().check_response(bot, method, status_code, content)
