"""PostgreSQL's pooled connections: one the server closed is replaced before a unit of work
uses it, without asking the server on every checkout (storage.database)."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from storage.database import create_engine

pytestmark = pytest.mark.postgres_only


async def test_a_connection_the_server_closed_is_replaced_before_use(database_url: str) -> None:
    engine = create_engine(database_url)
    admin = create_async_engine(database_url, poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            first = (await connection.execute(text("SELECT pg_backend_pid()"))).scalar_one()
        async with admin.connect() as other:
            await other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
        # The driver learns of the closed socket from the event loop, in a moment.
        await asyncio.sleep(0.3)
        async with engine.connect() as connection:
            second = (await connection.execute(text("SELECT pg_backend_pid()"))).scalar_one()
        assert second != first
    finally:
        await engine.dispose()
        await admin.dispose()
