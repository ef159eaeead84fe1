"""The Bot API session: a reply whose answer nobody reads goes as one JSON body without
aiogram's `Default` markers; anything else goes as aiogram sends it."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiogram import Bot
from aiogram.client.default import DefaultBotProperties
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import TelegramBadRequest
from aiogram.methods import SendMediaGroup, SendMessage, SendPhoto
from aiogram.types import (
    BufferedInputFile,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputMediaPhoto,
)
from aiohttp import web

from bot.telegram.calls import ApiCall
from bot.telegram.delivery import PendingCalls
from bot.telegram.session import BotApiSession, answer_unread

MESSAGE = {"message_id": 7, "date": 0, "chat": {"id": 42, "type": "private"}, "text": "x"}


class Recorder:
    def __init__(self) -> None:
        self.requests: list[tuple[str, str, bytes]] = []
        self.refuse = False

    async def handle(self, request: web.Request) -> web.Response:
        self.requests.append((request.path, request.content_type, await request.read()))
        if self.refuse:
            answer = {"ok": False, "error_code": 400, "description": "Bad Request: chat not found"}
            return web.json_response(answer, status=400)
        result: Any = [MESSAGE] if request.path.endswith("sendMediaGroup") else MESSAGE
        return web.json_response({"ok": True, "result": result})


@pytest.fixture
async def served() -> AsyncIterator[tuple[Bot, Recorder]]:
    recorder = Recorder()
    app = web.Application()
    app.router.add_post("/{tail:.*}", recorder.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    session = BotApiSession(api=TelegramAPIServer.from_base(f"http://127.0.0.1:{port}"))
    bot = Bot("123456:secret", session=session)
    try:
        yield bot, recorder
    finally:
        await session.close()
        await runner.cleanup()


async def _unread(bot: Bot, call: Any) -> Any:
    token = answer_unread.set(True)
    try:
        return await bot(call)
    finally:
        answer_unread.reset(token)


async def test_an_unread_reply_goes_as_json_without_default_markers(
    served: tuple[Bot, Recorder],
) -> None:
    bot, recorder = served
    keyboard = InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text="Дороги", callback_data="cat:roads")]]
    )
    await _unread(bot, SendMessage(chat_id=42, text="Оберіть категорію", reply_markup=keyboard))
    first, second = InputMediaPhoto(media="file-1", caption="Фото"), InputMediaPhoto(media="file-2")
    await _unread(bot, SendMediaGroup(chat_id=42, media=[first, second]))
    (path, kind, body), (album_path, album_kind, album_body) = recorder.requests
    assert (path, kind) == ("/bot123456:secret/sendMessage", "application/json")
    assert json.loads(body) == {
        "chat_id": 42,
        "text": "Оберіть категорію",
        "reply_markup": {"inline_keyboard": [[{"text": "Дороги", "callback_data": "cat:roads"}]]},
    }
    assert (album_path, album_kind) == ("/bot123456:secret/sendMediaGroup", "application/json")
    # An album's media keep their type, and lose their parse-mode markers.
    assert json.loads(album_body) == {
        "chat_id": 42,
        "media": [
            {"type": "photo", "media": "file-1", "caption": "Фото"},
            {"type": "photo", "media": "file-2"},
        ],
    }


async def test_a_read_answer_or_an_upload_goes_as_aiogram_sends_it(
    served: tuple[Bot, Recorder],
) -> None:
    bot, recorder = served
    sent = await bot(SendMessage(chat_id=42, text="read"))
    assert sent.message_id == 7  # parsed, as the caller reads it
    photo = BufferedInputFile(b"\xff\xd8 not really a jpeg", filename="pothole.jpg")
    await _unread(bot, SendPhoto(chat_id=42, photo=photo))
    kinds = [kind for _path, kind, _body in recorder.requests]
    assert kinds == ["application/x-www-form-urlencoded", "multipart/form-data"]


async def test_a_refused_unread_reply_raises_as_before(served: tuple[Bot, Recorder]) -> None:
    bot, recorder = served
    recorder.refuse = True
    with pytest.raises(TelegramBadRequest, match="chat not found"):
        await _unread(bot, SendMessage(chat_id=42, text="x"))
    assert recorder.requests[0][1] == "application/json"


async def test_a_call_in_its_wire_form_goes_as_its_params_past_aiogram(
    served: tuple[Bot, Recorder],
) -> None:
    bot, recorder = served
    through_aiogram: list[str] = []

    async def seen(make_request: Any, bot: Bot, method: Any) -> Any:
        through_aiogram.append(method.__api_method__)
        return await make_request(bot, method)

    bot.session.middleware(seen)
    keyboard = {"inline_keyboard": [[{"text": "Дороги", "callback_data": "cat:roads"}]]}
    params = {"chat_id": 42, "text": "Оберіть категорію", "reply_markup": keyboard}
    read: list[Any] = []

    async def then(message: Any) -> None:
        read.append(message)

    pending = PendingCalls()
    pending.add(ApiCall("sendMessage", params))
    pending.add_then(ApiCall("sendMessage", params), then)
    await pending.flush(bot)
    (path, kind, body), (_path, read_kind, _body) = recorder.requests
    assert (path, kind) == ("/bot123456:secret/sendMessage", "application/json")
    assert json.loads(body) == params
    # An answer someone reads is parsed by aiogram, so its method goes through aiogram.
    assert through_aiogram == ["sendMessage"]
    assert read_kind == "application/x-www-form-urlencoded"
    assert [message.message_id for message in read] == [7]


async def test_a_bot_with_defaults_has_them_filled_into_calls_in_their_wire_form(
    served: tuple[Bot, Recorder],
) -> None:
    served_bot, recorder = served
    bot = Bot(
        served_bot.token,
        session=served_bot.session,
        default=DefaultBotProperties(parse_mode="HTML"),
    )
    pending = PendingCalls()
    pending.add(ApiCall("sendMessage", {"chat_id": 42, "text": "<b>x</b>"}))
    await pending.flush(bot)
    ((_path, kind, body),) = recorder.requests
    assert kind == "application/x-www-form-urlencoded"
    assert b"parse_mode=HTML" in body
