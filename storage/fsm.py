"""aiogram FSM storage in the project's database, so dialogs survive a restart without Redis."""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any, cast

from aiogram.fsm.state import State
from aiogram.fsm.storage.base import (
    BaseStorage,
    DefaultKeyBuilder,
    KeyBuilder,
    StateType,
    StorageKey,
)
from sqlalchemy import Table, delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.expression import ClauseElement

from domain.clock import utc_now
from storage._hot import (
    HotStatement,
    Program,
    after_commit,
    commit,
    hold_until_commit,
    param,
    run,
)
from storage._sql import insert_for
from storage.database import Sessions
from storage.models import FsmRecord
from storage.uow import current_session

# A dialog's state and data as this unit of work knows them; None: no row.
Record = tuple[str | None, dict[str, Any]] | None

_TABLE = cast(Table, FsmRecord.__table__)
_READ = HotStatement(
    lambda _dialect: select(_TABLE.c.state, _TABLE.c.data).where(
        _TABLE.c.key == param(_TABLE.c.key)
    )
)
_DELETE = HotStatement(lambda _dialect: delete(_TABLE).where(_TABLE.c.key == param(_TABLE.c.key)))


def _upsert(dialect: str) -> ClauseElement:
    statement = insert_for(dialect)(_TABLE).values(
        key=param(_TABLE.c.key),
        state=param(_TABLE.c.state),
        data=param(_TABLE.c.data),
        updated_at=param(_TABLE.c.updated_at),
    )
    upsert: ClauseElement = statement.on_conflict_do_update(
        index_elements=[_TABLE.c.key],
        set_={
            "state": statement.excluded.state,
            "data": statement.excluded.data,
            "updated_at": statement.excluded.updated_at,
        },
    )
    return upsert


_UPSERT = HotStatement(_upsert)


class RecordCache:
    """Dialog records as last committed, for the dialogs in progress, where this process owns
    the database (SQLite) and every write of the table goes through this storage. A step then
    reads its state without the database, so its thinking runs before its transaction begins.
    The data is kept as JSON text: nothing a step does to the dict it was given can reach the
    cache before the commit. The least recently used records go first past `size`."""

    def __init__(self, size: int = 20_000) -> None:
        self._size = size
        self._records: OrderedDict[str, tuple[str | None, str] | None] = OrderedDict()

    def get(self, key: str) -> tuple[bool, Record]:
        """(found, the record)."""
        if key not in self._records:
            return False, None
        self._records.move_to_end(key)
        kept = self._records[key]
        return True, None if kept is None else (kept[0], json.loads(kept[1]))

    def put(self, key: str, record: Record) -> None:
        self._records[key] = None if record is None else (record[0], json.dumps(record[1]))
        self._records.move_to_end(key)
        if len(self._records) > self._size:
            self._records.popitem(last=False)


class SQLAlchemyStorage(BaseStorage):
    """Joins the current unit of work when there is one; otherwise commits on its own.

    Within a unit of work the record is read once and written once, at the commit: a dialog
    step sets its state and then its data, and both go in one statement. With a `cache`
    (one process owns the database), records are read from it and it learns each commit."""

    def __init__(
        self,
        sessions: Sessions,
        key_builder: KeyBuilder | None = None,
        *,
        cache: RecordCache | None = None,
    ) -> None:
        self._sessions = sessions
        self._keys = key_builder or DefaultKeyBuilder(with_bot_id=True, with_destiny=True)
        self._cache = cache

    @asynccontextmanager
    async def _session(self) -> AsyncIterator[tuple[AsyncSession, bool]]:
        shared = current_session.get()
        if shared is not None:
            yield shared, False
            return
        async with self._sessions() as own:
            yield own, True

    async def _record(self, session: AsyncSession, key: str) -> Record:
        known: dict[str, Record] = session.info.setdefault("fsm_records", {})
        if key in known:
            return known[key]
        if self._cache is not None:
            found, record = self._cache.get(key)
            if found:
                known[key] = record
                return record
        # Kept only from a read that runs as a trip of its own (storage.accounts, `_fills`).
        cache = None if session.in_transaction() else self._cache

        def read() -> Program:
            rows = yield _READ, {"key": key}
            known[key] = (rows[0][0], dict(rows[0][1] or {})) if rows else None
            if cache is not None:
                # Here, where the read ran (aiosqlite's thread, in its transaction): no write
                # of the record comes between the read and this.
                cache.put(key, known[key])

        await run(session, read())
        return known[key]

    async def _write(
        self, key: StorageKey, *, state: str | None, data: dict[str, Any] | None
    ) -> None:
        raw_key = self._keys.build(key)
        async with self._session() as (session, own):
            record = await self._record(session, raw_key)
            new_state = state if data is None else (record[0] if record else None)
            new_data = data if data is not None else (dict(record[1]) if record else {})
            known: dict[str, Record] = session.info["fsm_records"]
            # An empty dialog is no row at all, so finished dialogs do not pile up.
            known[raw_key] = None if new_state is None and not new_data else (new_state, new_data)

            def write() -> Program:
                now = known[raw_key]
                if now is None:
                    yield _DELETE, {"key": raw_key}
                else:
                    values = {"key": raw_key, "state": now[0], "data": now[1]}
                    yield _UPSERT, {**values, "updated_at": utc_now()}

            hold_until_commit(session, f"fsm:{raw_key}", write)
            cache = self._cache
            if cache is not None:
                after_commit(session, f"fsm:{raw_key}", lambda: cache.put(raw_key, known[raw_key]))
            if own:
                await commit(session)

    async def set_state(self, key: StorageKey, state: StateType = None) -> None:
        value = state.state if isinstance(state, State) else state
        await self._write(key, state=value, data=None)

    async def get_state(self, key: StorageKey) -> str | None:
        async with self._session() as (session, _own):
            record = await self._record(session, self._keys.build(key))
            return record[0] if record else None

    async def set_data(self, key: StorageKey, data: Mapping[str, Any]) -> None:
        await self._write(key, state=None, data=dict(data))

    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        async with self._session() as (session, _own):
            record = await self._record(session, self._keys.build(key))
            return dict(record[1]) if record else {}

    async def close(self) -> None:
        # The engine belongs to the application, which disposes of it.
        return None
