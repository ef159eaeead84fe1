"""Shared fixtures: a migrated database per test, compiled catalogues, the dialog core."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from bot.app import create_dialog, create_translator, sync_categories
from bot.config import PROJECT_ROOT, Settings
from domain.dialog.core import Dialog
from domain.i18n import Translator
from storage.database import create_engine, create_session_factory
from storage.migrate import upgrade
from storage.uow import UnitOfWorkFactory
from tests import backends
from tests.clock import FakeClock
from tests.services import REDIS_URL, require

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


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Each leg runs the tests meant for it; the others are deselected, not skipped, so
    every test runs in exactly one leg of `make test` and none is reported as passed."""
    other_leg = "sqlite_only" if backends.POSTGRES else "postgres_only"
    deselected = [item for item in items if item.get_closest_marker(other_leg)]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = [item for item in items if not item.get_closest_marker(other_leg)]


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[str | None]:
    if not backends.POSTGRES:
        yield None
        return
    backends.require_postgres()
    with backends.migrated_template() as name:
        yield name


@pytest.fixture
async def database_url(tmp_path: Path, postgres_template: str | None) -> AsyncIterator[str]:
    """A fresh database for every test: a SQLite file, or a PostgreSQL copy of the template."""
    if postgres_template is None:
        yield f"sqlite+aiosqlite:///{tmp_path / 'appeals.db'}"
        return
    name = backends.unique_name("city1580_test")
    url = await backends.create_database(name, template=postgres_template)
    yield url
    await backends.drop_database(name)


@pytest.fixture
async def empty_database_url(tmp_path: Path) -> AsyncIterator[str]:
    """A database with no tables at all, for migration tests."""
    if not backends.POSTGRES:
        yield f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"
        return
    backends.require_postgres()
    name = backends.unique_name("city1580_empty")
    url = await backends.create_database(name)
    yield url
    await backends.drop_database(name)


@pytest.fixture
async def redis_url() -> AsyncIterator[tuple[str | None, str]]:
    """(REDIS_URL, key prefix) for the test; None on the embedded leg. Keys are removed after."""
    if not backends.POSTGRES:
        yield None, "city1580"
        return
    require("Redis", "127.0.0.1", 6379)
    prefix = backends.unique_name("test")
    yield REDIS_URL, prefix
    client = aioredis.from_url(REDIS_URL)
    keys = [key async for key in client.scan_iter(f"{prefix}:*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


@pytest.fixture
def settings(database_url: str, redis_url: tuple[str | None, str], tmp_path: Path) -> Settings:
    url, prefix = redis_url
    return Settings(
        _env_file=None,
        telegram_bot_token=TOKEN,
        database_url=database_url,
        redis_url=url,
        redis_prefix=prefix,
        webhook_secret=WEBHOOK_SECRET,
        webhook_base_url=None,
        media_dir=tmp_path / "media",
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
    await factory.sessions.close()  # the connections its lender kept (storage._hot)
    await engine.dispose()


@pytest.fixture
def translator(settings: Settings) -> Translator:
    return create_translator(settings)


@pytest.fixture
def dialog(settings: Settings, translator: Translator, clock: FakeClock) -> Dialog:
    return create_dialog(settings, translator, clock)
