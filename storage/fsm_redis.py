"""Dialog state in Redis (several workers): an update takes its chat's lock and reads the
chat's dialog in one round trip, and writes what its step changed in one more (shared with
the sends taken for its replies: storage.redis_batch)."""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from collections.abc import AsyncGenerator, Callable, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import timedelta
from functools import cached_property
from typing import Any

from aiogram.fsm.state import State
from aiogram.fsm.storage.base import BaseEventIsolation, KeyBuilder, StateType, StorageKey
from aiogram.fsm.storage.redis import RedisStorage
from redis.asyncio import Redis
from redis.commands.core import AsyncScript
from sqlalchemy.ext.asyncio import AsyncSession

from storage.lock_reads import LockReads, held_with, lock_reads
from storage.redis_batch import ScriptCall, run_before_commit
from storage.uow import current_session

logger = logging.getLogger(__name__)

_KNOWN = "redis_fsm"

# KEYS: the chat's lock, the sender's flood counter, then the keys to read once the lock is
# taken. ARGV: the lock's token and expiry (ms); "1" to count the update, the counter's
# window (ms, from the first update counted in it) and the limit. Answers {count} when the
# update is over the limit (no lock taken), {count, 0} when another update holds the lock,
# or {count, 1, value...} with the lock taken.
_ENTER_LUA = """
local count = 0
if ARGV[3] == '1' then
  count = redis.call('INCR', KEYS[2])
  if redis.call('PTTL', KEYS[2]) < 0 then redis.call('PEXPIRE', KEYS[2], ARGV[4]) end
  if count > tonumber(ARGV[5]) then return {count} end
end
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return {count, 0} end
local out = {count, 1}
for i = 3, #KEYS do out[#out + 1] = redis.call('GET', KEYS[i]) end
return out
"""
# KEYS: dialog keys to write; ARGV: three per key: "d" (delete), "s" (set) or "x" (set to
# expire), the value, the expiry (ms). All at once, as MULTI/EXEC did, in one command.
_WRITE_LUA = """
for i = 1, #KEYS do
  local mode = ARGV[3 * i - 2]
  if mode == 'd' then redis.call('DEL', KEYS[i])
  elseif mode == 'x' then redis.call('SET', KEYS[i], ARGV[3 * i - 1], 'PX', ARGV[3 * i])
  else redis.call('SET', KEYS[i], ARGV[3 * i - 1]) end
end
return #KEYS
"""


def _write_args(value: str | None, ttl: int | timedelta | None) -> list[str]:
    """`_WRITE_LUA`'s arguments for one key: deleted when `value` is None."""
    if value is None:
        return ["d", "", ""]
    if ttl is None:
        return ["s", value, ""]
    seconds = ttl.total_seconds() if isinstance(ttl, timedelta) else ttl
    return ["x", value, str(max(1, int(seconds * 1000)))]


# KEYS: the lock. ARGV: its token. Deleted only by its holder (an expired lock may be
# another update's by now).
_LEAVE_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

# Every script here, for whoever must know them loaded (a test counting round trips: the
# first call of a script the server does not know yet takes two more).
SCRIPTS = (_ENTER_LUA, _LEAVE_LUA, _WRITE_LUA)


@dataclass(slots=True)
class FloodCount:
    """An update to count against its sender's flood limit in the same round trip that takes
    its chat's lock (bot.flood); `count` is set once counted."""

    key: str
    window_ms: int
    limit: int
    count: int | None = None


class OverLimit(Exception):
    """The update's sender is over the flood limit: its chat's lock was not taken."""

    def __init__(self, count: int) -> None:
        super().__init__(f"update {count} within the flood window")
        self.count = count


# The update's flood count, asked for by the flood control outside the lock; the first lock
# the update takes counts it.
_COUNT: ContextVar[FloodCount | None] = ContextVar("redis_flood_count", default=None)


@contextmanager
def count_at_lock(count: FloodCount) -> Iterator[FloodCount]:
    """Have the update's first chat lock count it (`FloodCount`)."""
    token = _COUNT.set(count)
    try:
        yield count
    finally:
        _COUNT.reset(token)


class RedisChatLock(BaseEventIsolation):
    """aiogram's Redis lock per chat, in fewer round trips: one script takes the lock, counts
    the update against its sender's flood limit if asked (`count_at_lock`), and reads the
    chat's dialog, `also_read` (the categories' version) and `also_read_for` the chat (its
    account's version: storage.accounts) while it is at it; another frees
    it. Waits for a held lock as aiogram's does, polling; the lock expires after `timeout`
    seconds, so a worker that died holding it holds nobody up for longer."""

    def __init__(
        self,
        redis: Redis,
        key_builder: KeyBuilder,
        *,
        timeout: float,
        also_read: Sequence[str] = (),
        also_read_for: Callable[[StorageKey], Sequence[str]] | None = None,
        poll: float = 0.1,
    ) -> None:
        self._key_builder = key_builder
        self._ttl_ms = str(max(1, int(timeout * 1000)))
        self._also_read = list(also_read)
        self._also_read_for = also_read_for
        self._poll = poll
        self._enter = redis.register_script(_ENTER_LUA)
        self._leave = redis.register_script(_LEAVE_LUA)

    @asynccontextmanager
    async def lock(self, key: StorageKey) -> AsyncGenerator[None, None]:
        lock_key = self._key_builder.build(key, "lock")
        reads = [
            self._key_builder.build(key, "state"),
            self._key_builder.build(key, "data"),
            *self._also_read,
            *(self._also_read_for(key) if self._also_read_for is not None else ()),
        ]
        token = secrets.token_hex(8)
        count = _COUNT.get()
        if count is not None and count.count is not None:
            count = None  # counted by an earlier lock of this update
        delay = 0.01
        while True:
            counting = count is not None and count.count is None
            flood = count if counting else None
            answer = await self._enter(
                keys=[lock_key, flood.key if flood else lock_key, *reads],
                args=[
                    token,
                    self._ttl_ms,
                    "1" if flood else "0",
                    flood.window_ms if flood else 0,
                    flood.limit if flood else 0,
                ],
            )
            if flood is not None:
                flood.count = int(answer[0])
                if len(answer) == 1:
                    raise OverLimit(flood.count)
            if int(answer[1]) == 1:
                break
            await asyncio.sleep(delay)
            delay = min(delay * 2, self._poll)
        read = LockReads(dict(zip(reads, answer[2:], strict=True)))
        held_with(read)
        try:
            yield None
        finally:
            # Not valid once the lock is given back, whichever context frees it.
            read.values.clear()
            if not int(await self._leave(keys=[lock_key], args=[token])):
                logger.warning(
                    "a chat's lock expired before its update finished (more than %s ms)",
                    self._ttl_ms,
                )

    async def close(self) -> None:
        pass


@dataclass(slots=True)
class _Dialog:
    """One chat's dialog as this update sees it; data kept as JSON text, so that every read
    hands out objects of its own."""

    state: str | None
    data: str
    state_changed: bool = False
    data_changed: bool = False


def _text(value: Any) -> str | None:
    return value.decode("utf-8") if isinstance(value, bytes) else value


class HeldRedisStorage(RedisStorage):
    """aiogram's Redis storage, less round trips. Inside a unit of work (`current_session`)
    a chat's state and data are those its lock read (`RedisChatLock`), or are read together
    (one MGET), and what the step changed is written together (one script) right before the
    unit of work commits, in the round trip of its other scripts (storage.redis_batch),
    where aiogram's storage took a round trip for each of the four calls a step makes. The
    write lands while the chat's lock is held and after the unit of work's own statements
    (storage._hot `commit`): a write that fails rolls the update back (or takes its one
    statement back), and Telegram delivers it again. An update that rolls back for another
    reason writes nothing. Outside a unit of work it is aiogram's own."""

    @cached_property
    def _write(self) -> AsyncScript:
        return self.redis.register_script(_WRITE_LUA)

    def chat_lock(
        self,
        *,
        timeout: float,
        also_read: Sequence[str] = (),
        also_read_for: Callable[[StorageKey], Sequence[str]] | None = None,
    ) -> RedisChatLock:
        """The chat lock that also reads this storage's dialogs (`RedisChatLock`)."""
        return RedisChatLock(
            self.redis,
            self.key_builder,
            timeout=timeout,
            also_read=also_read,
            also_read_for=also_read_for,
        )

    async def _dialog(self, session: AsyncSession, key: StorageKey) -> _Dialog:
        known: dict[StorageKey, _Dialog] = session.info.setdefault(_KNOWN, {})
        if key not in known:
            keys = self.key_builder.build(key, "state"), self.key_builder.build(key, "data")
            read = lock_reads()
            # Read with the chat's lock, unless this update has already used (and so may
            # have written) them.
            values = read.take(*keys) if read is not None else None
            state, data = values if values is not None else await self.redis.mget(*keys)
            known[key] = _Dialog(_text(state), _text(data) or "{}")
        return known[key]

    def _changed(self, session: AsyncSession) -> None:
        def write() -> ScriptCall | None:
            known: dict[StorageKey, _Dialog] = session.info.get(_KNOWN, {})
            changed = [(k, d) for k, d in known.items() if d.state_changed or d.data_changed]
            if not changed:
                return None
            keys: list[str] = []
            args: list[str] = []
            for key, dialog in changed:
                if dialog.state_changed:
                    keys.append(self.key_builder.build(key, "state"))
                    args += _write_args(
                        None if dialog.state is None else dialog.state, self.state_ttl
                    )
                if dialog.data_changed:
                    keys.append(self.key_builder.build(key, "data"))
                    args += _write_args(None if dialog.data == "{}" else dialog.data, self.data_ttl)

            def written(_answer: Any) -> None:
                for _key, dialog in changed:
                    dialog.state_changed = dialog.data_changed = False

            return ScriptCall(self._write, keys, args, then=written)

        # With the unit of work's other scripts (the sends taken for its replies).
        run_before_commit(session, self.redis, _KNOWN, write)

    async def get_state(self, key: StorageKey) -> str | None:
        session = current_session.get()
        if session is None:
            return await super().get_state(key)
        return (await self._dialog(session, key)).state

    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        session = current_session.get()
        if session is None:
            return await super().get_data(key)
        data: dict[str, Any] = json.loads((await self._dialog(session, key)).data)
        return data

    async def set_state(self, key: StorageKey, state: StateType = None) -> None:
        session = current_session.get()
        if session is None:
            await super().set_state(key, state)
            return
        dialog = await self._dialog(session, key)
        dialog.state = state.state if isinstance(state, State) else state
        dialog.state_changed = True
        self._changed(session)

    async def set_data(self, key: StorageKey, data: Mapping[str, Any]) -> None:
        session = current_session.get()
        if session is None:
            await super().set_data(key, data)
            return
        # aiogram's own check and message for a value that is not a mapping.
        if not isinstance(data, dict):
            await super().set_data(key, data)
            return
        dialog = await self._dialog(session, key)
        dialog.data = self.json_dumps(data)
        dialog.data_changed = True
        self._changed(session)
