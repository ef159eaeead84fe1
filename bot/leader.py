"""One worker runs the outbox sender and the timers; the others stand by to take over.

Several webhook workers share PostgreSQL and Redis. Delivering the outbox from one elected
worker keeps each chat's messages in order and sends each exactly once; if that worker dies, its
Redis lease runs out and another one takes over within `ttl` seconds.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from collections.abc import Callable

from redis.asyncio import Redis

from bot.faults import stop_if_cancelled

logger = logging.getLogger(__name__)

# Extend the lease only if it is still ours; a worker that lost it must not steal it back.
_RENEW = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('pexpire', KEYS[1], ARGV[2])
end
return 0
"""


class Leadership:
    """Always the leader without Redis (a single process); a Redis lease otherwise."""

    def __init__(self, redis: Redis | None, *, prefix: str, ttl: float = 15.0) -> None:
        self._redis = redis
        self._key = f"{prefix}:leader"
        self._ttl_ms = int(ttl * 1000)
        self._me = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.is_leader = redis is None
        self._renew = redis.register_script(_RENEW) if redis is not None else None
        # Told when this worker becomes the leader, so that what waits for it (the outbox
        # sender) starts at once rather than at its next poll.
        self._gained: list[Callable[[], None]] = []

    def on_gained(self, callback: Callable[[], None]) -> None:
        self._gained.append(callback)

    async def _try(self) -> bool:
        assert self._redis is not None and self._renew is not None
        # Renewed when the lease is ours, also when this worker does not know it yet: a run
        # stopped before it could hand the lease over (its Redis call was cancelled) left it.
        if await self._renew(keys=[self._key], args=[self._me, self._ttl_ms]):
            return True
        return bool(await self._redis.set(self._key, self._me, nx=True, px=self._ttl_ms))

    async def run(self) -> None:
        """Keep trying to lead (or to stay the leader) until cancelled."""
        if self._redis is None:
            return
        try:
            while True:
                try:
                    leading = await self._try()
                except Exception:
                    stop_if_cancelled()
                    # Without Redis we cannot know whether we still lead: assume not.
                    logger.exception("leader lease check failed")
                    leading = False
                # A cancellation the Redis client swallowed (bot.faults.stop_if_cancelled).
                stop_if_cancelled()
                if leading != self.is_leader:
                    logger.info(
                        "%s the outbox and timers", "leading" if leading else "stopped leading"
                    )
                gained = leading and not self.is_leader
                self.is_leader = leading
                if gained:
                    for callback in self._gained:
                        callback()
                await asyncio.sleep(self._ttl_ms / 3000)
        finally:
            if self.is_leader and self._redis is not None:
                # Hand over at once on a clean shutdown.
                try:
                    if await self._redis.get(self._key) in (self._me, self._me.encode()):
                        await self._redis.delete(self._key)
                except Exception:
                    logger.warning("could not release the leader lease; it expires by itself")
                self.is_leader = False
