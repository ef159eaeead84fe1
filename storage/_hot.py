"""The hot path's fixed statements, and writes held until the unit of work commits.

Every update runs the same handful of statements: claim its id, read the account and the
dialog state, queue its replies, write the state. Through SQLAlchemy's session each of them
costs its statement machinery and about four trips to aiosqlite's thread; that work, not
SQLite, was most of the bot's CPU per update (README, "Benchmark"). A `HotStatement` is a
Core statement compiled once per dialect. On SQLite it runs straight on aiosqlite's
connection with one trip (`execute_fetchall`), in the session's own transaction, with the
column types' own converters applied both ways, so the rows read and written are exactly
what the ORM reads and writes. On PostgreSQL it runs on asyncpg's connection under the
session's transaction, as a statement prepared once per connection (SQLAlchemy's adapter's
own cache), without SQLAlchemy's execution around it: that machinery, not asyncpg or the
server, was most of the CPU of each statement (README, "Benchmark").

These statements bypass the session's identity map: they are used only for rows no ORM
object of the unit of work stands for (a claim, a reply's outbox row, the dialog state) or
read into plain values.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Awaitable, Callable, Generator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Column, Insert, Table, bindparam, insert
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession
from sqlalchemy.pool import PoolProxiedConnection
from sqlalchemy.sql import ColumnElement
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import BindParameter
from sqlalchemy.sql.expression import ClauseElement
from sqlalchemy.util import greenlet_spawn

logger = logging.getLogger(__name__)

# Converts a value to or from what the driver takes or gives (a column type's processor).
Processor = Callable[[Any], Any] | None
Rows = list[tuple[Any, ...]]
# A write held until the commit: a generator that yields the statements to run, with their
# parameters, and is sent back each one's rows. Written once, it runs on aiosqlite's thread
# (all of a commit's held writes in one trip) or through the session (PostgreSQL).
Program = Generator[tuple["HotStatement", Mapping[str, Any]], Rows, None]
# Makes the program on the event loop's thread, right before the commit runs it, so that
# what it takes from the process (its snapshot of in-flight rows) is read there.
HeldWrite = Callable[[], Program]

_HELD = "hot_held_writes"
_AFTER = "hot_after_commit"
_UNDO = "hot_on_rollback"
_BEFORE = "hot_before_commit"
_CHECKED_OUT = "hot_checked_out"
_ALONE = "hot_alone"
_AUTOCOMMIT = "hot_autocommit"
_LENDER = "hot_lender"


@dataclass(frozen=True, slots=True)
class Alone:
    """A held write that is one statement, and the program that takes it back once it has
    committed on its own (`commit`)."""

    undo: Callable[[], Program]


def param(column: Column[Any] | ColumnElement[Any]) -> BindParameter[Any]:
    """A bound parameter named and typed after its column."""
    return bindparam(column.key, type_=column.type)


def insert_of(model: type[Any], columns: str, **fixed: Any) -> Insert:
    """An INSERT into the model's table of `columns` (names apart by spaces), each given as a
    parameter named after it, and of `fixed` values."""
    table = cast(Table, model.__table__)
    return insert(table).values({name: param(table.c[name]) for name in columns.split()} | fixed)


@dataclass(frozen=True, slots=True)
class _Compiled:
    sql: str
    # Each positional parameter's name, default and converter, in order.
    binds: tuple[tuple[str, Any, Processor], ...]
    # Each result column's converter.
    results: tuple[Processor, ...]
    # A SELECT (it writes nothing).
    reads: bool

    def parameters(self, given: Mapping[str, Any]) -> tuple[Any, ...]:
        out = []
        for name, default, process in self.binds:
            value = given.get(name, default)
            out.append(process(value) if process is not None else value)
        return tuple(out)

    def row(self, raw: Sequence[Any]) -> tuple[Any, ...]:
        return tuple(
            process(value) if process is not None else value
            for value, process in zip(raw, self.results, strict=True)
        )


class HotStatement:
    """A statement built per dialect (`build` is given the dialect's name), compiled once."""

    def __init__(self, build: Callable[[str], ClauseElement]) -> None:
        self._build = build
        self._statements: dict[str, ClauseElement] = {}
        self._compiled: dict[str, _Compiled] = {}

    def statement(self, dialect: Dialect) -> ClauseElement:
        if dialect.name not in self._statements:
            self._statements[dialect.name] = self._build(dialect.name)
        return self._statements[dialect.name]

    def _compile(self, dialect: Dialect) -> _Compiled:
        if dialect.name in self._compiled:
            return self._compiled[dialect.name]
        statement = self.statement(dialect)
        compiled = statement.compile(dialect=dialect)
        assert isinstance(compiled, SQLCompiler)
        columns = getattr(statement, "exported_columns", ())
        if isinstance(statement, Insert) and not columns and compiled.returning:
            # PostgreSQL's compiler returns a one-row INSERT's key unasked (for the ORM): rows
            # nobody reads, which SQLite's does not return.
            compiled = statement.inline().compile(dialect=dialect)
            assert isinstance(compiled, SQLCompiler)
        names = compiled.positiontup or []
        # An IN list's parameter is rendered per execution (SQLAlchemy's post-compile step),
        # which a statement compiled once has not.
        assert not any(compiled.binds[name].expanding for name in names), "no IN lists"
        binds = tuple(
            (
                name,
                compiled.binds[name].value,
                compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect),
            )
            for name in names
        )
        results = tuple(
            column.type.dialect_impl(dialect).result_processor(dialect, None) for column in columns
        )
        # A plain read: on PostgreSQL it may run before the transaction begins (`_on_asyncpg`).
        locks = " FOR UPDATE" in compiled.string or " FOR SHARE" in compiled.string
        reads = not (compiled.isinsert or compiled.isupdate or compiled.isdelete or locks)
        self._compiled[dialect.name] = _Compiled(compiled.string, binds, results, reads)
        return self._compiled[dialect.name]

    async def rows(self, session: AsyncSession, parameters: Mapping[str, Any]) -> Rows:
        """Run in the session's transaction; the rows it returns, converted."""
        dialect = session.get_bind().dialect
        compiled = self._compile(dialect)
        if dialect.name != "sqlite":
            return await _on_asyncpg(session, dialect, compiled, parameters)
        trips: Trips | None = session.info.get(_TRIPS)
        if trips is not None and compiled.reads and not session.in_transaction():
            # A read before the unit of work's transaction began: a trip of its own, so that
            # none is begun for it (`run`). A write begins it, as it always did.
            return await trips.read(self, parameters)
        driver = await _driver(session)
        values = compiled.parameters(parameters)
        try:
            raw = await driver.execute_fetchall(compiled.sql, values)
        except sqlite3.Error as exc:
            raise _as_sqlalchemy(exc, compiled.sql) from exc
        return [compiled.row(row) for row in raw]

    def run_on(
        self, connection: sqlite3.Connection, dialect: Dialect, parameters: Mapping[str, Any]
    ) -> Rows:
        """Run on aiosqlite's thread, with its sqlite3 connection (see `Trips`)."""
        compiled = self._compile(dialect)
        raw = connection.execute(compiled.sql, compiled.parameters(parameters)).fetchall()
        return [compiled.row(row) for row in raw]


def _as_sqlalchemy(exc: sqlite3.Error, sql: str) -> Exception:
    # As SQLAlchemy raises it for every other statement (OperationalError, IntegrityError...):
    # the unit of work, the fault classifier and the logs know those. Parameters stay out of
    # the message: they hold phone numbers and names.
    return DBAPIError.instance(sql, (), exc, sqlite3.Error, hide_parameters=True)


async def _driver(session: AsyncSession) -> Any:
    """aiosqlite's connection under the session's transaction (begun here if it was not)."""
    _connection, pooled = await _checked_out(session)
    driver = pooled.driver_connection
    assert driver is not None, "a checked-out connection has its driver's connection"
    return driver


async def _checked_out(session: AsyncSession) -> tuple[AsyncConnection, PoolProxiedConnection]:
    """The session's connection (begun here if it was not) and the pool's connection under it,
    found once per transaction: asking the session each time took two greenlet switches."""
    held = session.info.get(_CHECKED_OUT)
    transaction = session.sync_session.get_transaction()
    if (
        held is not None
        and transaction is not None
        and held[0] is transaction
        and transaction.is_active
    ):
        return held[1], held[2]
    connection = await session.connection()
    pooled = await connection.get_raw_connection()
    session.info[_CHECKED_OUT] = (session.sync_session.get_transaction(), connection, pooled)
    return connection, pooled


async def _on_asyncpg(
    session: AsyncSession, dialect: Dialect, compiled: _Compiled, parameters: Mapping[str, Any]
) -> Rows:
    """Run on asyncpg, without SQLAlchemy's execution context and result machinery. A plain
    read, or the one statement a commit sends on its own (`commit`), before the session has
    begun anything runs on a connection lent for it alone (`Lender`), as a transaction of
    one statement: it sees what is committed (as at READ COMMITTED inside one), and the
    session holds no connection through the dialog's thinking. Otherwise it runs in the
    session's transaction, begun with its first write."""
    if not session.in_transaction() and (compiled.reads or session.info.get(_AUTOCOMMIT)):
        return await lender_of(session).run(compiled, parameters)
    connection, adapter = await _pg_connection(session)
    return await _fetch(dialect, adapter, compiled, parameters, connection, begin=True)


async def run_alone(lender: Lender, statement: HotStatement, parameters: Mapping[str, Any]) -> Rows:
    """PostgreSQL: one statement as its own transaction, on a connection lent for it: one
    round trip."""
    return await lender.run(statement._compile(lender.engine.dialect), parameters)


def lender_of(session: AsyncSession) -> Lender:
    """The session's lender (storage.database), or one that keeps nothing for a session made
    elsewhere."""
    lender: Lender | None = session.info.get(_LENDER)
    return lender if lender is not None else Lender(cast(AsyncEngine, session.bind))


class Lender:
    """PostgreSQL: the connections that statements run alone (a plain read, a dialog step's
    one statement) borrow from the pool, a few kept between them. Taking one from
    SQLAlchemy's pool and giving it back (the checkout's events, the reset on return, a
    greenlet for each) cost more CPU than the statement run on it did; a kept connection is
    checked as the pool's checkout checks it (storage.database): one the server closed is
    dropped, not lent. `keep` connections at most stay out of the pool, so sessions have the
    rest of it. A lender that keeps none (`keep=0`) borrows and gives back each time."""

    def __init__(self, engine: AsyncEngine, keep: int = 0) -> None:
        self.engine = engine
        self._keep = keep
        self._idle: list[PoolProxiedConnection] = []
        self._closed = False

    async def run(self, compiled: _Compiled, parameters: Mapping[str, Any]) -> Rows:
        pooled = await self._lend()
        done = False
        try:
            rows = await _fetch(
                self.engine.dialect, pooled.dbapi_connection, compiled, parameters, pooled
            )
            done = True
            return rows
        finally:
            await self._give_back(pooled, reusable=done)

    async def _lend(self) -> PoolProxiedConnection:
        while self._idle:
            pooled = self._idle.pop()
            if _usable(pooled):
                return pooled
            pooled.invalidate()
            await greenlet_spawn(pooled.close)
        return await self.engine.raw_connection()

    async def _give_back(self, pooled: PoolProxiedConnection, *, reusable: bool) -> None:
        # After a failed statement the pool's reset on return puts the connection right.
        if reusable and not self._closed and len(self._idle) < self._keep and _usable(pooled):
            self._idle.append(pooled)
            return
        await greenlet_spawn(pooled.close)

    async def close(self) -> None:
        """Give every kept connection back to the pool (before the engine is disposed); those
        lent now go back when their statements end."""
        self._closed = True
        idle, self._idle = self._idle, []
        for pooled in idle:
            await greenlet_spawn(pooled.close)


def _usable(pooled: PoolProxiedConnection) -> bool:
    """Valid, not closed by the server, in no transaction."""
    adapter = pooled.dbapi_connection
    driver = pooled.driver_connection
    return (
        pooled.is_valid
        and adapter is not None
        and getattr(adapter, "_transaction", None) is None
        and driver is not None
        and not driver.is_closed()
    )


async def _fetch(
    dialect: Dialect,
    adapter: Any,
    compiled: _Compiled,
    parameters: Mapping[str, Any],
    owner: AsyncConnection | PoolProxiedConnection,
    *,
    begin: bool = False,
) -> Rows:
    """What SQLAlchemy's asyncpg cursor does for a statement: under the adapter's lock, begin
    asyncpg's transaction (with `begin`, for a write that is the transaction's first), take
    the statement prepared on this connection (or prepare it), fetch. A driver error arrives
    as SQLAlchemy raises it; one that means the connection is gone also invalidates the
    connection (`owner`), so the pool does not hand it out again. The adapter's
    `_execute_mutex`, `_transaction`, `_start_transaction`, `_prepare` and
    `_handle_exception` are not public: every update on PostgreSQL goes through them, so a
    release of SQLAlchemy that changes them fails the whole PostgreSQL leg."""
    values = compiled.parameters(parameters)
    try:
        async with adapter._execute_mutex:
            if begin and adapter._transaction is None and not compiled.reads:
                await adapter._start_transaction()
            try:
                prepared, _attributes = await adapter._prepare(
                    compiled.sql, getattr(dialect, "_invalidate_schema_cache_asof", 0)
                )
                raw = await prepared.fetch(*values)
            except Exception as error:
                adapter._handle_exception(error)
    except dialect.loaded_dbapi.Error as exc:
        gone = dialect.is_disconnect(exc, adapter, None)
        if gone:
            if isinstance(owner, AsyncConnection):
                await owner.invalidate(exc)
            else:
                owner.invalidate(exc)
        raise DBAPIError.instance(
            compiled.sql,
            (),
            exc,
            dialect.loaded_dbapi.Error,
            hide_parameters=True,
            dialect=dialect,
            connection_invalidated=gone,
        ) from exc
    return [compiled.row(row) for row in raw]


async def _pg_connection(session: AsyncSession) -> tuple[AsyncConnection, Any]:
    """The session's connection and SQLAlchemy's asyncpg adapter under it."""
    connection, pooled = await _checked_out(session)
    adapter = pooled.dbapi_connection
    assert adapter is not None, "a checked-out connection has its DBAPI connection"
    return connection, adapter


def hold_until_commit(
    session: AsyncSession, key: str, write: HeldWrite, *, alone: Alone | None = None
) -> None:
    """Keep `write` for the commit, replacing any earlier write held under `key`: a dialog
    step that sets its state and then its data writes the row once. Writes run in the order
    they were first held. `alone` says that `write` is one statement and how to take it back
    (`commit`, on PostgreSQL)."""
    held: dict[str, HeldWrite] = session.info.setdefault(_HELD, {})
    held[key] = write
    alones: dict[str, Alone] = session.info.setdefault(_ALONE, {})
    if alone is not None:
        alones[key] = alone
    else:
        alones.pop(key, None)


def take_held(session: AsyncSession, key: str) -> bool:
    """Drop the write held under `key` (its caller writes it another way); whether one was."""
    session.info.get(_ALONE, {}).pop(key, None)
    return session.info.get(_HELD, {}).pop(key, None) is not None


def _programs(session: AsyncSession) -> list[Program]:
    session.info.pop(_ALONE, None)
    held: dict[str, HeldWrite] = session.info.pop(_HELD, {})
    return [make() for make in held.values()]


async def run(session: AsyncSession, program: Program) -> None:
    """Run a program that only reads, now: in the session's transaction if it has one;
    otherwise, where one process owns the database, as a trip of its own (`Trips`), so that
    the read does not begin a transaction that would hold the database's connection through
    the thinking after it."""
    trips: Trips | None = session.info.get(_TRIPS)
    if trips is not None and not session.in_transaction():
        await trips.run([program])
        return
    await _drive(session, program)


async def _drive(session: AsyncSession, program: Program, *, limit: int | None = None) -> None:
    ran = 0
    try:
        query = next(program)
        while True:
            statement, parameters = query
            ran += 1
            assert limit is None or ran <= limit, "a program held as one statement ran more"
            query = program.send(await statement.rows(session, parameters))
    except StopIteration:
        pass


async def commit(session: AsyncSession) -> None:
    """Commit the session with its held writes, then tell those waiting for the commit.

    Where one process owns the database and nothing was read or written through the session
    (the caches and trips answered every read), the held writes are all there is: they join
    the next trip (`Trips`), a few statements in one transaction with other updates' writes.
    Otherwise they run in the session's transaction before it commits.

    Writes outside the database (`before_commit`) go after the held writes and right before
    the commit itself, so that a held write that fails (a filing, the database away) leaves
    them unwritten; in a shared trip, which commits as it runs, they go first."""
    trips: Trips | None = session.info.get(_TRIPS)
    if (
        trips is not None
        and not session.in_transaction()
        and not (session.new or session.dirty or session.deleted)
    ):
        await _outside(session)
        programs = _programs(session)
        if programs:
            await trips.run(programs)
    elif trips is None and await _alone(session):
        await _commit_alone(session)
    else:
        await _before_commit(session)
        await _outside(session)
        await session.commit()
    committed(session)


async def _alone(session: AsyncSession) -> bool:
    """PostgreSQL, where the unit of work's only write is one held statement (a dialog
    step's claim and replies) and its session has begun nothing (its reads borrowed their
    connections: `_on_asyncpg`)."""
    held: dict[str, HeldWrite] = session.info.get(_HELD, {})
    if len(held) != 1 or set(held) != set(session.info.get(_ALONE, {})):
        return False
    if session.new or session.dirty or session.deleted:
        return False
    if session.get_bind().dialect.name == "sqlite":
        return False
    return not session.in_transaction()


async def _commit_alone(session: AsyncSession) -> None:
    """The one statement as its own transaction (one round trip where BEGIN, the statement
    and COMMIT took three), then the writes outside the database. Those come after it here:
    the statement may find the update handled already (its claim), and then must leave the
    dialog alone. If they fail, the statement is taken back (its `Alone.undo`, in a
    transaction of its own), so that the update, delivered again, is handled again whole."""
    key, make = next(iter(session.info.pop(_HELD).items()))
    alone: Alone = session.info.pop(_ALONE)[key]
    session.info[_AUTOCOMMIT] = True
    try:
        await _drive(session, make(), limit=1)
    finally:
        session.info.pop(_AUTOCOMMIT, None)
    try:
        await _outside(session)
    except BaseException:
        try:
            await _drive(session, alone.undo())
            await session.commit()
        except Exception as exc:
            logger.error(
                "a step's statement could not be taken back after the dialog's write failed: %s",
                type(exc).__name__,
            )
        raise
    if session.in_transaction() or session.new or session.dirty or session.deleted:
        await session.commit()
    # Otherwise the session began nothing: SQLAlchemy's commit would begin a transaction of
    # its own only to end it, on every dialog step.


async def _outside(session: AsyncSession) -> None:
    for write in session.info.pop(_BEFORE, {}).values():
        await write()


async def _before_commit(session: AsyncSession) -> None:
    programs = _programs(session)
    if not programs:
        return
    dialect = session.get_bind().dialect
    if dialect.name != "sqlite":
        for program in programs:
            await _drive(session, program)
        return
    driver = await _driver(session)
    try:
        # One trip for all of them, in the session's transaction (see `Trips` on `_execute`).
        await driver._execute(_run_all, driver._conn, dialect, programs)
    except sqlite3.Error as exc:
        raise _as_sqlalchemy(exc, "(held writes)") from exc


def _run_all(connection: sqlite3.Connection, dialect: Dialect, programs: list[Program]) -> None:
    for program in programs:
        try:
            query = next(program)
            while True:
                statement, parameters = query
                query = program.send(statement.run_on(connection, dialect, parameters))
        except StopIteration:
            pass


# Marks a pooled connection left outside any transaction (storage.database skips its reset).
CLEAN = "hot_clean"
_TRIPS = "hot_trips"
# How one unit of work's programs in a trip ended: None, or what they raised.
Outcome = BaseException | None


class Trips:
    """Short transactions on SQLite, each one trip to aiosqlite's thread, shared by the
    updates that are ready at the same time (group commit).

    The database's one connection is the gate (storage.database). Every trip to aiosqlite's
    thread costs a turn of the event loop before its answer is read, and under load a turn is
    milliseconds long: a unit of work that took the connection for its whole thinking and a
    handful of trips held it for tens of milliseconds. Here an update's thinking runs without
    it; its reads that the caches do not answer and its held writes wait in a queue, and one
    task takes the connection for one trip that runs everything queued: BEGIN IMMEDIATE, each
    update's programs under a savepoint of their own (one that fails is rolled back alone and
    its update is told why), COMMIT. Each waiting update then goes on; its replies are sent
    after the commit that holds its writes, as before.

    aiosqlite runs every call of a connection as a function queued to the connection's
    thread; `_execute` is that queue, and `_conn` the sqlite3 connection the thread owns. No
    public call runs several statements in one trip. Every update on SQLite goes through them,
    so a release of aiosqlite that changes them fails the whole SQLite leg."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._queued: list[tuple[list[Program], asyncio.Future[None]]] = []
        self._worker: asyncio.Task[None] | None = None
        self._closed = False

    async def close(self) -> None:
        """Finish the trips in hand and take no more, before the engine is disposed: a trip
        cut short there could leave the connection checked out, and aiosqlite's thread (not
        a daemon) then keeps the process from exiting."""
        self._closed = True
        if self._worker is not None:
            await asyncio.shield(self._worker)

    async def run(self, programs: list[Program]) -> None:
        """Run the programs in the next trip's transaction; raises what they raised (their
        writes are then rolled back) or what failed the whole trip."""
        if self._closed:
            raise ConnectionError("the database's trips have stopped")
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queued.append((programs, future))
        if self._worker is None:
            self._worker = asyncio.create_task(self._work(), name="sqlite trips")
        await future

    async def read(self, statement: HotStatement, parameters: Mapping[str, Any]) -> Rows:
        found: list[Rows] = []

        def program() -> Program:
            found.append((yield statement, parameters))

        await self.run([program()])
        return found[0]

    async def _work(self) -> None:
        batch: list[tuple[list[Program], asyncio.Future[None]]] = []
        try:
            while self._queued:
                batch = [(p, f) for p, f in self._queued if not f.done()]
                self._queued = []
                if not batch:
                    continue
                try:
                    outcomes = await self._trip([programs for programs, _future in batch])
                except Exception as exc:
                    outcomes = [exc] * len(batch)
                for (_programs, future), outcome in zip(batch, outcomes, strict=True):
                    if future.done():
                        continue
                    if outcome is None:
                        future.set_result(None)
                    elif isinstance(outcome, sqlite3.Error):
                        future.set_exception(_as_sqlalchemy(outcome, "(held writes)"))
                    else:
                        future.set_exception(outcome)
        finally:
            self._worker = None
            # Stopped (the application is closing): nobody may wait for a trip forever.
            for _programs, future in [*batch, *self._queued]:
                if not future.done():
                    future.set_exception(ConnectionError("the database's trips have stopped"))
            self._queued = []

    async def _trip(self, items: list[list[Program]]) -> list[Outcome]:
        dialect = self._engine.dialect
        pooled = await self._engine.raw_connection()
        try:
            driver: Any = pooled.driver_connection
            outcomes: list[Outcome] = await driver._execute(_run_trip, driver._conn, dialect, items)
            # Committed or rolled back on the thread, whatever happened: nothing to reset.
            pooled.info[CLEAN] = True
            return outcomes
        finally:
            await greenlet_spawn(pooled.close)


def _run_trip(
    connection: sqlite3.Connection, dialect: Dialect, items: list[list[Program]]
) -> list[Outcome]:
    """On aiosqlite's thread: one transaction, each item under a savepoint of its own."""
    outcomes: list[Outcome] = []
    connection.execute("BEGIN IMMEDIATE")
    try:
        for programs in items:
            connection.execute("SAVEPOINT hot_item")
            try:
                _run_all(connection, dialect, programs)
            except Exception as exc:
                connection.execute("ROLLBACK TO hot_item")
                connection.execute("RELEASE hot_item")
                outcomes.append(exc)
            else:
                connection.execute("RELEASE hot_item")
                outcomes.append(None)
        connection.execute("COMMIT")
    except BaseException:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        raise
    return outcomes


def join_trips(session: AsyncSession, trips: Trips | None, lender: Lender | None = None) -> None:
    """Let the session's hot statements and commit use `trips` (SQLite) or `lender`
    (PostgreSQL: storage.database)."""
    if trips is not None:
        session.info[_TRIPS] = trips
    if lender is not None:
        session.info[_LENDER] = lender


def after_commit(session: AsyncSession, key: str, then: Callable[[], None]) -> None:
    """Call `then` once the transaction has committed (not if it rolls back), replacing any
    earlier one kept under `key`: the caches in process learn what the commit wrote."""
    kept: dict[str, Callable[[], None]] = session.info.setdefault(_AFTER, {})
    kept[key] = then


def before_commit(session: AsyncSession, key: str, write: Callable[[], Awaitable[None]]) -> None:
    """Await `write` right before the commit (after the held writes: `commit`), once however
    often it is kept under `key`: a store outside the database (the dialog state in Redis)
    writes what the unit of work changed in one go. If it raises, nothing commits."""
    kept: dict[str, Callable[[], Awaitable[None]]] = session.info.setdefault(_BEFORE, {})
    kept[key] = write


def on_rollback(session: AsyncSession, key: str, then: Callable[[], None]) -> None:
    """Call `then` if the transaction rolls back (not once it has committed): what the process
    gave out for it (an appeal number) can be given again."""
    kept: dict[str, Callable[[], None]] = session.info.setdefault(_UNDO, {})
    kept[key] = then


def committed(session: AsyncSession) -> None:
    """The transaction committed: tell those waiting for it. Called before the unit of work
    ends, so while its chat's lock is still held: the chat's next update reads what the
    commit wrote."""
    session.info.pop(_UNDO, None)
    for then in session.info.pop(_AFTER, {}).values():
        then()


def forget_held(session: AsyncSession) -> None:
    """The transaction rolled back: what it held is gone with it."""
    session.info.pop(_HELD, None)
    session.info.pop(_ALONE, None)
    session.info.pop(_AFTER, None)
    session.info.pop(_BEFORE, None)
    for then in session.info.pop(_UNDO, {}).values():
        then()
