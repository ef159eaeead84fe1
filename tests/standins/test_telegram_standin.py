"""The stand-in Telegram server, exercised through a real aiogram Bot."""

from __future__ import annotations

import asyncio
import contextlib
import io
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiogram import Bot, Dispatcher, F, Router
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramConflictError,
    TelegramEntityTooLarge,
    TelegramForbiddenError,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiogram.methods import SendMessage
from aiogram.types import (
    BotCommand,
    BufferedInputFile,
    CallbackQuery,
    ChatMemberAdministrator,
    ChatMemberLeft,
    ChatMemberMember,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputMediaPhoto,
    InputMediaVideo,
    KeyboardButton,
    Message,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    Update,
)
from aiogram.webhook.aiohttp_server import SimpleRequestHandler
from aiohttp import ClientSession, web
from aiohttp.test_utils import TestServer

from standins.telegram import TelegramStandIn

RESIDENT_ID = 1001
STAFF_CHAT_ID = -1001234567890


def make_bot(telegram: TelegramStandIn, token: str | None = None) -> Bot:
    session = AiohttpSession(api=TelegramAPIServer.from_base(telegram.base_url))
    return Bot(token or telegram.token, session=session)


@pytest.fixture
async def telegram() -> AsyncIterator[TelegramStandIn]:
    async with TelegramStandIn() as standin:
        yield standin


@pytest.fixture
async def bot(telegram: TelegramStandIn) -> AsyncIterator[Bot]:
    bot = make_bot(telegram)
    yield bot
    await bot.session.close()


class Received:
    """Updates a manual poller got; the client parses a response a moment after the
    stand-in handed it out, so tests wait for the count they expect."""

    def __init__(self) -> None:
        self.updates: list[Update] = []
        self._changed = asyncio.Condition()

    async def add(self, update: Update) -> None:
        async with self._changed:
            self.updates.append(update)
            self._changed.notify_all()

    async def at_least(self, count: int) -> list[Update]:
        async with asyncio.timeout(5), self._changed:
            await self._changed.wait_for(lambda: len(self.updates) >= count)
        return self.updates


@contextlib.asynccontextmanager
async def manual_polling(bot: Bot) -> AsyncIterator[Received]:
    """Poll getUpdates in the background (no dispatcher), collecting the updates."""
    received = Received()

    async def poll() -> None:
        offset: int | None = None
        while True:
            for update in await bot.get_updates(offset=offset, timeout=5):
                await received.add(update)
                offset = update.update_id + 1

    task = asyncio.create_task(poll())
    try:
        yield received
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def echo_router() -> Router:
    """A tiny bot: echoes text, answers button presses."""
    router = Router()

    @router.message(F.text)
    async def echo(message: Message) -> None:
        await message.answer(f"echo: {message.text}")

    @router.callback_query()
    async def pressed(query: CallbackQuery) -> None:
        await query.answer(f"got {query.data}")

    return router


VOTE_KEYBOARD = InlineKeyboardMarkup(
    inline_keyboard=[
        [
            InlineKeyboardButton(text="Yes", callback_data="vote:yes"),
            InlineKeyboardButton(text="No", callback_data="vote:no"),
        ],
        [InlineKeyboardButton(text="Site", url="https://example.org")],
    ]
)


async def test_get_me_describes_the_bot(telegram: TelegramStandIn, bot: Bot) -> None:
    me = await bot.get_me()

    assert me.id == telegram.bot_id == 123456
    assert me.is_bot
    assert me.username == "city1580_bot"
    assert [call.ok for call in telegram.calls_of("getMe")] == [True]


async def test_send_message_records_keyboard_and_renders_html(
    telegram: TelegramStandIn, bot: Bot
) -> None:
    telegram.user(RESIDENT_ID, first_name="Olena")

    message = await bot.send_message(
        RESIDENT_ID,
        "<b>Appeal</b> &amp; reply <code>#12</code>",
        parse_mode="HTML",
        reply_markup=VOTE_KEYBOARD,
    )

    assert message.text == "Appeal & reply #12"
    assert [(e.type, e.offset, e.length) for e in message.entities or []] == [
        ("bold", 0, 6),
        ("code", 15, 3),
    ]
    assert message.from_user is not None
    assert message.from_user.id == telegram.bot_id
    assert isinstance(message.reply_markup, InlineKeyboardMarkup)
    assert message.reply_markup.inline_keyboard[0][1].callback_data == "vote:no"
    sent = telegram.last_message(RESIDENT_ID)
    assert (sent.kind, sent.text, sent.message_id) == ("text", "Appeal & reply #12", 1)
    assert sent.buttons() == [("Yes", "vote:yes"), ("No", "vote:no")]
    # Parameters are decoded by name: the chat id is an int, the keyboard a dict.
    [call] = telegram.calls_of("sendMessage")
    assert call.params["chat_id"] == RESIDENT_ID
    assert call.params["parse_mode"] == "HTML"
    assert call.params["reply_markup"]["inline_keyboard"][0][0] == {
        "text": "Yes",
        "callback_data": "vote:yes",
    }


async def test_reply_keyboards_are_in_the_transcript_but_not_in_messages(
    telegram: TelegramStandIn, bot: Bot
) -> None:
    telegram.user(RESIDENT_ID)
    share = ReplyKeyboardMarkup(
        keyboard=[[KeyboardButton(text="Share phone", request_contact=True)]],
        resize_keyboard=True,
    )

    first = await bot.send_message(RESIDENT_ID, "Your phone?", reply_markup=share)
    await bot.send_message(RESIDENT_ID, "Thanks", reply_markup=ReplyKeyboardRemove())

    assert first.reply_markup is None  # Telegram only echoes inline keyboards
    asked, thanked = telegram.messages(RESIDENT_ID)
    assert asked.keyboard() == [{"text": "Share phone", "request_contact": True}]
    assert not asked.removes_keyboard
    assert thanked.removes_keyboard
    assert thanked.keyboard() == []


async def test_validation_errors_use_telegram_wording(telegram: TelegramStandIn, bot: Bot) -> None:
    telegram.user(RESIDENT_ID)
    cases: list[tuple[Any, str]] = [
        (bot.send_message(RESIDENT_ID, "x" * 4097), "message is too long"),
        # aiogram drops empty strings from the form: the server sees no text at all.
        (bot.send_message(RESIDENT_ID, ""), "message text is empty"),
        (bot.send_message(RESIDENT_ID, "  \n "), "message text is empty"),
        (bot.send_message(424242, "hi"), "chat not found"),
        (
            bot.send_message(
                RESIDENT_ID,
                "pick",
                reply_markup=InlineKeyboardMarkup(
                    inline_keyboard=[[InlineKeyboardButton(text="x", callback_data="d" * 65)]]
                ),
            ),
            "BUTTON_DATA_INVALID",
        ),
        (
            bot.send_photo(
                RESIDENT_ID, BufferedInputFile(b"jpeg", filename="p.jpg"), caption="c" * 1025
            ),
            "message caption is too long",
        ),
        (
            bot.send_message(RESIDENT_ID, "line<br>break", parse_mode="HTML"),
            'can\'t parse entities: Unsupported start tag "br" at byte offset 4',
        ),
        (
            bot.send_message(RESIDENT_ID, "<b>bold<i>mixed</b></i>", parse_mode="HTML"),
            'Unmatched end tag at byte offset 15, expected "</i>", found "</b>"',
        ),
        (bot.edit_message_text("new", chat_id=RESIDENT_ID, message_id=99), "to edit not found"),
        (bot.answer_callback_query("123"), "query is too old"),
        (bot.send_photo(RESIDENT_ID, "no-such-file-id"), "wrong file identifier"),
    ]

    for request, expected in cases:
        with pytest.raises(TelegramBadRequest) as caught:
            await request
        assert expected in caught.value.message

    assert not telegram.messages(RESIDENT_ID)
    assert all(not call.ok for call in telegram.calls)


async def test_injected_faults_raise_aiogram_exceptions(
    telegram: TelegramStandIn, bot: Bot
) -> None:
    telegram.user(RESIDENT_ID)
    telegram.fail("sendMessage", status=429, retry_after=7)
    telegram.fail("sendmessage", status=500)

    with pytest.raises(TelegramRetryAfter) as rate_limited:
        await bot.send_message(RESIDENT_ID, "one")
    with pytest.raises(TelegramServerError):
        await bot.send_message(RESIDENT_ID, "two")
    sent = await bot.send_message(RESIDENT_ID, "three")

    assert rate_limited.value.retry_after == 7
    assert "retry after 7" in rate_limited.value.message
    assert sent.text == "three"
    assert [m.text for m in telegram.messages(RESIDENT_ID)] == ["three"]
    assert [c.ok for c in telegram.calls_of("sendMessage")] == [False, False, True]

    telegram.blocked_users.add(RESIDENT_ID)
    with pytest.raises(TelegramForbiddenError, match="bot was blocked by the user"):
        await bot.send_message(RESIDENT_ID, "four")

    with pytest.raises(ValueError, match="does not serve"):
        telegram.fail("sendTelepathy")


async def test_wrong_token_and_unknown_method(telegram: TelegramStandIn) -> None:
    impostor = make_bot(telegram, token="654321:wrong")
    try:
        with pytest.raises(TelegramUnauthorizedError):
            await impostor.get_me()
    finally:
        await impostor.session.close()

    async with (
        ClientSession() as http,
        http.post(f"{telegram.base_url}/bot{telegram.token}/sendTelepathy") as response,
    ):
        assert response.status == 404
        assert await response.json() == {
            "ok": False,
            "error_code": 404,
            "description": "Not Found",
        }


async def test_media_group_uploads_are_recorded_and_downloadable(
    telegram: TelegramStandIn, bot: Bot
) -> None:
    telegram.user(RESIDENT_ID)
    photo_bytes = b"\xff\xd8\xff\xe0 first photo"

    album = await bot.send_media_group(
        RESIDENT_ID,
        media=[
            InputMediaPhoto(
                media=BufferedInputFile(photo_bytes, filename="a.jpg"),
                caption="<i>Pothole</i>",
                parse_mode="HTML",
            ),
            InputMediaVideo(media=BufferedInputFile(b"mp4 data", filename="b.mp4")),
        ],
    )

    assert len(album) == 2
    assert album[0].media_group_id is not None
    assert album[0].media_group_id == album[1].media_group_id
    assert album[0].caption == "Pothole"
    assert album[0].photo is not None
    assert len(album[0].photo) == 3
    assert album[1].video is not None
    first, second = telegram.messages(RESIDENT_ID)
    assert (first.kind, first.media_kind, first.text) == ("media_group_item", "photo", "Pothole")
    assert first.media == {"upload": "a.jpg", "size": len(photo_bytes)}
    assert (second.media_kind, second.media) == ("video", {"upload": "b.mp4", "size": 8})
    [call] = telegram.calls_of("sendMediaGroup")
    assert call.params["media"][0]["media"] == {"upload": "a.jpg", "size": len(photo_bytes)}

    # The largest size is the upload itself; getFile + download serve its bytes.
    downloaded = await bot.download(album[0].photo[-1].file_id)
    assert isinstance(downloaded, io.BytesIO)
    assert downloaded.getvalue() == photo_bytes

    # Re-sending by file_id works and keeps the file; the wrong kind is refused.
    again = await bot.send_photo(RESIDENT_ID, album[0].photo[-1].file_id)
    assert again.photo is not None
    assert again.photo[-1].file_id == album[0].photo[-1].file_id
    with pytest.raises(TelegramBadRequest, match="can't use file of type Video as Photo"):
        await bot.send_photo(RESIDENT_ID, album[1].video.file_id)

    with pytest.raises(TelegramBadRequest, match="too many messages to send as an album"):
        await bot.send_media_group(
            RESIDENT_ID, media=[InputMediaPhoto(media=again.photo[-1].file_id)] * 11
        )


async def test_edits_and_deletions_update_the_transcript(
    telegram: TelegramStandIn, bot: Bot
) -> None:
    telegram.user(RESIDENT_ID)
    message = await bot.send_message(RESIDENT_ID, "Choose", reply_markup=VOTE_KEYBOARD)

    edited = await bot.edit_message_text(
        "Thanks, vote counted", chat_id=RESIDENT_ID, message_id=message.message_id
    )

    assert isinstance(edited, Message)
    assert edited.edit_date is not None
    assert edited.reply_markup is None  # leaving reply_markup out removes the keyboard
    [sent] = telegram.messages(RESIDENT_ID)
    assert (sent.text, sent.edited, sent.buttons()) == ("Thanks, vote counted", True, [])
    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await bot.edit_message_text(
            "Thanks, vote counted", chat_id=RESIDENT_ID, message_id=message.message_id
        )

    await bot.edit_message_reply_markup(
        chat_id=RESIDENT_ID, message_id=message.message_id, reply_markup=VOTE_KEYBOARD
    )
    assert sent.buttons() == [("Yes", "vote:yes"), ("No", "vote:no")]

    assert await bot.delete_message(RESIDENT_ID, message.message_id)
    assert sent.deleted
    with pytest.raises(TelegramBadRequest, match="message to delete not found"):
        await bot.delete_message(RESIDENT_ID, message.message_id)
    with pytest.raises(TelegramBadRequest, match="message to edit not found"):
        await bot.edit_message_text("late", chat_id=RESIDENT_ID, message_id=message.message_id)


async def test_manual_polling_offsets_and_forged_callback_data(
    telegram: TelegramStandIn, bot: Bot
) -> None:
    resident = telegram.user(RESIDENT_ID, first_name="Olena", username="olena")
    sent = await bot.send_message(RESIDENT_ID, "Vote", reply_markup=VOTE_KEYBOARD)
    [transcript_entry] = telegram.messages(RESIDENT_ID)

    # Long poll returns as soon as an update arrives; deliver() returns once fetched.
    polling = asyncio.create_task(bot.get_updates(timeout=5))
    delivery = await telegram.send_text(resident, "/start now")
    [update] = await polling

    assert delivery.status is None and delivery.delivered
    assert update.update_id == delivery.update_id
    assert update.message is not None
    assert update.message.text == "/start now"
    assert update.message.chat.type == "private"
    assert update.message.from_user is not None
    assert update.message.from_user.username == "olena"
    assert [(e.type, e.offset, e.length) for e in update.message.entities or []] == [
        ("bot_command", 0, 6)
    ]

    # Unconfirmed updates come again; a higher offset confirms them.
    [again] = await bot.get_updates(timeout=0)
    assert again.update_id == update.update_id
    assert await bot.get_updates(offset=update.update_id + 1, timeout=0) == []
    await telegram.wait_until_confirmed(update.update_id, timeout=1)

    with pytest.raises(ValueError, match="no inline button"):
        await telegram.press_button(resident, transcript_entry, "vote:maybe")

    polling = asyncio.create_task(bot.get_updates(offset=update.update_id + 1, timeout=5))
    press = await telegram.press_button(resident, transcript_entry, "admin:delete", check=False)
    [callback_update] = await polling

    query = callback_update.callback_query
    assert query is not None
    assert query.data == "admin:delete"
    assert isinstance(query.message, Message)
    assert query.message.message_id == sent.message_id
    assert press.update["callback_query"]["id"] == query.id
    assert await bot.answer_callback_query(query.id, text="Nope", show_alert=True)
    assert telegram.callback_answers[query.id]["text"] == "Nope"
    with pytest.raises(TelegramBadRequest, match="query is too old"):
        await bot.answer_callback_query(query.id)

    # An empty long poll honours its timeout.
    started = time.monotonic()
    assert await bot.get_updates(offset=callback_update.update_id + 1, timeout=1) == []
    assert time.monotonic() - started >= 0.9


async def test_polling_dispatcher_echoes_and_answers_buttons(
    telegram: TelegramStandIn, bot: Bot
) -> None:
    resident = telegram.user(RESIDENT_ID)
    dispatcher = Dispatcher()
    dispatcher.include_router(echo_router())
    polling = asyncio.create_task(dispatcher.start_polling(bot, handle_signals=False))
    try:
        first = await telegram.send_text(resident, "hello")
        [echo] = await telegram.wait_for_messages(RESIDENT_ID, 1)
        assert echo.text == "echo: hello"

        # Telegram may deliver an update again (e.g. after a crash before confirming);
        # the stand-in re-queues it even though the bot already confirmed it.
        await telegram.wait_until_confirmed(first.update_id)
        again = await telegram.deliver(first.update)
        assert again.update_id == first.update_id
        echoes = await telegram.wait_for_messages(RESIDENT_ID, 2)
        assert [m.text for m in echoes] == ["echo: hello", "echo: hello"]

        # aiogram asked only for the update types it handles.
        assert telegram.allowed_updates == ["callback_query", "message"]

        await bot.send_message(RESIDENT_ID, "Vote", reply_markup=VOTE_KEYBOARD)
        vote = telegram.last_message(RESIDENT_ID)
        assert vote.message_id == 4  # hello, echo, echo again: ids are shared per chat
        press = await telegram.press_button(resident, vote, "vote:yes")
        query_id = press.update["callback_query"]["id"]
        await telegram.wait_until_confirmed(press.update_id)
        answer = await telegram.wait_for_callback_answer(press)
        assert answer["text"] == "got vote:yes"
        assert telegram.callback_answers[query_id] == answer
    finally:
        await dispatcher.stop_polling()
        await polling


async def test_webhook_delivery_waits_for_the_handler_and_checks_the_secret(
    telegram: TelegramStandIn, bot: Bot
) -> None:
    resident = telegram.user(RESIDENT_ID)
    dispatcher = Dispatcher()
    dispatcher.include_router(echo_router())

    @dispatcher.message(F.location)
    async def located(message: Message) -> SendMessage:
        # Returned, not awaited: aiogram puts the call into the webhook answer.
        return message.answer("location noted")

    app = web.Application()
    SimpleRequestHandler(
        dispatcher, bot, secret_token="s3cret", handle_in_background=False
    ).register(app, path="/webhook")
    server = TestServer(app)
    await server.start_server()
    try:
        url = str(server.make_url("/webhook"))
        assert await bot.set_webhook(url, secret_token="s3cret")
        assert (telegram.webhook_url, telegram.webhook_secret) == (url, "s3cret")
        with pytest.raises(TelegramConflictError, match="webhook is active"):
            await bot.get_updates()

        delivery = await telegram.send_text(resident, "hi")
        assert delivery.status == 200
        assert telegram.last_message(RESIDENT_ID).text == "echo: hi"  # already handled

        located_delivery = await telegram.send_location(resident, 50.45, 30.52)
        assert located_delivery.status == 200
        assert telegram.last_message(RESIDENT_ID).text == "location noted"

        update = (await telegram.send_text(resident, "again")).update
        assert await telegram.post_webhook(update, secret="wrong") == 401
        assert await telegram.post_webhook(update, secret=None) == 401
        info = await bot.get_webhook_info()
        assert info.url == url
        assert info.last_error_message is not None and "401" in info.last_error_message

        assert await bot.delete_webhook()
        assert telegram.webhook_url is None
    finally:
        await server.close()


async def test_groups_topics_members_and_copies(telegram: TelegramStandIn, bot: Bot) -> None:
    resident = telegram.user(RESIDENT_ID, first_name="Olena")
    operator = telegram.user(2002, first_name="Ivan")
    staff = telegram.group(STAFF_CHAT_ID, title="Staff", is_forum=True, members=[operator.id])

    topic = await bot.create_forum_topic(STAFF_CHAT_ID, "Appeal #1")
    async with manual_polling(bot) as received:
        photo = await telegram.send_photo(resident, caption="Broken lamp")
        assert photo.message_id is not None
        copy = await bot.copy_message(
            STAFF_CHAT_ID, RESIDENT_ID, photo.message_id, message_thread_id=topic.message_thread_id
        )
        # An operator replying inside the topic: the update carries thread and reply.
        await telegram.send_text(operator, "On it", chat=staff, reply_to=copy.message_id)
        await received.at_least(2)
    forwarded = await bot.forward_message(STAFF_CHAT_ID, RESIDENT_ID, photo.message_id)

    copied = telegram.messages(STAFF_CHAT_ID)[0]
    assert copied.message_id == copy.message_id
    assert (copied.kind, copied.text, copied.copied_from) == (
        "photo",
        "Broken lamp",
        (RESIDENT_ID, photo.message_id),
    )
    assert copied.message_thread_id == topic.message_thread_id
    assert forwarded.forward_origin is not None
    assert forwarded.forward_origin.type == "user"
    assert forwarded.chat.is_forum

    _photo_update, update = received.updates
    assert update.message is not None
    assert update.message.chat.type == "supergroup"
    assert update.message.message_thread_id == topic.message_thread_id
    assert update.message.reply_to_message is not None
    assert update.message.reply_to_message.message_id == copy.message_id
    with pytest.raises(ValueError, match="not a member"):
        await telegram.send_text(resident, "let me in", chat=staff)

    assert isinstance(await bot.get_chat_member(STAFF_CHAT_ID, operator.id), ChatMemberMember)
    assert isinstance(
        await bot.get_chat_member(STAFF_CHAT_ID, telegram.bot_id), ChatMemberAdministrator
    )
    staff.remove_member(operator)
    assert isinstance(await bot.get_chat_member(STAFF_CHAT_ID, operator.id), ChatMemberLeft)
    chat = await bot.get_chat(STAFF_CHAT_ID)
    assert (chat.type, chat.title, chat.is_forum) == ("supergroup", "Staff", True)
    with pytest.raises(TelegramBadRequest, match="message thread not found"):
        await bot.send_message(STAFF_CHAT_ID, "lost", message_thread_id=9999)


async def test_contacts_commands_and_update_json(telegram: TelegramStandIn, bot: Bot) -> None:
    resident = telegram.user(RESIDENT_ID, first_name="Olena")
    await bot.set_my_commands([BotCommand(command="start", description="Begin")])
    assert telegram.my_commands() == [{"command": "start", "description": "Begin"}]
    assert [c.command for c in await bot.get_my_commands()] == ["start"]

    async with manual_polling(bot) as received:
        own = await telegram.send_contact(resident, "+380501234567")
        forged = await telegram.send_contact(resident, "+380671111111", contact_user_id=999)
        album = await telegram.send_album(
            resident, ["photo", "video"], caption="two", concurrently=True
        )
        sticker = await telegram.send_sticker(resident)
        await received.at_least(5)

    assert [u.update_id for u in received.updates] == [
        d.update_id for d in (own, forged, *album, sticker)
    ]
    own_contact, forged_contact, first_item, second_item, sticker_message = (
        u.message for u in received.updates
    )
    assert own_contact is not None and own_contact.contact is not None
    assert own_contact.contact.user_id == RESIDENT_ID
    assert own_contact.contact.first_name == "Olena"
    assert forged_contact is not None and forged_contact.contact is not None
    assert forged_contact.contact.user_id == 999
    assert first_item is not None and second_item is not None
    assert first_item.photo is not None and len(first_item.photo) == 3
    assert first_item.caption == "two"
    assert second_item.video is not None
    assert first_item.media_group_id == second_item.media_group_id is not None
    assert sticker_message is not None and sticker_message.sticker is not None

    # A user's file can be downloaded by the bot like any other.
    downloaded = await bot.download(first_item.photo[-1].file_id)
    assert isinstance(downloaded, io.BytesIO)
    assert downloaded.getvalue().startswith(b"\xff\xd8")


async def test_uploads_over_telegrams_limits_are_refused(
    telegram: TelegramStandIn, bot: Bot
) -> None:
    telegram.user(RESIDENT_ID)
    big_photo = b"\xff\xd8" + bytes(10_000_001)
    with pytest.raises(TelegramBadRequest, match="PHOTO_SAVE_FILE_INVALID"):
        await bot.send_photo(RESIDENT_ID, BufferedInputFile(big_photo, filename="big.jpg"))
    # The same bytes are a fine document; over 50 MB nothing is taken.
    sent = await bot.send_document(RESIDENT_ID, BufferedInputFile(big_photo, filename="big.jpg"))
    assert sent.document is not None
    with pytest.raises(TelegramEntityTooLarge):
        await bot.send_document(
            RESIDENT_ID, BufferedInputFile(bytes(50_000_001), filename="huge.bin")
        )
    assert [m.kind for m in telegram.messages(RESIDENT_ID)] == ["document"]
