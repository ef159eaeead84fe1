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
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.clock import utc_now
from storage.models import FsmRecord
from storage.uow import current_session


class SQLAlchemyStorage(BaseStorage):
    """Joins the current unit of work when there is one; otherwise commits on its own."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], key_builder: KeyBuilder | None = None
    ) -> None:
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
        return await session.get(FsmRecord, key)

    async def _write(
        self, key: StorageKey, *, state: str | None, data: dict[str, Any] | None
    ) -> None:
        raw_key = self._keys.build(key)
        async with self._session() as (session, own):
            record = await self._record(session, raw_key)
            new_state = state if data is None else (record.state if record else None)
            new_data = data if data is not None else (dict(record.data) if record else {})
            if new_state is None and not new_data:
                # An empty dialog is no row at all, so finished dialogs do not pile up.
                if record is not None:
                    await session.delete(record)
            elif record is None:
                session.add(
                    FsmRecord(key=raw_key, state=new_state, data=new_data, updated_at=utc_now())
                )
            else:
                record.state = new_state
                record.data = new_data
                record.updated_at = utc_now()
            await session.flush()
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
