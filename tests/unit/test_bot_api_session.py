"""The Bot API session: a reply whose answer nobody reads goes as one JSON body without
aiogram's `Default` markers; anything else goes as aiogram sends it."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiogram import Bot
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
