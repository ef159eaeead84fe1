"""The real bot, as its own process, under the bot's default limits (Telegram's own), against
the stand-in Bot API server: what the staff-chat and flood scenarios run against."""

from __future__ import annotations

import shutil
import sys
import tempfile
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

from bench.harness import (
    STAFF_CHAT,
    TOKEN,
    BotProcess,
    bot_env,
    migrate,
    wait_for_webhook,
)
from standins.ports import free_port
from standins.telegram import TelegramStandIn

DEFAULT_LIMITS = {
    "TELEGRAM_RATE_CHAT_PER_SECOND": "1",
    "TELEGRAM_RATE_GROUP_PER_MINUTE": "20",
    "TELEGRAM_RATE_GLOBAL_PER_SECOND": "30",
}


@asynccontextmanager
async def bot_at_telegram_limits(
    prefix: str, staff_members: Sequence[int]
) -> AsyncIterator[TelegramStandIn]:
    """The stand-in, with the staff chat and the bot serving it; everything is removed after."""
    from bot.config import PROJECT_ROOT

    workdir = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        async with TelegramStandIn(TOKEN) as tg:
            tg.group(STAFF_CHAT, members=list(staff_members))
            env = bot_env(free_port(), tg, workdir, DEFAULT_LIMITS)
            await migrate(env, workdir)
            command = [sys.executable, str(PROJECT_ROOT / "main.py")]
            async with BotProcess(command, env, workdir) as bot:
                await wait_for_webhook(tg, bot)
                yield tg
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
