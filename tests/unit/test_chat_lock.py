"""The chat lock in Redis (storage.fsm_redis `RedisChatLock`): one round trip takes it, counts
the update against its sender's flood limit and reads the chat's dialog; updates of one chat
wait for each other, others do not; only its holder frees it."""

from __future__ import annotations

import asyncio
import logging

import pytest
from aiogram.fsm.storage.base import DefaultKeyBuilder, StorageKey
from aiogram.fsm.storage.redis import RedisStorage
from redis.asyncio import Redis

from storage.fsm_redis import (
    FloodCount,
    HeldRedisStorage,
    OverLimit,
    count_at_lock,
)
from storage.lock_reads import read_with_lock
from storage.uow import UnitOfWorkFactory, current_session
from tests.unit.test_fsm_redis import Counted, known_scripts

pytestmark = pytest.mark.postgres_only

KEY = StorageKey(bot_id=1, chat_id=42, user_id=42)
OTHER = StorageKey(bot_id=1, chat_id=43, user_id=43)


def _stores(url: str, prefix: str) -> tuple[DefaultKeyBuilder, HeldRedisStorage, RedisStorage]:
    keys = DefaultKeyBuilder(prefix=prefix, with_bot_id=True, with_destiny=True)
    held = HeldRedisStorage(Counted.from_url(url), key_builder=keys)
    plain = RedisStorage(Redis.from_url(url), key_builder=keys)
    return keys, held, plain


async def test_the_lock_reads_the_dialog_and_a_second_unit_of_work_reads_it_again(
    uows: UnitOfWorkFactory, redis_url: tuple[str | None, str]
) -> None:
    url, prefix = redis_url
    assert url is not None
    keys, held, plain = _stores(url, prefix)
    lock = held.chat_lock(timeout=10, also_read=[f"{prefix}:categories:version"])
    await plain.set_state(KEY, "Form:category")
    await plain.set_data(KEY, {"media": ["a"]})
    await plain.redis.set(f"{prefix}:categories:version", "7")
    await known_scripts(url)

    Counted.trips = 0
    async with lock.lock(KEY):
        assert read_with_lock(f"{prefix}:categories:version") == (True, b"7")
        async with uows() as uow:
            token = current_session.set(uow.session)
            try:
                assert await held.get_state(KEY) == "Form:category"
                assert await held.get_data(KEY) == {"media": ["a"]}
                await held.set_state(KEY, "Form:location")
                await uow.commit()
            finally:
                current_session.reset(token)
        assert Counted.trips == 2  # the lock with the read, the write: no read of its own
        # A second unit of work of the same update reads what the first wrote, not what
        # the lock read before it.
        async with uows() as uow:
            token = current_session.set(uow.session)
            try:
                assert await held.get_state(KEY) == "Form:location"
            finally:
                current_session.reset(token)
        assert Counted.trips == 3
    assert Counted.trips == 4  # freed
    assert read_with_lock(f"{prefix}:categories:version") == (False, None)
    assert await plain.redis.exists(keys.build(KEY, "lock")) == 0
    await held.redis.aclose()
    await plain.redis.aclose()


async def test_one_chat_waits_for_its_lock_and_another_does_not(
    redis_url: tuple[str | None, str],
) -> None:
    url, prefix = redis_url
    assert url is not None
    _keys, held, plain = _stores(url, prefix)
    lock = held.chat_lock(timeout=10)
    order: list[str] = []
    first_in = asyncio.Event()
    let_go = asyncio.Event()

    async def first() -> None:
        async with lock.lock(KEY):
            order.append("first in")
            first_in.set()
            await let_go.wait()
            order.append("first out")

    async def same_chat() -> None:
        await first_in.wait()
        async with lock.lock(KEY):
            order.append("same chat in")

    async def other_chat() -> None:
        await first_in.wait()
        async with lock.lock(OTHER):
            order.append("other chat in")

    tasks = [asyncio.create_task(f()) for f in (first, same_chat, other_chat)]
    await first_in.wait()
    await asyncio.sleep(0.3)
    assert order == ["first in", "other chat in"]  # the same chat is still waiting
    let_go.set()
    await asyncio.wait_for(asyncio.gather(*tasks), 5)
    assert order == ["first in", "other chat in", "first out", "same chat in"]
    await held.redis.aclose()
    await plain.redis.aclose()


async def test_an_expired_lock_is_not_freed_by_its_former_holder(
    redis_url: tuple[str | None, str], caplog: pytest.LogCaptureFixture
) -> None:
    url, prefix = redis_url
    assert url is not None
    keys, held, plain = _stores(url, prefix)
    lock = held.chat_lock(timeout=0.2)
    lock_key = keys.build(KEY, "lock")
    later_in = asyncio.Event()
    let_go = asyncio.Event()

    async def later() -> None:
        async with lock.lock(KEY):
            later_in.set()
            await let_go.wait()

    with caplog.at_level(logging.WARNING, logger="storage.fsm_redis"):
        async with lock.lock(KEY):
            waiting = asyncio.create_task(later())
            await asyncio.wait_for(later_in.wait(), 5)  # it took the lock once ours expired
        # Ours, freed late, left the later update's lock alone.
        assert await plain.redis.exists(lock_key) == 1
    assert "expired" in caplog.text
    let_go.set()
    await waiting
    assert await plain.redis.exists(lock_key) == 0
    await held.redis.aclose()
    await plain.redis.aclose()


async def test_the_flood_count_is_taken_with_the_lock_once_per_update(
    redis_url: tuple[str | None, str],
) -> None:
    url, prefix = redis_url
    assert url is not None
    keys, held, plain = _stores(url, prefix)
    lock = held.chat_lock(timeout=10)
    counter = f"{prefix}:flood:tg:42"

    async def update() -> int | None:
        count = FloodCount(counter, window_ms=60_000, limit=2)
        # A lock the update takes on another chat too (the staff's /call) counts nothing.
        with count_at_lock(count):
            async with lock.lock(KEY), lock.lock(OTHER):
                pass
        return count.count

    assert await update() == 1
    assert await update() == 2
    with pytest.raises(OverLimit) as over:
        await update()
    assert over.value.count == 3
    assert await plain.redis.exists(keys.build(KEY, "lock")) == 0  # never taken
    assert await plain.redis.get(counter) == b"3"
    assert 0 < await plain.redis.pttl(counter) <= 60_000
    await held.redis.aclose()
    await plain.redis.aclose()
