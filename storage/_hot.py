"""The hot path's fixed statements, and writes held until the unit of work commits.

Every update runs the same handful of statements: claim its id, read the account and the
dialog state, queue its replies, write the state. Through SQLAlchemy's session each of them
costs its statement machinery and about four trips to aiosqlite's thread; that work, not
SQLite, was most of the bot's CPU per update (README, "Benchmark"). A `HotStatement` is a
Core statement compiled once per dialect. On SQLite it runs straight on aiosqlite's
connection with one trip (`execute_fetchall`), in the session's own transaction, with the
column types' own converters applied both ways, so the rows read and written are exactly
what the ORM reads and writes. On PostgreSQL it runs through the session as any Core
statement: there asyncpg's transaction is begun by SQLAlchemy's adapter on its first
statement, and a statement sent around it could land outside the transaction.

These statements bypass the session's identity map: they are used only for rows no ORM
object of the unit of work stands for (a claim, a reply's outbox row, the dialog state) or
read into plain values.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Column, bindparam
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import ColumnElement
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import BindParameter
from sqlalchemy.sql.expression import ClauseElement, Executable

# Converts a value to or from what the driver takes or gives (a column type's processor).
Processor = Callable[[Any], Any] | None
# A write held until the commit (see `before_commit`).
HeldWrite = Callable[[], Awaitable[None]]

_HELD = "hot_held_writes"
_DRIVER = "hot_driver"


def param(column: Column[Any] | ColumnElement[Any]) -> BindParameter[Any]:
    """A bound parameter named and typed after its column."""
    return bindparam(column.key, type_=column.type)


@dataclass(frozen=True, slots=True)
class _Compiled:
    sql: str
    # Each positional parameter's name, default and converter, in order.
    binds: tuple[tuple[str, Any, Processor], ...]
    # Each result column's converter.
    results: tuple[Processor, ...]

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
        names = compiled.positiontup or []
        binds = tuple(
            (
                name,
                compiled.binds[name].value,
                compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect),
            )
            for name in names
        )
        columns = getattr(statement, "exported_columns", ())
        results = tuple(
            column.type.dialect_impl(dialect).result_processor(dialect, None) for column in columns
        )
        self._compiled[dialect.name] = _Compiled(compiled.string, binds, results)
        return self._compiled[dialect.name]

    async def rows(
        self, session: AsyncSession, parameters: Mapping[str, Any]
    ) -> list[tuple[Any, ...]]:
        """Run in the session's transaction; the rows it returns, converted."""
        dialect = session.get_bind().dialect
        if dialect.name != "sqlite":
            connection = await session.connection()
            statement = cast(Executable, self.statement(dialect))
            result = await connection.execute(statement, dict(parameters))
            return [tuple(row) for row in result] if result.returns_rows else []
        compiled = self._compile(dialect)
        driver = await _driver(session)
        values = compiled.parameters(parameters)
        try:
            raw = await driver.execute_fetchall(compiled.sql, values)
        except sqlite3.Error as exc:
            # As SQLAlchemy raises it for every other statement (OperationalError,
            # IntegrityError...): the unit of work, the fault classifier and the logs know
            # those. Parameters stay out of the message: they hold phone numbers and names.
            raise DBAPIError.instance(
                compiled.sql, values, exc, sqlite3.Error, hide_parameters=True
            ) from exc
        return [compiled.row(row) for row in raw]


async def _driver(session: AsyncSession) -> Any:
    """aiosqlite's connection under the session's transaction (begun here if it was not),
    found once per transaction: asking the session each time took two greenlet switches."""
    held = session.info.get(_DRIVER)
    transaction = session.sync_session.get_transaction()
    if (
        held is not None
        and transaction is not None
        and held[0] is transaction
        and transaction.is_active
    ):
        return held[1]
    connection = await session.connection()
    driver = (await connection.get_raw_connection()).driver_connection
    assert driver is not None, "a checked-out connection has its driver's connection"
    session.info[_DRIVER] = (session.sync_session.get_transaction(), driver)
    return driver


def hold_until_commit(session: AsyncSession, key: str, write: HeldWrite) -> None:
    """Keep `write` for the commit, replacing any earlier write held under `key`: a dialog
    step that sets its state and then its data writes the row once."""
    held: dict[str, HeldWrite] = session.info.setdefault(_HELD, {})
    held[key] = write


async def before_commit(session: AsyncSession) -> None:
    """Run the held writes; every commit of a unit of work calls this first."""
    held: dict[str, HeldWrite] = session.info.pop(_HELD, {})
    for write in held.values():
        await write()


def forget_held(session: AsyncSession) -> None:
    """The transaction rolled back: what it held is gone with it."""
    session.info.pop(_HELD, None)
