"""Long polling, and dialog state in Redis."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from bot.app import build_application, run
from bot.config import Settings
from standins.telegram import TelegramStandIn
from storage.migrate import upgrade
from tests.clock import FakeClock
from tests.e2e.conftest import RunningBot
from tests.e2e.people import Resident, texts
from tests.services import REDIS_URL, require


async def test_long_polling(tg: TelegramStandIn, settings: Settings, clock: FakeClock) -> None:
    polling = settings.model_copy(update={"telegram_api_url": tg.base_url})
    app = build_application(polling, clock=clock)
    await upgrade(app.engine)
    task = asyncio.create_task(run(app))
    try:
        olena = Resident(tg, tg.user(7001, language_code="en"))
        await tg.send_text(olena.user, "/start")
        replies = await tg.wait_for_messages(olena.chat_id, 1, timeout=10)
        assert "Welcome" in texts(replies)
        assert tg.webhook_url is None
        assert {c.method for c in tg.calls} >= {"deleteWebhook", "setMyCommands", "getUpdates"}
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await app.close()
    # A cancelled run() leaves no getUpdates loop behind: one would open a new HTTP session
    # after close() and never close it (an "Unclosed client session" in a later test).
    assert not [
        t
        for t in asyncio.all_tasks()
        if not t.done() and "Dispatcher" in t.get_coro().__qualname__  # type: ignore[union-attr]
    ]


@pytest.fixture
async def redis_prefix() -> AsyncIterator[str]:
    require("Redis", "127.0.0.1", 6379)
    prefix = f"test-{uuid.uuid4().hex[:12]}"
    yield prefix
    client = aioredis.from_url(REDIS_URL)
    keys = [key async for key in client.scan_iter(f"{prefix}:*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


async def test_dialog_state_in_redis_survives_a_restart(
    tg: TelegramStandIn, e2e_settings: Settings, clock: FakeClock, redis_prefix: str
) -> None:
    settings = e2e_settings.model_copy(
        update={"redis_url": REDIS_URL, "redis_prefix": redis_prefix}
    )
    running = RunningBot(settings, clock)
    await running.start()
    try:
        olena = Resident(tg, tg.user(7002, language_code="en"))
        await olena.register()
        await olena.press("new")
        await olena.press("cat:emergency")
        await olena.press("urgo")
        client = aioredis.from_url(REDIS_URL)
        stored = [key async for key in client.scan_iter(f"{redis_prefix}:*")]
        await client.aclose()
        assert stored, "the dialog state should be in Redis under the configured prefix"
        await running.restart()
        saved = await olena.say("вул. Шопена, 9")
        assert "Address saved" in texts(saved)
    finally:
        await running.stop()
