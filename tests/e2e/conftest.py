"""The real bot, served over HTTP in webhook mode, against the stand-in Bot API server."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager

import pytest
from aiohttp import web

from bot.app import Application, build_application, prepare, serving
from bot.config import Settings
from standins.telegram import FakeChat, FakeUser, SentMessage, TelegramStandIn
from storage.migrate import upgrade
from tests.clock import FakeClock
from tests.conftest import TOKEN


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class RunningBot:
    """Start, stop and restart the bot process's insides on one database."""

    def __init__(self, settings: Settings, clock: FakeClock) -> None:
        self.settings = settings
        self.clock = clock
        self.app: Application | None = None
        self._serving: AbstractAsyncContextManager[web.AppRunner] | None = None

    async def start(self) -> Application:
        app = build_application(self.settings, clock=self.clock)
        try:
            await upgrade(app.engine)
            await prepare(app)
            self._serving = serving(app, "127.0.0.1", self.settings.web_port)
            await self._serving.__aenter__()
        except BaseException:
            self._serving = None
            await app.close()
            raise
        app.start_background()
        self.app = app
        return app

    async def settle(self) -> None:
        """Let the outbox sender deliver everything queued so far."""
        assert self.app is not None
        await self.app.sender.wait_idle()

    async def stop(self) -> None:
        if self._serving is not None:
            await self._serving.__aexit__(None, None, None)
            self._serving = None
        if self.app is not None:
            await self.app.close()
            self.app = None

    async def restart(self) -> Application:
        await self.stop()
        return await self.start()


@pytest.fixture
async def tg() -> AsyncIterator[TelegramStandIn]:
    async with TelegramStandIn(TOKEN) as server:
        yield server


@pytest.fixture
def e2e_settings(settings: Settings, tg: TelegramStandIn) -> Settings:
    port = free_port()
    return settings.model_copy(
        update={
            "telegram_api_url": tg.base_url,
            "webhook_base_url": f"http://127.0.0.1:{port}",
            "web_port": port,
            "outbox_poll_seconds": 0.05,
            "outbox_backoff_seconds": 0.05,
            # Telegram's real limits would make every test wait seconds per staff message;
            # the limiter has its own tests.
            "telegram_rate_chat_per_second": 1000.0,
            "telegram_rate_group_per_minute": 60000.0,
            "telegram_rate_global_per_second": 1000.0,
            # Timers run when a test calls Maintenance.tick() after moving the clock.
            "maintenance_interval_seconds": 3600.0,
        }
    )


@pytest.fixture
async def running(e2e_settings: Settings, clock: FakeClock) -> AsyncIterator[RunningBot]:
    bot = RunningBot(e2e_settings, clock)
    await bot.start()
    yield bot
    await bot.stop()


class Resident:
    """A person in Telegram: writes, taps, and reads what the bot answered."""

    def __init__(self, tg: TelegramStandIn, user: FakeUser) -> None:
        self.tg = tg
        self.user = user
        self._seen = 0

    @property
    def chat_id(self) -> int:
        return self.user.id

    def _new(self) -> list[SentMessage]:
        messages = self.tg.messages(self.chat_id)
        fresh = messages[self._seen :]
        self._seen = len(messages)
        return fresh

    async def say(self, text: str) -> list[SentMessage]:
        delivery = await self.tg.send_text(self.user, text)
        assert delivery.status == 200
        return self._new()

    async def press(self, data: str) -> list[SentMessage]:
        """Tap the newest button carrying this action id."""
        for message in reversed(self.tg.messages(self.chat_id)):
            if data in {d for _, d in message.buttons()}:
                before = (message.text, message.reply_markup)
                delivery = await self.tg.press_button(self.user, message, data)
                assert delivery.status == 200
                fresh = self._new()
                # The bot answers a press on its own screens by editing that message.
                if (message.text, message.reply_markup) != before and message not in fresh:
                    return [message, *fresh]
                return fresh
        raise AssertionError(f"no button {data!r} in chat {self.chat_id}")

    async def share_phone(self, phone: str = "+380501234567") -> list[SentMessage]:
        await self.tg.send_contact(self.user, phone)
        return self._new()

    async def send_location(self, lat: float, lon: float) -> list[SentMessage]:
        await self.tg.send_location(self.user, lat, lon)
        return self._new()

    async def send_photo(self) -> list[SentMessage]:
        await self.tg.send_photo(self.user)
        return self._new()

    async def send_sticker(self) -> list[SentMessage]:
        await self.tg.send_sticker(self.user)
        return self._new()

    async def register(self) -> None:
        await self.say("/start")
        await self.share_phone()


def texts(messages: list[SentMessage]) -> str:
    return "\n".join(m.text or "" for m in messages)


def buttons(messages: list[SentMessage]) -> set[str]:
    return {data for m in messages for _, data in m.buttons()}


# -- the staff chat -------------------------------------------------------------------------

STAFF_CHAT = -1001580


@pytest.fixture
def staff_settings(e2e_settings: Settings) -> Settings:
    return e2e_settings.model_copy(update={"staff_chat_id": STAFF_CHAT, "default_locale": "en"})


@pytest.fixture
def operators(tg: TelegramStandIn) -> tuple[FakeUser, FakeUser]:
    return tg.user(900, first_name="Oksana"), tg.user(901, first_name="Petro")


@pytest.fixture
def staff(tg: TelegramStandIn, operators: tuple[FakeUser, FakeUser]) -> FakeChat:
    return tg.group(STAFF_CHAT, title="15-80 operators", members=[u.id for u in operators])


@pytest.fixture
async def desk(
    staff_settings: Settings, clock: FakeClock, staff: FakeChat
) -> AsyncIterator[RunningBot]:
    running = RunningBot(staff_settings, clock)
    await running.start()
    yield running
    await running.stop()
