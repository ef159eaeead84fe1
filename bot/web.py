"""The aiohttp application: the Telegram and Viber webhooks, the media Viber fetches, a health
check; serving it, and registering the webhooks once it listens."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from aiohttp import web

from bot.config import ConfigurationError
from bot.telegram.setup import register_telegram
from bot.telegram.webhook import TelegramWebhook
from bot.viber.setup import register_viber, register_viber_until_done

if TYPE_CHECKING:
    from bot.app import Application


async def health(_request: web.Request) -> web.Response:
    return web.json_response({"ok": True})


def create_web_app(app: Application) -> web.Application:
    """The aiohttp application: the Telegram and Viber webhooks and the media Viber fetches."""
    if not app.settings.webhook_secret or not app.settings.webhook_secret.get_secret_value():
        raise ConfigurationError(
            "WEBHOOK_SECRET is not set: webhook mode needs a secret (1-256 of A-Z, a-z, 0-9, _ -) "
            "so that only Telegram can post updates."
        )
    web_app = web.Application()
    TelegramWebhook(
        app.dispatcher, app.bot, app.settings.webhook_secret.get_secret_value()
    ).register(web_app, path=app.settings.webhook_path)

    web_app.router.add_get("/health", health)
    web_app.router.add_get("/media/{name}", app.media.serve)
    if app.viber is not None:
        web_app.router.add_post(app.settings.viber_webhook_path, app.viber.handle)
    return web_app


@asynccontextmanager
async def serving(
    app: Application, host: str, port: int, *, register: bool = True, reuse_port: bool = False
) -> AsyncIterator[web.AppRunner]:
    """Serve the webhooks, then register them once the server is listening (Viber calls the
    URL at once and wants a 200). Workers sharing a port (reuse_port) leave registering to
    the process that started them."""
    # On stop: no new connections, the updates in hand finish (their replies go out), then
    # whatever is still running after the timeout is cancelled (Telegram delivers it again).
    runner = web.AppRunner(
        create_web_app(app), shutdown_timeout=app.settings.shutdown_timeout_seconds
    )
    await runner.setup()
    site = web.TCPSite(runner, host, port, reuse_port=reuse_port or None)
    await site.start()
    try:
        if register:
            await register_webhooks(app)
        yield runner
    finally:
        await runner.cleanup()


async def register_webhooks(app: Application) -> None:
    """Telegram's webhook, retried with backoff (start-up fails only after
    STARTUP_RETRY_SECONDS); Viber's in the background until it succeeds, so that a Viber
    outage degrades Viber only."""
    await register_telegram(app)
    if not await register_viber(app):
        app.tasks.append(asyncio.create_task(register_viber_until_done(app), name="viber-webhook"))
