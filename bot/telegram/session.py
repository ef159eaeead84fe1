"""The HTTP session aiogram talks to the Bot API with, minus two hot spots."""

from __future__ import annotations

import dataclasses
import json
import re
from contextvars import ContextVar
from http import HTTPStatus
from typing import Any, cast

from aiogram import Bot
from aiogram.client.default import Default
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.exceptions import TelegramNetworkError
from aiogram.methods import Response, TelegramMethod
from aiogram.methods.base import TelegramType
from aiohttp import ClientError, ClientTimeout

from bot.telegram.calls import ApiCall, Call, as_method, method_name

# Set while sending a call whose answer nobody reads (a reply with nothing to do after it).
# Parsing the answer (a whole Message with its keyboard) into aiogram's types was the
# largest part of a call's cost under load; success is still told from the answer's status
# and its "ok", and a failure is parsed and raised as before.
answer_unread: ContextVar[bool] = ContextVar("answer_unread", default=False)


_JSON = {"Content-Type": "application/json"}
# A successful answer's opening, however the server spaces it.
_OK = re.compile(r'\s*\{\s*"ok"\s*:\s*true\s*[,}]')


def _uses_defaults(bot: Bot) -> bool:
    """Whether the bot sets any default (parse mode and the like) that calls fill in."""
    default = bot.default
    return any(getattr(default, field.name) is not None for field in dataclasses.fields(default))


_NESTED = (dict, list)


def _without_defaults(value: Any) -> Any:
    """A dumped call less its `Default` markers, at any depth (an album's media has them)."""
    if type(value) is dict:
        return {
            key: _without_defaults(item) if type(item) in _NESTED else item
            for key, item in value.items()
            if type(item) is not Default
        }
    if type(value) is list:
        return [_without_defaults(item) if type(item) in _NESTED else item for item in value]
    return value


class BotApiSession(AiohttpSession):
    """aiogram parses every answer with `Response[method.__returning__]`; pydantic keeps such
    parametrised models only weakly, so each call used to build the model class anew (a
    sizeable share of the bot's CPU under load). Holding one per result type avoids that."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._response_types: dict[Any, type[Response[Any]]] = {}
        # Per bot: whether it sets defaults that calls fill in (then calls go as forms).
        self._defaults: dict[int, bool] = {}

    async def make_request(
        self,
        bot: Bot,
        method: TelegramMethod[TelegramType],
        timeout: int | None = None,  # noqa: ASYNC109 (aiogram's signature)
    ) -> TelegramType:
        """A call whose answer nobody reads goes as one JSON body (the Bot API takes both):
        aiogram's form encoding (every field prepared and JSON-encoded on its own, then the
        form urlencoded) was the largest part of a reply's cost after the answer's parsing."""
        body = self.json_body(bot, method) if answer_unread.get() else None
        if body is None:
            return await super().make_request(bot, method, timeout)
        status, content = await self._post(bot, method, body, timeout)
        response = self.check_response(bot, method, status, content)
        return cast(TelegramType, response.result)

    async def post_json(self, bot: Bot, call: ApiCall) -> None:
        """Send a call already in its wire form, whose answer nobody reads: its parameters are
        the body as they are, with no aiogram method built on the way (that cost more than
        the request). A refusal raises aiogram's exception, as `make_request` does."""
        body = json.dumps(call.params, ensure_ascii=False).encode()
        status, content = await self._post(bot, call, body, None)
        if not self._answered_ok(status, content):
            # Only a refusal needs aiogram's method: its exceptions carry one.
            self.check_response(bot, call.to_method(), status, content)

    async def _post(
        self,
        bot: Bot,
        call: Call,
        body: bytes,
        seconds: int | None,
    ) -> tuple[int, str]:
        """POST one JSON body to the call's method (within `seconds`, else the session's
        timeout); the answer's status and text."""
        session = await self.create_session()
        url = self.api.api_url(token=bot.token, method=method_name(call))
        try:
            async with session.post(
                url,
                data=body,
                headers=_JSON,
                timeout=ClientTimeout(total=self.timeout if seconds is None else seconds),
            ) as answer:
                return answer.status, await answer.text()
        except TimeoutError as exc:
            raise TelegramNetworkError(
                method=as_method(call), message="Request timeout error"
            ) from exc
        except ClientError as exc:
            message = f"{type(exc).__name__}: {exc}"
            raise TelegramNetworkError(method=as_method(call), message=message) from exc

    def json_body(
        self, bot: Bot, method: TelegramMethod[Any], head: dict[str, Any] | None = None
    ) -> bytes | None:
        """The call's parameters (after `head`) as one JSON object, as the Bot API takes them
        both in a request and in a webhook's answer; None when it must go as aiogram sends it:
        a file to upload (multipart), or defaults the bot sets that calls fill in."""
        if self.sets_defaults(bot):
            return None
        # aiogram's `Default` markers stand for the bot's defaults, which this bot leaves unset.
        params = _without_defaults(method.model_dump(warnings=False, exclude_none=True))
        try:
            return json.dumps({**(head or {}), **params}, ensure_ascii=False).encode()
        except TypeError:  # a file to upload
            return None

    def sets_defaults(self, bot: Bot) -> bool:
        """Whether the bot sets defaults that calls fill in (then aiogram must build them)."""
        if bot.id not in self._defaults:
            self._defaults[bot.id] = _uses_defaults(bot)
        return self._defaults[bot.id]

    def check_response(
        self, bot: Bot, method: TelegramMethod[TelegramType], status_code: int, content: str
    ) -> Response[TelegramType]:
        returning = method.__returning__
        if returning not in self._response_types:
            self._response_types[returning] = Response[returning]  # type: ignore[valid-type]
        if answer_unread.get() and self._answered_ok(status_code, content):
            unread: Response[TelegramType] = self._response_types[returning].model_construct(
                ok=True, result=None
            )
            return unread
        return super().check_response(bot, method, status_code, content)

    def _answered_ok(self, status_code: int, content: str) -> bool:
        """Whether the Bot API took the call, told from the answer's status and its "ok":
        the rest (a whole Message) is not read."""
        if not HTTPStatus.OK <= status_code <= HTTPStatus.IM_USED:
            return False
        if _OK.match(content):
            return True
        try:
            answer = self.json_loads(content)
        except ValueError:
            return False
        return isinstance(answer, dict) and answer.get("ok") is True


async def call_api(bot: Bot, call: Call) -> Any:
    """Make one call. One in its wire form whose answer nobody reads (`answer_unread`) goes
    straight to the session as its JSON body, past `Bot.__call__` and its pydantic work;
    otherwise it becomes aiogram's method: the answer is read as aiogram's types, or the
    bot's defaults must be filled in, or the session is not this one."""
    if not isinstance(call, ApiCall):
        return await bot(call)
    session = bot.session
    if (
        answer_unread.get()
        and isinstance(session, BotApiSession)
        and not session.sets_defaults(bot)
    ):
        return await session.post_json(bot, call)
    return await bot(call.to_method())
