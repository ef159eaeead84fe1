"""Calls in their wire form (`ApiCall`) against the stand-in Bot API: what Telegram gets is
what aiogram's method of the same call would send, and a refusal is the same exception,
read the same way, so an immediate reply acts on it as before."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiogram import Bot
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import TelegramAPIError, TelegramNetworkError

from bot.api_errors import Failure, Outcome
from bot.telegram.calls import ApiCall
from bot.telegram.delivery import PendingCalls
from bot.telegram.errors import API_ERRORS, classify
from bot.telegram.render import KEYBOARD_CARRIER, render
from bot.telegram.session import BotApiSession, answer_unread, call_api
from domain.actions import Act, Action
from domain.dialog.replies import Button, Reply, Request
from standins.telegram import TelegramStandIn

RESIDENT = 1001
NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)


@pytest.fixture
async def telegram() -> AsyncIterator[TelegramStandIn]:
    async with TelegramStandIn() as standin:
        standin.user(RESIDENT, first_name="Olena")
        yield standin


@pytest.fixture
async def bot(telegram: TelegramStandIn) -> AsyncIterator[Bot]:
    session = BotApiSession(api=TelegramAPIServer.from_base(telegram.base_url))
    bot = Bot(telegram.token, session=session)
    yield bot
    await session.close()


def _edit(message_id: int = 99) -> ApiCall:
    return ApiCall(
        "editMessageText", {"chat_id": RESIDENT, "message_id": message_id, "text": "Choose:"}
    )


async def _sent_unread(bot: Bot, call: ApiCall) -> None:
    token = answer_unread.set(True)
    try:
        await call_api(bot, call)
    finally:
        answer_unread.reset(token)


async def test_replies_reach_telegram_as_aiogram_would_send_them(
    telegram: TelegramStandIn, bot: Bot
) -> None:
    menu = Button("🏠 Menu", Action(Act.MENU))
    replies = [
        Reply("Оберіть:", ((Button("Дороги", Action(Act.CATEGORY, "roads")),), (menu,))),
        Reply("Where?", ((menu,),), request=Request.LOCATION, request_label="📍 Location"),
        Reply("Дякуємо!"),
    ]
    calls = render(RESIDENT, replies)
    assert all(isinstance(call, ApiCall) for call in calls)
    pending = PendingCalls()
    pending.add(*calls)
    assert await pending.flush(bot) == []
    as_is = [(c.method, c.params) for c in telegram.calls]
    # The same calls again, as aiogram's methods through `Bot.__call__`.
    for call in calls:
        assert isinstance(call, ApiCall)
        await bot(call.to_method())
    assert [(c.method, c.params) for c in telegram.calls[len(as_is) :]] == as_is
    assert all(c.ok for c in telegram.calls)
    texts = [m.text for m in telegram.messages(RESIDENT)]
    assert texts == ["Оберіть:", "Where?", KEYBOARD_CARRIER, "Дякуємо!"] * 2


@pytest.mark.parametrize(
    ("fault", "failure"),
    [
        ({"status": 429, "retry_after": 3}, Failure(Outcome.FLOOD_WAIT, 3.0)),
        ({"status": 400, "description": NOT_MODIFIED}, Failure(Outcome.NOT_MODIFIED)),
        ({"status": 403}, Failure(Outcome.BLOCKED)),
        ({"status": 502}, Failure(Outcome.RETRY)),
        ({"status": 401}, Failure(Outcome.CREDENTIALS)),
    ],
    ids=["flood", "not-modified", "blocked", "bad-gateway", "token"],
)
async def test_a_refusal_is_the_exception_aiogram_raises(
    telegram: TelegramStandIn, bot: Bot, fault: dict[str, Any], failure: Failure
) -> None:
    call = _edit()
    telegram.fail("editMessageText", times=2, **fault)
    with pytest.raises(API_ERRORS) as as_is:
        await _sent_unread(bot, call)
    with pytest.raises(API_ERRORS) as through_aiogram:
        await bot(call.to_method())
    assert type(as_is.value) is type(through_aiogram.value)
    assert isinstance(as_is.value, TelegramAPIError)
    assert isinstance(through_aiogram.value, TelegramAPIError)
    assert as_is.value.message == through_aiogram.value.message
    assert as_is.value.method == through_aiogram.value.method == call.to_method()
    assert classify(as_is.value) == classify(through_aiogram.value) == failure


async def test_an_unreachable_api_is_a_network_error_to_retry(telegram: TelegramStandIn) -> None:
    session = BotApiSession(api=TelegramAPIServer.from_base("http://127.0.0.1:9"))
    bot = Bot(telegram.token, session=session)
    try:
        with pytest.raises(TelegramNetworkError) as refused:
            await _sent_unread(bot, _edit())
    finally:
        await session.close()
    assert refused.value.method == _edit().to_method()
    assert classify(refused.value) == Failure(Outcome.RETRY)


async def test_an_edit_that_changes_nothing_sends_no_fallback(
    telegram: TelegramStandIn, bot: Bot
) -> None:
    telegram.fail("editMessageText", status=400, description=NOT_MODIFIED)
    pending = PendingCalls()
    pending.add_or(_edit(), render(RESIDENT, [Reply("Choose:")]))
    assert await pending.flush(bot) == []
    assert [(c.method, c.ok) for c in telegram.calls] == [("editMessageText", False)]


async def test_an_edit_of_a_message_that_is_gone_sends_the_fallback(
    telegram: TelegramStandIn, bot: Bot
) -> None:
    pending = PendingCalls()
    pending.add_or(_edit(message_id=12345), render(RESIDENT, [Reply("Choose:")]))
    await pending.flush(bot)
    assert [(c.method, c.ok) for c in telegram.calls] == [
        ("editMessageText", False),
        ("sendMessage", True),
    ]
    assert [m.text for m in telegram.messages(RESIDENT)] == ["Choose:"]


async def test_a_blocked_chat_is_given_up_and_a_flood_wait_waited_out(
    telegram: TelegramStandIn, bot: Bot
) -> None:
    telegram.blocked_users = {RESIDENT}
    pending = PendingCalls()
    pending.add(*render(RESIDENT, [Reply("Дякуємо!")]))
    await pending.flush(bot)
    assert [(c.method, c.ok) for c in telegram.calls] == [("sendMessage", False)]
    telegram.blocked_users = set()
    telegram.fail("sendMessage", status=429, retry_after=1)
    pending.add(*render(RESIDENT, [Reply("Дякуємо!")]))
    await pending.flush(bot)
    assert [(c.method, c.ok) for c in telegram.calls[1:]] == [
        ("sendMessage", False),
        ("sendMessage", True),
    ]
    assert [m.text for m in telegram.messages(RESIDENT)] == ["Дякуємо!"]
