"""What an update's chat lock read from Redis while taking it (storage.fsm_redis): the chat's
dialog, the categories' version, the account's version. Valid while the lock is held; kept
apart so that the stores reading them (storage.accounts, bot.categories_version) need not
import the lock."""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class LockReads:
    """Values read with the chat's lock; a dialog's keys are taken once (the update then
    writes them), others only looked at."""

    values: dict[str, Any] = field(default_factory=dict)

    def take(self, *keys: str) -> list[Any] | None:
        if not all(key in self.values for key in keys):
            return None
        return [self.values.pop(key) for key in keys]


_READ: ContextVar[LockReads | None] = ContextVar("redis_lock_read", default=None)


def lock_reads() -> LockReads | None:
    """What the update's latest chat lock read, if it took one."""
    return _READ.get()


def held_with(read: LockReads) -> None:
    """The update took a chat lock and read `read` with it."""
    _READ.set(read)


def read_with_lock(key: str) -> tuple[bool, Any]:
    """A value read when the update took its chat's lock: (found, value)."""
    read = _READ.get()
    if read is None or key not in read.values:
        return False, None
    return True, read.values[key]
