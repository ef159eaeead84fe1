"""Start-up: Telegram retried with backoff, Viber's outage degrades Viber only, settings and
database paths that cannot work get one sentence (no traceback, no token)."""

from __future__ import annotations

import asyncio
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import SecretStr

from bot.app import ConfigurationError, build_application
from bot.config import PROJECT_ROOT, Settings
from bot.startup import StartupError
from standins.ports import free_port
from standins.telegram import TelegramStandIn
from standins.viber import ViberStandIn
from tests.clock import FakeClock
from tests.conftest import TOKEN
from tests.e2e.conftest import RunningBot
from tests.e2e.people import Resident, texts

VIBER_TOKEN = "stand-in-viber-token"


def fast_startup(settings: Settings) -> Settings:
    return settings.model_copy(update={"startup_backoff_seconds": 0.05})


async def test_telegram_failing_at_start_is_retried(
    tg: TelegramStandIn, e2e_settings: Settings, clock: FakeClock
) -> None:
    tg.fail("getMe", status=500, times=2)
    tg.fail("setMyCommands", status=502, times=2)
    tg.fail("setWebhook", status=500, times=1)
    running = RunningBot(fast_startup(e2e_settings), clock)
    await running.start()
    try:
        assert [c.ok for c in tg.calls_of("getMe")][:3] == [False, False, True]
        assert tg.webhook_url is not None
        olena = Resident(tg, tg.user(8201, language_code="en"))
        assert "Welcome" in texts(await olena.say("/start"))
    finally:
        await running.stop()


async def test_a_refused_token_stops_start_up_with_a_sentence(
    tg: TelegramStandIn, e2e_settings: Settings, clock: FakeClock
) -> None:
    tg.fail("getMe", status=401)
    running = RunningBot(fast_startup(e2e_settings), clock)
    with pytest.raises(StartupError, match="TELEGRAM_BOT_TOKEN") as raised:
        await running.start()
    assert TOKEN not in str(raised.value)
    assert len(tg.calls_of("getMe")) == 1
    await running.stop()


async def test_viber_down_at_start_degrades_viber_only(
    tg: TelegramStandIn, e2e_settings: Settings, clock: FakeClock
) -> None:
    port = free_port()
    viber_settings = fast_startup(e2e_settings).model_copy(
        update={
            "viber_auth_token": SecretStr(VIBER_TOKEN),
            "viber_api_url": f"http://127.0.0.1:{port}",
        }
    )
    running = RunningBot(viber_settings, clock)
    await running.start()
    try:
        olena = Resident(tg, tg.user(8202, language_code="en"))
        assert "Welcome" in texts(await olena.say("/start"))
        # Viber comes up on the address the bot keeps trying: the webhook gets set.
        async with ViberStandIn(VIBER_TOKEN, port=port) as viber:
            async with asyncio.timeout(10):
                while viber.webhook_url is None:  # noqa: ASYNC110 - no signal for it
                    await asyncio.sleep(0.05)
            assert viber.webhook_url.endswith(viber_settings.viber_webhook_path)
    finally:
        await running.stop()


async def test_api_url_without_a_scheme_is_refused_without_the_token(settings: Settings) -> None:
    bad = settings.model_copy(update={"telegram_api_url": "127.0.0.1:8081"})
    with pytest.raises(ConfigurationError, match="http://") as raised:
        build_application(bad)
    assert TOKEN not in str(raised.value)


def run_main(cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "DATABASE_"))}
    return subprocess.run(
        [sys.executable, str(PROJECT_ROOT / "main.py")],
        cwd=cwd,
        env={**base, "TELEGRAM_BOT_TOKEN": TOKEN, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_main_refuses_a_schemeless_api_url_in_one_sentence(tmp_path: Path) -> None:
    result = run_main(tmp_path, TELEGRAM_API_URL="127.0.0.1:8081")
    assert result.returncode == 2
    assert "TELEGRAM_API_URL must start with http://" in result.stderr
    assert "Traceback" not in result.stderr
    assert TOKEN.split(":")[1] not in result.stderr + result.stdout


def test_read_only_database_file_is_one_sentence(tmp_path: Path) -> None:
    database = tmp_path / "appeals.db"
    database.write_bytes(b"")
    database.chmod(stat.S_IRUSR | stat.S_IRGRP)
    result = run_main(tmp_path, DATABASE_URL=f"sqlite+aiosqlite:///{database}")
    assert result.returncode == 2
    assert f"The database file {database} is read-only" in result.stderr
    assert "Traceback" not in result.stderr


async def test_missing_database_folder_is_created(settings: Settings, tmp_path: Path) -> None:
    folder = tmp_path / "new" / "deeper"
    url = f"sqlite+aiosqlite:///{folder / 'appeals.db'}"
    app = build_application(settings.model_copy(update={"database_url": url}))
    await app.close()
    assert folder.is_dir()


def test_database_folder_that_cannot_be_made_is_one_sentence(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    result = run_main(tmp_path, DATABASE_URL=f"sqlite+aiosqlite:///{blocker / 'db' / 'a.db'}")
    assert result.returncode == 2
    assert "cannot be created" in result.stderr
    assert "Traceback" not in result.stderr
