"""The baseline: a bare aiogram bot that answers every update with one message, served like
the real bot (aiohttp webhook, handle_in_background=False) against the same stand-in."""

from __future__ import annotations

import asyncio
import os
import signal

from aiogram import Bot, Dispatcher
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.types import CallbackQuery, Message
from aiogram.webhook.aiohttp_server import SimpleRequestHandler
from aiohttp import web


async def main() -> None:
    session = AiohttpSession(api=TelegramAPIServer.from_base(os.environ["TELEGRAM_API_URL"]))
    bot = Bot(os.environ["TELEGRAM_BOT_TOKEN"], session=session)
    dispatcher = Dispatcher()

    @dispatcher.message()
    async def on_message(message: Message) -> None:
        await message.answer("ok")

    @dispatcher.callback_query()
    async def on_button(query: CallbackQuery) -> None:
        await bot.send_message(query.from_user.id, "ok")

    app = web.Application()
    SimpleRequestHandler(
        dispatcher=dispatcher,
        bot=bot,
        secret_token=os.environ["WEBHOOK_SECRET"],
        handle_in_background=False,
    ).register(app, path="/webhook/telegram")
    runner = web.AppRunner(app)
    await runner.setup()
    port = int(os.environ["WEB_PORT"])
    await web.TCPSite(runner, "127.0.0.1", port).start()
    await bot.set_webhook(
        f"http://127.0.0.1:{port}/webhook/telegram", secret_token=os.environ["WEBHOOK_SECRET"]
    )
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    await runner.cleanup()
    await bot.session.close()


if __name__ == "__main__":
    asyncio.run(main())
