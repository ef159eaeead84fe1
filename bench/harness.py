"""The benchmark's plumbing: the bot as its own process against the stand-in Bot API server,
its settings, a fresh database for it, and the services it may need."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import asyncpg
import redis.asyncio as aioredis
from sqlalchemy.engine import make_url

from bot.config import PROJECT_ROOT
from standins.telegram import TelegramStandIn

TOKEN = "123456:bench-token"
SECRET = "bench-secret"
STAFF_CHAT = -1001580
LUTSK = (50.7472, 25.3254)
POSTGRES_ADMIN = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")


def services_reachable() -> bool:
    for url in (make_url(POSTGRES_ADMIN), make_url(REDIS_URL)):
        try:
            with socket.create_connection((url.host or "127.0.0.1", url.port or 0), timeout=1):
                pass
        except OSError:
            return False
    return True


class BotProcess:
    """The bot (or the baseline) in its own process, serving webhooks on a free port."""

    def __init__(self, command: list[str], env: dict[str, str], workdir: Path) -> None:
        self.command = command
        self.env = env
        self.workdir = workdir
        self.process: asyncio.subprocess.Process | None = None

    async def __aenter__(self) -> BotProcess:
        log = (self.workdir / "bot.log").open("ab")
        self.process = await asyncio.create_subprocess_exec(
            *self.command, cwd=self.workdir, env=self.env, stdout=log, stderr=log
        )
        return self

    async def __aexit__(self, *_exc: object) -> None:
        assert self.process is not None
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                async with asyncio.timeout(30):
                    await self.process.wait()
            except TimeoutError:
                self.process.kill()
                await self.process.wait()

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid


async def wait_for_webhook(tg: TelegramStandIn, bot: BotProcess) -> None:
    async with asyncio.timeout(90):
        while tg.webhook_url is None:
            assert bot.process is not None
            if bot.process.returncode is not None:
                raise RuntimeError((bot.workdir / "bot.log").read_text()[-3000:])
            await asyncio.sleep(0.05)


async def quiet(tg: TelegramStandIn, seconds: float = 1.0, limit: float = 120.0) -> None:
    """Until the bot has made no Bot API call for `seconds` (its outbox is drained)."""
    deadline = time.monotonic() + limit
    calls = -1
    while calls != len(tg.calls) and time.monotonic() < deadline:
        calls = len(tg.calls)
        await asyncio.sleep(seconds)


def bot_env(port: int, tg: TelegramStandIn, workdir: Path, extra: dict[str, str]) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TELEGRAM_", "VIBER_", "DATABASE_", "REDIS_", "WEB"))
    }
    env.update(
        {
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "TELEGRAM_API_URL": tg.base_url,
            "WEBHOOK_BASE_URL": f"http://127.0.0.1:{port}",
            "WEBHOOK_SECRET": SECRET,
            "WEB_HOST": "127.0.0.1",
            "WEB_PORT": str(port),
            "STAFF_CHAT_ID": str(STAFF_CHAT),
            "MEDIA_DIR": str(workdir / "media"),
            "DATABASE_URL": f"sqlite+aiosqlite:///{workdir / 'bench.db'}",
            # High limits: the benchmark measures the bot, not Telegram's per-chat pacing.
            "TELEGRAM_RATE_CHAT_PER_SECOND": "100000",
            "TELEGRAM_RATE_GROUP_PER_MINUTE": "6000000",
            "TELEGRAM_RATE_GLOBAL_PER_SECOND": "100000",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(extra)
    return env


async def migrate(env: dict[str, str], workdir: Path) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "storage.migrate",
        cwd=PROJECT_ROOT,
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    if await process.wait() != 0:
        raise RuntimeError("migrations failed")


async def postgres_database() -> tuple[str, Callable[[], Awaitable[None]]]:
    name = f"bench_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(POSTGRES_ADMIN)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()

    async def drop() -> None:
        connection = await asyncpg.connect(POSTGRES_ADMIN)
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await connection.close()

    url = make_url(POSTGRES_ADMIN).set(drivername="postgresql+asyncpg", database=name)
    return url.render_as_string(hide_password=False), drop


async def redis_cleanup(prefix: str) -> None:
    client = aioredis.from_url(REDIS_URL)
    keys = [key async for key in client.scan_iter(f"{prefix}:*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()
