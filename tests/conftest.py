"""Shared fixtures: a migrated database per test, compiled catalogues, the dialog core."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from bot.app import create_dialog, create_translator, sync_categories
from bot.config import PROJECT_ROOT, Settings
from domain.dialog.core import Dialog
from domain.i18n import Translator
from storage.database import create_engine, create_session_factory
from storage.migrate import upgrade
from storage.uow import UnitOfWorkFactory
from tests.clock import FakeClock

TOKEN = "123456:stand-in-token"
WEBHOOK_SECRET = "test-webhook-secret"


def _compile_catalogues() -> None:
    """`make test` compiles them; this keeps a bare `pytest` run honest too."""
    for po in (PROJECT_ROOT / "locales").glob("*/LC_MESSAGES/messages.po"):
        mo = po.with_suffix(".mo")
        if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
            continue
        with po.open("rb") as source:
            catalog = read_po(source)
        with mo.open("wb") as target:
            write_mo(target, catalog)


_compile_catalogues()


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'appeals.db'}"


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        _env_file=None,
        telegram_bot_token=TOKEN,
        database_url=database_url,
        redis_url=None,
        webhook_secret=WEBHOOK_SECRET,
        webhook_base_url=None,
    )


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def uows(settings: Settings) -> AsyncIterator[UnitOfWorkFactory]:
    engine = create_engine(settings.database_url)
    await upgrade(engine)
    factory = UnitOfWorkFactory(create_session_factory(engine))
    await sync_categories(factory, settings.categories_file)
    yield factory
    await engine.dispose()


@pytest.fixture
def translator(settings: Settings) -> Translator:
    return create_translator(settings)


@pytest.fixture
def dialog(settings: Settings, translator: Translator, clock: FakeClock) -> Dialog:
    return create_dialog(settings, translator, clock)
