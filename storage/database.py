"""Engine and session factories for SQLite (embedded default) and PostgreSQL."""

from __future__ import annotations

import os
import stat
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import Session
from sqlalchemy.pool import AsyncAdaptedQueuePool, PoolResetState, QueuePool

from storage._hot import CLEAN, Lender, Trips, join_trips


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


class DatabasePathError(Exception):
    """The SQLite file cannot be created or written; the message is one sentence for the
    operator."""


def check_sqlite_path(database: str) -> None:
    """Create the database's folder, and say in one sentence what is wrong with the path
    rather than let SQLite fail later with a traceback."""
    path = Path(database)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DatabasePathError(
            f"The database folder {path.parent} cannot be created ({exc.strerror}): create it "
            "or point DATABASE_URL at a writable place."
        ) from exc
    if path.is_dir():
        raise DatabasePathError(
            f"DATABASE_URL names {path}, which is a folder: name a file inside it instead."
        )
    # Mode bits as well as access(): a root process may write anything, but a file someone
    # made read-only is a sign to stop, not to override.
    if path.exists() and (
        not os.access(path, os.R_OK | os.W_OK) or not path.stat().st_mode & stat.S_IWUSR
    ):
        raise DatabasePathError(
            f"The database file {path} is read-only: make it writable for the bot's user "
            "or point DATABASE_URL at another file."
        )
    if not os.access(path.parent, os.W_OK | os.X_OK):
        raise DatabasePathError(
            f"The database folder {path.parent} is not writable, and SQLite keeps its journal "
            "beside the file: make the folder writable or point DATABASE_URL elsewhere."
        )


def create_engine(url: str, *, echo: bool = False, pool_size: int = 20) -> AsyncEngine:
    """An engine tuned for the backend; SQLite's folder is created on first run. Statement
    parameters are kept out of error messages: they hold phone numbers and names."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        engine = create_async_engine(
            url,
            echo=echo,
            hide_parameters=True,
            # A fixed number of connections, kept: under a burst the pool's overflow
            # connections were opened and closed again by the dozen (each a TLS attempt, a
            # login and every statement prepared anew), the most costly thing an update did
            # there. A unit of work holds one connection at a time: a dialog step only for
            # its reads and its commit's one statement (storage._hot), so a burst waits for
            # one briefly instead.
            pool_size=pool_size,
            max_overflow=0,
        )
        _check_on_checkout(engine)
        return engine
    if parsed.database and parsed.database != ":memory:":
        check_sqlite_path(parsed.database)
    engine = create_async_engine(
        url,
        echo=echo,
        connect_args={"timeout": 30},
        hide_parameters=True,
        # One connection, and so one transaction at a time in this process: SQLite has a
        # single writer, and waiting for the pool's connection (first come, first served) is
        # far faster than SQLite's busy handler, which sleeps in growing steps. It is taken at
        # a unit of work's first statement and given back at its commit, so what a unit of
        # work does before (the dialog's thinking, from the caches) does not hold it.
        poolclass=AsyncAdaptedQueuePool,
        pool_size=1,
        max_overflow=0,
        pool_timeout=None,
        # Rolled back on return by `_tune_sqlite`'s reset, which knows one more clean case.
        pool_reset_on_return=None,
    )
    _tune_sqlite(engine)
    return engine


def _check_on_checkout(engine: AsyncEngine) -> None:
    """A pooled connection the server closed (a restart, an administrator's terminate) is
    replaced before use. SQLAlchemy's pre-ping asked the server on every checkout, and on
    asyncpg that is three round trips (BEGIN, an empty query, ROLLBACK): more than a whole
    update's own statements. The driver already knows of a closed socket, without asking.
    A connection that dies silently (a network partition) fails its first statement
    instead; that invalidates the pool (SQLAlchemy's disconnect handling), and the update is
    answered as a passing fault, so Telegram delivers it again."""

    @event.listens_for(engine.sync_engine, "checkout")
    def _on_checkout(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        closed = getattr(dbapi_connection.driver_connection, "is_closed", None)
        if closed is not None and closed():
            # The pool drops it and hands out a new connection (SQLAlchemy's own recipe).
            raise DisconnectionError("the server closed this connection")


def _tune_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when a transaction begins.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine.sync_engine, "reset")
    def _on_reset(dbapi_connection: Any, record: Any, state: PoolResetState) -> None:
        # SQLAlchemy's rollback-on-return, less a trip to aiosqlite's thread for a connection
        # whose held writes committed or rolled back on that thread (storage._hot).
        if record.info.pop(CLEAN, False) or state.transaction_was_reset:
            return
        if state.asyncio_safe:
            dbapi_connection.rollback()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        # Take the write lock up front: a deferred transaction that reads and then writes can
        # fail with SQLITE_BUSY instead of waiting when another writer got there first.
        connection.exec_driver_sql("BEGIN IMMEDIATE")


class Sessions:
    """Opens sessions on one engine. On SQLite the engine's single connection is the gate:
    a session holds it from its first statement to its commit or rollback (create_engine)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        # A class of its own, so that the listeners of this application's caches
        # (storage.accounts) hear its sessions only.
        self.session_class: type[Session] = type("AppSession", (Session,), {})
        self._maker = async_sessionmaker(
            engine,
            expire_on_commit=False,
            autoflush=False,
            sync_session_class=self.session_class,
        )
        self._single = engine.dialect.name == "sqlite"
        # Where one process owns the database: short transactions in shared trips.
        self._trips = Trips(engine) if self._single else None
        # PostgreSQL: connections for statements that run alone, a few kept between them
        # (a quarter of the pool at most: sessions have the rest).
        pool = engine.pool
        keep = pool.size() // 4 if isinstance(pool, QueuePool) else 0
        self.lender = None if self._single else Lender(engine, keep=keep)
        # PostgreSQL: each statement its own transaction, for units of work that only read
        # (`reading`): no BEGIN and ROLLBACK around them, two round trips fewer.
        self._reading_maker = (
            self._maker
            if self._single
            else async_sessionmaker(
                engine.execution_options(isolation_level="AUTOCOMMIT"),
                expire_on_commit=False,
                autoflush=False,
                sync_session_class=self.session_class,
            )
        )

    async def close(self) -> None:
        """Before the engine is disposed (bot.app)."""
        if self._trips is not None:
            await self._trips.close()
        if self.lender is not None:
            await self.lender.close()

    @property
    def single_process(self) -> bool:
        """SQLite: this process is the database's only writer (one bot process per file)."""
        return self._single

    def __call__(self) -> AbstractAsyncContextManager[AsyncSession]:
        return self._opened(self._maker())

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[AsyncSession]:
        """A session that only reads and needs no snapshot across its statements: on
        PostgreSQL each of them runs on its own (a write would commit at once: the unit of
        work refuses to commit one, `storage.uow`)."""
        async with self._opened(self._reading_maker()) as session:
            session.info[READING] = True
            yield session

    @asynccontextmanager
    async def _opened(self, session: AsyncSession) -> AsyncIterator[AsyncSession]:
        try:
            join_trips(session, self._trips, self.lender)
            yield session
        finally:
            # A session that began nothing and holds no objects has nothing to close; most
            # dialog steps' sessions are such (their statements run alone: storage._hot), and
            # SQLAlchemy's close took a task, a shield and a greenlet each time.
            if session.in_transaction() or session.sync_session.identity_map or session.new:
                async with session:  # SQLAlchemy's close, run to its end even if cancelled
                    pass


# Marks a session of `Sessions.reading`.
READING = "reading_only"


def create_session_factory(engine: AsyncEngine) -> Sessions:
    return Sessions(engine)
