"""PostgreSQL's pooled connections: one the server closed is replaced before a unit of work
uses it, without asking the server on every checkout (storage.database); one lost under a
unit of work fails it as a passing fault."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from bot.faults import Fault, classify
from domain.dialog.events import Channel
from storage.database import create_engine
from storage.uow import UnitOfWorkFactory

pytestmark = pytest.mark.postgres_only

NOW = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)


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


async def test_a_connection_lost_mid_update_fails_it_as_passing_and_is_not_reused(
    uows: UnitOfWorkFactory, database_url: str
) -> None:
    """A hot statement (storage._hot) on a connection that died under the unit of work: the
    update fails as a passing fault (it is delivered again), as SQLAlchemy's own error for a
    lost connection, and the next update gets a live one."""
    admin = create_async_engine(database_url, poolclass=NullPool)
    try:
        async with uows() as uow:
            assert await uow.updates.claim(Channel.TELEGRAM, 1, NOW)  # begins its transaction
            pid = (await uow.session.execute(text("SELECT pg_backend_pid()"))).scalar_one()
            async with admin.connect() as other:
                await other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            await asyncio.sleep(0.3)
            with pytest.raises(DBAPIError) as lost:
                await uow.updates.claim(Channel.TELEGRAM, 2, NOW)
        assert lost.value.connection_invalidated
        assert classify(lost.value) is Fault.TRANSIENT
        async with uows() as uow:
            assert await uow.updates.claim(Channel.TELEGRAM, 2, NOW)
            again = (await uow.session.execute(text("SELECT pg_backend_pid()"))).scalar_one()
            await uow.commit()
        assert again != pid
    finally:
        await admin.dispose()
