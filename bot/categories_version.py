"""The categories' version in Redis, shared by the workers (storage.category_cache)."""

from __future__ import annotations

from redis.asyncio import Redis


class RedisCatalogueVersion:
    """A counter moved on by every sync of the categories file; each worker reads it before
    using its copy of the categories (one GET, far cheaper than reading the table)."""

    def __init__(self, redis: Redis, prefix: str) -> None:
        self._redis = redis
        self._key = f"{prefix}:categories:version"

    async def current(self) -> str:
        value = await self._redis.get(self._key)
        return value.decode() if isinstance(value, bytes) else str(value or "0")

    async def bump(self) -> None:
        await self._redis.incr(self._key)
