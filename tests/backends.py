"""Which databases and Redis the suite runs against.

`make test` runs the suite twice: on the embedded default (SQLite, in-process dialog state) and
with TEST_BACKEND=postgres on PostgreSQL + Redis. Each test then gets its own database, made
from a migrated template, and its own Redis key prefix; both are removed afterwards.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import asyncpg
from sqlalchemy.engine import make_url

from storage.database import create_engine
from storage.migrate import upgrade
from tests.services import require

BACKEND = os.environ.get("TEST_BACKEND", "sqlite")
POSTGRES = BACKEND == "postgres"
ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")


def _dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def database_url(name: str) -> str:
    return make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False)


async def _admin(statement: str) -> None:
    connection = await asyncpg.connect(_dsn(ADMIN_URL))
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


def require_postgres() -> None:
    url = make_url(ADMIN_URL)
    require("PostgreSQL", url.host or "127.0.0.1", url.port or 5432)


async def create_database(name: str, template: str | None = None) -> str:
    clause = f' TEMPLATE "{template}"' if template else ""
    await _admin(f'CREATE DATABASE "{name}"{clause}')
    return database_url(name)


async def drop_database(name: str) -> None:
    await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def unique_name(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


@contextmanager
def migrated_template() -> Iterator[str]:
    """A database with every migration applied, copied for each test (much faster than
    migrating each one), dropped at the end of the run."""
    name = unique_name("city1580_tmpl")

    async def build() -> None:
        url = await create_database(name)
        engine = create_engine(url)
        try:
            await upgrade(engine)
        finally:
            await engine.dispose()

    asyncio.run(build())
    try:
        yield name
    finally:
        asyncio.run(drop_database(name))
