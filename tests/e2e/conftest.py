"""The real bot, served over HTTP in webhook mode, against the stand-in Bot API server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager

import pytest
from aiohttp import web

from bot.app import Application, build_application, prepare, serving
from bot.config import Settings
from standins.ports import free_port
from standins.telegram import FakeChat, FakeUser, TelegramStandIn
from storage.migrate import upgrade
from tests.clock import FakeClock
from tests.conftest import TOKEN

# The people live in tests.e2e.people; these names stay importable from here.
from tests.e2e.people import STAFF_CHAT, Resident, buttons, texts

__all__ = ["STAFF_CHAT", "Resident", "RunningBot", "buttons", "texts"]


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


# -- the staff chat -------------------------------------------------------------------------


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
