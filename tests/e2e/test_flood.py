"""Flood control on both channels, and a resident whose chat budget is spent does not hold
the webhook: the outbox sender delivers the rest of the replies, in order."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from pydantic import SecretStr

from bot.config import Settings
from standins.telegram import TelegramStandIn
from standins.viber import ViberStandIn
from tests.clock import FakeClock
from tests.e2e.conftest import RunningBot
from tests.e2e.people import Resident, texts

TOO_FAST = "You are sending messages too fast"
VIBER_TOKEN = "stand-in-viber-token"


@pytest.fixture
async def guarded(
    tg: TelegramStandIn, e2e_settings: Settings, clock: FakeClock
) -> AsyncIterator[tuple[RunningBot, ViberStandIn]]:
    async with ViberStandIn(VIBER_TOKEN) as viber:
        settings = e2e_settings.model_copy(
            update={
                "flood_limit": 4,
                "flood_window_seconds": 600.0,
                "viber_auth_token": SecretStr(VIBER_TOKEN),
                "viber_api_url": viber.base_url,
            }
        )
        running = RunningBot(settings, clock)
        await running.start()
        try:
            yield running, viber
        finally:
            await running.stop()


async def test_a_flooding_resident_is_told_once_and_others_are_served(
    tg: TelegramStandIn, guarded: tuple[RunningBot, ViberStandIn]
) -> None:
    olena = Resident(tg, tg.user(8501, language_code="en"))
    for _ in range(4):
        assert "Welcome" in texts(await olena.say("/start"))
    told = await olena.say("/start")
    assert [m.text for m in told] == [
        "You are sending messages too fast. Please wait a minute: until then I skip them."
    ]
    for _ in range(5):
        assert await olena.say("/start") == []  # dropped, and still answered 200
    bohdan = Resident(tg, tg.user(8502, language_code="en"))
    assert "Welcome" in texts(await bohdan.say("/start"))


async def test_a_flooding_viber_resident_is_told_once(
    guarded: tuple[RunningBot, ViberStandIn],
) -> None:
    _running, viber = guarded
    olena = viber.user(name="Olena", language="en")
    for _ in range(4):
        assert (await viber.send_text(olena, "/start")).status == 200
    before = len(viber.messages(olena))
    assert (await viber.send_text(olena, "/start")).status == 200
    told = viber.messages(olena)[before:]
    assert [m.text for m in told] == [
        "You are sending messages too fast. Please wait a minute: until then I skip them."
    ]
    assert (await viber.send_text(olena, "/start")).status == 200
    assert len(viber.messages(olena)) == before + 1


async def test_a_spent_chat_budget_does_not_hold_the_webhook(
    tg: TelegramStandIn, e2e_settings: Settings, clock: FakeClock
) -> None:
    slow = e2e_settings.model_copy(
        update={"telegram_rate_chat_per_second": 0.5, "reply_wait_seconds": 0.1}
    )
    running = RunningBot(slow, clock)
    await running.start()
    try:
        olena = Resident(tg, tg.user(8503, language_code="en"))
        for number in range(5):
            delivery = await tg.send_text(olena.user, f"/start {number}")
            assert delivery.status == 200
        # The chat takes 3 messages at once, then one every 2 s: the webhook answered
        # before the rest could go, and the outbox sender sends them in order.
        sent_when_answered = len(tg.messages(olena.chat_id))
        assert sent_when_answered < 5
        replies = await tg.wait_for_messages(olena.chat_id, 5, timeout=30)
        welcomes = [m for m in replies if "Welcome" in (m.text or "")]
        assert len(welcomes) == 5
    finally:
        await running.stop()


async def test_a_spent_viber_budget_does_not_hold_the_webhook(
    e2e_settings: Settings, clock: FakeClock
) -> None:
    async with ViberStandIn(VIBER_TOKEN) as viber:
        slow = e2e_settings.model_copy(
            update={
                "viber_auth_token": SecretStr(VIBER_TOKEN),
                "viber_api_url": viber.base_url,
                "telegram_rate_chat_per_second": 0.5,  # one budget per resident, Viber too
                "reply_wait_seconds": 0.1,
            }
        )
        running = RunningBot(slow, clock)
        await running.start()
        try:
            olena = viber.user(name="Olena", language="en")
            await viber.open_conversation(olena)
            for _ in range(6):
                assert (await viber.send_text(olena, "/start")).status == 200
            # The welcome, then one message per "/start": the burst of 3 went at once, the
            # rest was handed to the outbox sender when the webhook answered.
            assert len(viber.messages(olena)) < 7
            await viber.wait_for_messages(olena, 7, timeout=30)
            starts = ["Welcome" in (m.text or "") for m in viber.messages(olena)[1:]]
            assert starts == [True] * 6
        finally:
            await running.stop()
