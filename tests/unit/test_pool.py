"""PostgreSQL's pooled connections: one the server closed is replaced before a unit of work
uses it, without asking the server on every checkout (storage.database); one lost under a
unit of work fails it as a passing fault."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool, QueuePool

from bot.faults import Fault, classify
from domain.dialog.events import Channel
from storage._hot import HotStatement
from storage.database import Sessions, create_engine
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


def _checked_out(engine: AsyncEngine) -> int:
    pool = engine.pool
    assert isinstance(pool, QueuePool)
    return pool.checkedout()


_BACKEND = HotStatement(lambda _dialect: select(func.pg_backend_pid()))


async def _backend(sessions: Sessions) -> int:
    """The server process of the connection a plain read was lent (storage._hot `Lender`)."""
    async with sessions.reading() as session:
        rows = await _BACKEND.rows(session, {})
    return int(rows[0][0])


async def test_statements_run_alone_reuse_a_kept_connection_unless_the_server_closed_it(
    database_url: str,
) -> None:
    """Plain reads and a step's one statement borrow a connection each (storage._hot
    `Lender`): a few are kept between them rather than given back to the pool, and one the
    server closed meanwhile is dropped, not lent again."""
    engine = create_engine(database_url)
    sessions = Sessions(engine)
    admin = create_async_engine(database_url, poolclass=NullPool)
    try:
        first = await _backend(sessions)
        assert await _backend(sessions) == first  # kept, and lent again
        async with admin.connect() as other:
            await other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
        await asyncio.sleep(0.3)
        second = await _backend(sessions)
        assert second != first
        assert await _backend(sessions) == second
    finally:
        await sessions.close()
        assert _checked_out(engine) == 0  # every kept connection went back
        await engine.dispose()
        await admin.dispose()


async def test_the_lender_keeps_a_quarter_of_the_pool_at_most(database_url: str) -> None:
    """Many statements at once: the connections beyond those kept go back to the pool, so
    sessions always have most of it."""
    engine = create_engine(database_url, pool_size=8)
    sessions = Sessions(engine)
    try:
        backends = await asyncio.gather(*(_backend(sessions) for _ in range(8)))
        assert len(set(backends)) > 2  # they ran at once, each on a connection of its own
        assert _checked_out(engine) == 2  # kept: a quarter of eight
        async with sessions() as session:  # a unit of work gets one of the rest
            await session.execute(text("SELECT 1"))
    finally:
        await sessions.close()
        assert _checked_out(engine) == 0
        await engine.dispose()


async def test_every_session_gives_its_connection_back_whether_or_not_it_began(
    database_url: str,
) -> None:
    """Sessions that began nothing are not closed through SQLAlchemy (storage.database
    `Sessions`); one that began a transaction is, even when its unit of work fails: its
    write is rolled back and its connection is back in the pool."""
    engine = create_engine(database_url, pool_size=4)  # the lender keeps one
    sessions = Sessions(engine)
    try:
        async with sessions():
            pass
        await _backend(sessions)  # a plain read, on a kept connection
        assert _checked_out(engine) == 1
        async with sessions() as session:
            await session.execute(text("CREATE TABLE marks (id int)"))
            await session.commit()

        async def failing() -> None:
            async with sessions() as session:
                await session.execute(text("INSERT INTO marks VALUES (1)"))
                raise RuntimeError("the unit of work fails mid-transaction")

        with pytest.raises(RuntimeError):
            await failing()
        assert _checked_out(engine) == 1
        async with sessions() as session:
            marks = await session.execute(text("SELECT count(*) FROM marks"))
            assert marks.scalar_one() == 0  # rolled back
        assert _checked_out(engine) == 1
    finally:
        await sessions.close()
        await engine.dispose()
