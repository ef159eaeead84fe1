"""Per-resident ordering within one process, without keeping a lock for every resident ever seen.

aiogram's SimpleEventIsolation keeps one lock per key forever (its own TODO says so): with a
city's hundreds of thousands of residents a year that is memory that only grows. Here a lock
lives only while someone holds it or waits for it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Hashable
from contextlib import asynccontextmanager

from aiogram.fsm.storage.base import BaseEventIsolation, StorageKey


class _Entry:
    __slots__ = ("lock", "users")

    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.users = 0


class KeyedIsolation(BaseEventIsolation):
    def __init__(self) -> None:
        self._entries: dict[Hashable, _Entry] = {}

    @asynccontextmanager
    async def lock(self, key: StorageKey) -> AsyncGenerator[None, None]:
        entry = self._entries.get(key)
        if entry is None:
            entry = self._entries[key] = _Entry()
        entry.users += 1
        try:
            async with entry.lock:
                yield
        finally:
            entry.users -= 1
            if entry.users == 0:
                del self._entries[key]

    def held(self) -> int:
        """How many keys have a holder or a waiter (for tests and metrics)."""
        return len(self._entries)

    async def close(self) -> None:
        self._entries.clear()
