"""Who is an operator: members of the staff chat, known before the update's transaction.

Kept current by Telegram's `chat_member` updates (removed: refused at once; added: allowed at
once). `getChatMember`, with a short timeout, is only the fallback for people the bot has not
heard about; its answer is cached briefly. With Redis the cache is shared by every worker, so
a `chat_member` update received by one worker holds for all of them.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Protocol

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError
from redis.asyncio import Redis
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

MEMBER_STATUSES = frozenset({"creator", "administrator", "member"})
# What getChatMember said is trusted this long; chat_member updates, far longer (they arrive
# again on every change, and an entry that lapses only costs one getChatMember).
API_TTL = 60.0
UPDATE_TTL = 24 * 3600.0
CHECK_TIMEOUT = 3.0


def is_member_status(status: str, is_member: bool) -> bool:
    """Telegram's member statuses: a restricted user may still be in the chat."""
    return status in MEMBER_STATUSES or (status == "restricted" and is_member)


class MembershipCache(Protocol):
    async def get(self, user_id: int) -> bool | None:
        """True/False while an answer is fresh, None when unknown."""
        ...

    async def put(self, user_id: int, member: bool, ttl: float) -> None: ...


class MemoryMembershipCache:
    def __init__(self) -> None:
        self._entries: dict[int, tuple[bool, float]] = {}

    async def get(self, user_id: int) -> bool | None:
        entry = self._entries.get(user_id)
        if entry is None or entry[1] <= time.monotonic():
            return None
        return entry[0]

    async def put(self, user_id: int, member: bool, ttl: float) -> None:
        self._entries[user_id] = (member, time.monotonic() + ttl)


class RedisMembershipCache:
    def __init__(self, redis: Redis, prefix: str, chat_id: int) -> None:
        self._redis = redis
        self._prefix = f"{prefix}:staff:member:{chat_id}"

    async def get(self, user_id: int) -> bool | None:
        raw = await self._redis.get(f"{self._prefix}:{user_id}")
        return None if raw is None else raw in (b"1", "1")

    async def put(self, user_id: int, member: bool, ttl: float) -> None:
        await self._redis.set(
            f"{self._prefix}:{user_id}", "1" if member else "0", px=max(1, int(ttl * 1000))
        )


class StaffMembership:
    def __init__(
        self, chat_id: int, cache: MembershipCache, *, timeout: float = CHECK_TIMEOUT
    ) -> None:
        self.chat_id = chat_id
        self._cache = cache
        self._timeout = timeout

    async def check(self, bot: Bot, user_id: int) -> bool | None:
        """Is the user an operator? None when it cannot be told right now (Telegram did not
        answer in time): the caller refuses and says to try again."""
        try:
            cached = await self._cache.get(user_id)
        except RedisError:
            logger.warning("membership cache unavailable; asking Telegram")
            cached = None
        if cached is not None:
            return cached
        try:
            async with asyncio.timeout(self._timeout):
                member = await bot.get_chat_member(self.chat_id, user_id)
        except (TelegramAPIError, TimeoutError) as exc:
            logger.warning("could not check staff membership of %d: %s", user_id, type(exc))
            return None
        allowed = is_member_status(str(member.status), bool(getattr(member, "is_member", False)))
        await self._remember(user_id, allowed, API_TTL)
        return allowed

    async def changed(self, user_id: int, status: str, is_member: bool) -> None:
        """A chat_member update: takes effect at once."""
        await self._remember(user_id, is_member_status(status, is_member), UPDATE_TTL)

    async def _remember(self, user_id: int, allowed: bool, ttl: float) -> None:
        try:
            await self._cache.put(user_id, allowed, ttl)
        except RedisError:
            logger.warning("membership cache unavailable; not cached")
