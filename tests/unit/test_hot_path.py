"""What the hot path keeps in process or writes less often still behaves as the table says."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from aiogram.fsm.storage.base import StorageKey
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.orm import ORMExecuteState
from sqlalchemy.util import await_only

from bot.app import build_application, create_redis, sync_categories
from bot.categories_version import RedisCatalogueVersion
from bot.config import Settings
from domain.entities import CategoryInfo
from storage.categories import CategoryRepository
from storage.fsm import SQLAlchemyStorage
from storage.models import Category
from storage.uow import UnitOfWork, UnitOfWorkFactory
from tests import backends
from tests.asyncpg_trips import round_trips

SMALLER_FILE = """
[[category]]
code = "roads"
names = { uk = "Дороги", en = "Roads" }
sla_hours = 240
department = "ЖКГ"
  [[category.sub]]
  code = "pothole"
  names = { uk = "Вибоїна", en = "Pothole" }
  [[category.sub]]
  code = "manhole"
  names = { uk = "Відкритий люк", en = "Open manhole" }
  sla_hours = 24

[[category]]
code = "parks"
names = { uk = "Парки", en = "Parks" }
sla_hours = 120
department = "Благоустрій"
"""


async def _everything(categories: CategoryRepository) -> list[CategoryInfo]:
    roots = await categories.roots()
    children = [c for root in roots for c in await categories.children(root.id)]
    return roots + children


async def _same_as_the_table(uow: UnitOfWork) -> list[CategoryInfo]:
    """The repository's answers equal those of a repository that reads the table each time."""
    uncached = CategoryRepository(uow.session)
    seen = await _everything(uow.categories)
    assert seen == await _everything(uncached)
    for info in seen:
        assert await uow.categories.by_code(info.code) == await uncached.by_code(info.code)
    assert await uow.categories.by_code("no_such_code") is None
    return seen


async def test_categories_in_process_follow_the_file_after_a_sync(
    uows: UnitOfWorkFactory, settings: Settings, tmp_path: Path
) -> None:
    # One process owns a SQLite file, so it keeps the categories; PostgreSQL reads the table.
    assert (uows.catalogue is not None) is (not backends.POSTGRES)
    async with uows() as uow:
        before = {c.code: c for c in await _same_as_the_table(uow)}
    assert before["roads"].has_children and not before["pothole"].has_children
    assert "lighting" in before and "manhole" not in before

    smaller = tmp_path / "categories.toml"
    smaller.write_text(SMALLER_FILE, encoding="utf-8")
    await sync_categories(uows, smaller)
    async with uows() as uow:
        after = {c.code: c for c in await _same_as_the_table(uow)}
        assert await uow.categories.by_code("light_off") is None  # retired with the file
    assert set(after) == {"roads", "pothole", "manhole", "parks"}
    assert after["manhole"].sla_hours == 24 and after["manhole"].parent_id == after["roads"].id
    assert after["roads"].names["uk"] == "Дороги" and not after["parks"].has_children

    await sync_categories(uows, settings.categories_file)
    async with uows() as uow:
        again = {c.code: c for c in await _same_as_the_table(uow)}
    assert again == before


@contextmanager
def _fsm_writes(engine: AsyncEngine) -> Iterator[list[str]]:
    """The statements that write the dialog state, as the database receives them. The hot
    path sends them straight to the driver (storage._hot), past SQLAlchemy's events, so they
    are read there: SQLite's own trace of every statement, or every prepared statement
    asyncpg runs."""
    seen: list[str] = []
    # SQLite's trace stays on the connections afterwards: it stops counting instead.
    counting = [True]

    def note(statement: str) -> None:
        if not counting[0]:
            return
        if "fsm_records" in statement and not statement.lstrip().upper().startswith("SELECT"):
            seen.append(statement.split()[0].upper())

    if engine.dialect.name != "sqlite":
        with round_trips(note):
            yield seen
        return

    def trace(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        await_only(dbapi_connection.driver_connection.set_trace_callback(note))

    event.listen(engine.sync_engine, "checkout", trace)
    try:
        yield seen
    finally:
        event.remove(engine.sync_engine, "checkout", trace)
        counting[0] = False


async def test_a_step_writes_its_dialog_state_once_at_commit(uows: UnitOfWorkFactory) -> None:
    storage = SQLAlchemyStorage(uows.sessions)
    key = StorageKey(bot_id=1, chat_id=7, user_id=7)
    async with uows() as uow:
        engine = uow.session.bind
        assert isinstance(engine, AsyncEngine)
    with _fsm_writes(engine) as writes:
        async with uows() as uow:
            await storage.set_state(key, "Appeal:category")
            await storage.set_data(key, {"category": "roads"})
            await storage.set_state(key, "Appeal:location")
            assert writes == []  # nothing written before the commit
            await uow.commit()
        assert writes == ["INSERT"]  # one upsert of the step's final state and data

        writes.clear()
        async with uows() as uow:
            assert await storage.get_state(key) == "Appeal:location"
            assert await storage.get_data(key) == {"category": "roads"}
            await storage.set_state(key, "Appeal:photo")
            await storage.set_data(key, {"category": "pothole"})
            await uow.commit()
        assert writes == ["INSERT"]

        # A step that ends the dialog and starts another in the same unit of work writes
        # only where it ended up.
        writes.clear()
        async with uows() as uow:
            await storage.set_state(key, None)
            await storage.set_data(key, {})
            await storage.set_state(key, "Appeal:category")
            await storage.set_data(key, {"fresh": True})
            await uow.commit()
        assert writes == ["INSERT"]

        # A step that only reads writes nothing.
        writes.clear()
        async with uows() as uow:
            assert await storage.get_state(key) == "Appeal:category"
            await uow.commit()
        assert writes == []

    async with uows() as uow:
        assert await storage.get_state(key) == "Appeal:category"
        assert await storage.get_data(key) == {"fresh": True}
        # Not committed: the step's change is gone with its unit of work.
        await storage.set_state(key, "Appeal:photo")
    with _fsm_writes(engine) as writes:
        async with uows() as uow:
            assert await storage.get_state(key) == "Appeal:category"
            await storage.set_state(key, None)
            await storage.set_data(key, {})
            await uow.commit()
        assert writes == ["DELETE"]  # a finished dialog leaves no row
    async with uows():
        assert await storage.get_state(key) is None and await storage.get_data(key) == {}
    # Outside a unit of work the storage commits on its own.
    await storage.set_state(key, "Appeal:done")
    assert await storage.get_state(key) == "Appeal:done"


async def test_every_router_filter_runs_on_the_event_loop(settings: Settings) -> None:
    """aiogram runs a synchronous filter through a thread (asyncio.to_thread): a hop for a
    comparison on every update. Every filter of the bot's routers is a coroutine."""
    app = build_application(settings.model_copy(update={"staff_chat_id": -100123}))
    try:
        checked = 0
        for router in app.dispatcher.chain_tail:
            for observer in router.observers.values():
                handlers = [observer._handler, *observer.handlers]
                for handler in handlers:
                    for check in handler.filters or []:
                        assert check.awaitable, f"{router.name}: {check.callback!r} is synchronous"
                        checked += 1
        assert checked >= 8  # resident, staff and phone-desk filters were all seen
    finally:
        await app.close()


@pytest.mark.postgres_only  # several workers share a database only on PostgreSQL (+ Redis)
async def test_workers_keep_categories_and_see_another_workers_sync(
    uows: UnitOfWorkFactory, settings: Settings, tmp_path: Path
) -> None:
    assert settings.redis_url is not None
    redis = create_redis(settings.redis_url)
    try:
        version = RedisCatalogueVersion(redis, settings.redis_prefix)
        # Two workers, as two processes would have them: each with its own copy.
        first = UnitOfWorkFactory(uows.sessions, version)
        second = UnitOfWorkFactory(uows.sessions, version)
        async with first() as uow:
            before = {c.code for c in await _same_as_the_table(uow)}
        assert "lighting" in before
        reads: list[str] = []
        event.listen(uows.sessions.session_class, "do_orm_execute", _categories_read(reads))
        async with first() as uow:
            assert {c.code for c in await _everything(uow.categories)} == before
        assert reads == []  # the copy answered: the version had not moved

        smaller = tmp_path / "categories.toml"
        smaller.write_text(SMALLER_FILE, encoding="utf-8")
        await sync_categories(second, smaller)  # the other worker starts with a new file
        async with first() as uow:
            after = {c.code for c in await _same_as_the_table(uow)}
        assert after == {"roads", "pothole", "manhole", "parks"}
        assert reads  # read again from the table, once
    finally:
        await sync_categories(uows, settings.categories_file)
        await redis.aclose()


def _categories_read(reads: list[str]) -> Any:
    def note(state: ORMExecuteState) -> None:
        if state.is_select and any(m.class_ is Category for m in state.all_mappers):
            reads.append("categories")

    return note
