"""The categories' version in Redis, shared by the workers (storage.category_cache)."""

from __future__ import annotations

from redis.asyncio import Redis

from storage.lock_reads import read_with_lock


class RedisCatalogueVersion:
    """A counter moved on by every sync of the categories file; each worker reads it before
    using its copy of the categories (one GET, far cheaper than reading the table)."""

    def __init__(self, redis: Redis, prefix: str) -> None:
        self._redis = redis
        self.key = f"{prefix}:categories:version"

    async def current(self) -> str:
        # Read with the update's chat lock where it took one (storage.fsm_redis): still
        # before the table is read, which is what the copy's check needs.
        found, value = read_with_lock(self.key)
        if not found:
            value = await self._redis.get(self.key)
        return value.decode() if isinstance(value, bytes) else str(value or "0")

    async def bump(self) -> None:
        await self._redis.incr(self.key)
