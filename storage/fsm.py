"""aiogram FSM storage in the project's database, so dialogs survive a restart without Redis."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

from aiogram.fsm.state import State
from aiogram.fsm.storage.base import (
    BaseStorage,
    DefaultKeyBuilder,
    KeyBuilder,
    StateType,
    StorageKey,
)
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.clock import utc_now
from storage.database import Sessions
from storage.models import FsmRecord
from storage.uow import current_session


class SQLAlchemyStorage(BaseStorage):
    """Joins the current unit of work when there is one; otherwise commits on its own."""

    def __init__(self, sessions: Sessions, key_builder: KeyBuilder | None = None) -> None:
        self._sessions = sessions
        self._keys = key_builder or DefaultKeyBuilder(with_bot_id=True, with_destiny=True)

    @asynccontextmanager
    async def _session(self) -> AsyncIterator[tuple[AsyncSession, bool]]:
        shared = current_session.get()
        if shared is not None:
            yield shared, False
            return
        async with self._sessions() as own:
            yield own, True

    async def _record(self, session: AsyncSession, key: str) -> FsmRecord | None:
        # The session's identity map holds rows weakly: keep the ones this unit of work has
        # read, or every get_state/get_data of one update would query again.
        held: dict[str, FsmRecord | None] = session.info.setdefault("fsm_records", {})
        if key not in held:
            # A plain SELECT: Session.get clones its statement on every call, a measurable
            # share of the CPU on this hot path.
            query = select(FsmRecord).where(FsmRecord.key == key)
            held[key] = (await session.execute(query)).scalar_one_or_none()
        return held[key]

    async def _write(
        self, key: StorageKey, *, state: str | None, data: dict[str, Any] | None
    ) -> None:
        """Change the record in the session only: a dialog step sets its state and its data
        one after the other, and the commit writes both in one statement (the session
        flushes before it commits) rather than one flush for each."""
        raw_key = self._keys.build(key)
        async with self._session() as (session, own):
            record = await self._record(session, raw_key)
            new_state = state if data is None else (record.state if record else None)
            new_data = data if data is not None else (dict(record.data) if record else {})
            held: dict[str, FsmRecord | None] = session.info["fsm_records"]
            deleted: set[str] = session.info.setdefault("fsm_deleted", set())
            if new_state is None and not new_data:
                # An empty dialog is no row at all, so finished dialogs do not pile up.
                if record is not None:
                    await session.delete(record)
                    held[raw_key] = None
                    deleted.add(raw_key)
            elif record is None:
                if raw_key in deleted:
                    # A flush inserts before it deletes: the old row must go first, or the
                    # new one would clash with it on the key.
                    await session.flush()
                    deleted.discard(raw_key)
                held[raw_key] = FsmRecord(
                    key=raw_key, state=new_state, data=new_data, updated_at=utc_now()
                )
                session.add(held[raw_key])
            else:
                record.state = new_state
                record.data = new_data
                record.updated_at = utc_now()
            if own:
                await session.commit()

    async def set_state(self, key: StorageKey, state: StateType = None) -> None:
        value = state.state if isinstance(state, State) else state
        await self._write(key, state=value, data=None)

    async def get_state(self, key: StorageKey) -> str | None:
        async with self._session() as (session, _own):
            record = await self._record(session, self._keys.build(key))
            return record.state if record else None

    async def set_data(self, key: StorageKey, data: Mapping[str, Any]) -> None:
        await self._write(key, state=None, data=dict(data))

    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        async with self._session() as (session, _own):
            record = await self._record(session, self._keys.build(key))
            return dict(record.data) if record else {}

    async def close(self) -> None:
        # The engine belongs to the application, which disposes of it.
        return None
