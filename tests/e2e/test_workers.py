"""Two webhook worker processes on one port, sharing PostgreSQL and Redis."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bench.processes import children
from bot.config import PROJECT_ROOT, Settings
from standins.ports import free_port
from standins.telegram import TelegramStandIn
from storage.database import create_engine, create_session_factory
from storage.models import Appeal, OutboxMessage
from tests.conftest import TOKEN, WEBHOOK_SECRET
from tests.e2e.people import Resident, buttons, texts

# Several workers need PostgreSQL and Redis: this runs on the second test leg.
pytestmark = pytest.mark.postgres_only

STAFF_CHAT = -1001581
RESIDENTS = 30
LUTSK = (50.7472, 25.3254)


@pytest.fixture
async def workers(
    tg: TelegramStandIn, settings: Settings, tmp_path: Path
) -> AsyncIterator[asyncio.subprocess.Process]:
    tg.group(STAFF_CHAT, members=[900])
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "VIBER_"))},
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_API_URL": tg.base_url,
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.redis_url or "",
        "REDIS_PREFIX": settings.redis_prefix,
        "WEBHOOK_BASE_URL": f"http://127.0.0.1:{port}",
        "WEBHOOK_SECRET": WEBHOOK_SECRET,
        "WEB_HOST": "127.0.0.1",
        "WEB_PORT": str(port),
        "WEB_WORKERS": "2",
        "STAFF_CHAT_ID": str(STAFF_CHAT),
        "DEFAULT_LOCALE": "en",
        "MEDIA_DIR": str(tmp_path / "media"),
        "OUTBOX_POLL_SECONDS": "0.05",
        "TELEGRAM_RATE_CHAT_PER_SECOND": "1000",
        "TELEGRAM_RATE_GROUP_PER_MINUTE": "60000",
        "TELEGRAM_RATE_GLOBAL_PER_SECOND": "1000",
    }
    log_path = tmp_path / "workers.log"
    log = await asyncio.to_thread(log_path.open, "wb")
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(PROJECT_ROOT / "main.py"),
        cwd=tmp_path,
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=log,
    )
    try:
        async with asyncio.timeout(60):
            while tg.webhook_url is None:
                assert process.returncode is None, log_path.read_text()
                await asyncio.sleep(0.1)
        yield process
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        try:
            async with asyncio.timeout(30):
                await process.wait()
        except TimeoutError:
            process.kill()
            await process.wait()
        log.close()
        # A clean stop: every worker handed over and exited.
        assert process.returncode == 0, log_path.read_text()


async def file_appeal(resident: Resident) -> str:
    await resident.say("/start")
    await resident.share_phone(f"+38067{resident.user.id:07d}")
    await resident.press("new")
    await resident.press("cat:emergency")
    await resident.press("urgo")
    await resident.send_location(*LUTSK)
    # Quick photos from one resident may land on either worker; they must count 1, 2, 3.
    await asyncio.gather(*(resident.tg.send_photo(resident.user) for _ in range(3)))
    counts = [m.text for m in resident.tg.messages(resident.chat_id)[-3:]]
    assert counts == [
        f"{n} file{'s' if n > 1 else ''} received. Send more or press «Done»." for n in (1, 2, 3)
    ]
    resident.catch_up()
    await resident.press("mdone")
    await resident.say(f"Resident {resident.user.id}: the hydrant is leaking.")
    return texts(await resident.press("submit"))


async def test_two_workers_store_and_deliver_everything_once(
    tg: TelegramStandIn,
    workers: asyncio.subprocess.Process,
    settings: Settings,
    tmp_path: Path,
) -> None:
    assert len(children(workers.pid)) >= 2
    residents = [Resident(tg, tg.user(7000 + i, language_code="en")) for i in range(RESIDENTS)]
    done = await asyncio.gather(*(file_appeal(r) for r in residents))
    numbers = {word for text in done for word in text.split() if word.startswith("1580-")}
    assert len(numbers) == RESIDENTS
    for resident in residents:
        assert "new" in buttons(tg.messages(resident.chat_id))

    engine = create_engine(settings.database_url)
    sessions = create_session_factory(engine)
    try:
        async with asyncio.timeout(60):
            while True:
                async with sessions() as session:
                    pending = (
                        await session.execute(
                            select(func.count())
                            .select_from(OutboxMessage)
                            .where(OutboxMessage.status == "pending")
                        )
                    ).scalar_one()
                if pending == 0:
                    break
                await asyncio.sleep(0.2)
        async with sessions() as session:
            appeals = (await session.execute(select(Appeal.number))).scalars().all()
    finally:
        await sessions.close()
        await engine.dispose()
    assert sorted(appeals) == sorted(numbers)
    cards = [m for m in tg.messages(STAFF_CHAT) if m.buttons()]
    headers = [(m.text or "").split(" · ")[0] for m in cards]
    # Every card was posted exactly once, whichever worker led the outbox.
    assert sorted(h.split()[-1] for h in headers) == sorted(numbers)
    assert len(tg.calls_of("setWebhook")) == 1
    assert "Traceback" not in (tmp_path / "workers.log").read_text()
