"""One leader among workers; a clean stop hands over at once, a dead leader's lease expires."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable

import pytest
import redis.asyncio as aioredis

from bot.leader import Leadership
from tests.services import REDIS_URL, require


@pytest.fixture
async def clients() -> AsyncIterator[tuple[aioredis.Redis, aioredis.Redis, str]]:
    require("Redis", "127.0.0.1", 6379)
    prefix = f"test-leader-{uuid.uuid4().hex[:8]}"
    first, second = aioredis.from_url(REDIS_URL), aioredis.from_url(REDIS_URL)
    yield first, second, prefix
    await first.delete(f"{prefix}:leader")
    await first.aclose()
    await second.aclose()


async def _until(condition: Callable[[], bool], seconds: float = 3.0) -> None:
    step = 0.02
    for _ in range(int(seconds / step)):
        if condition():
            return
        await asyncio.sleep(step)
    raise AssertionError(f"not true within {seconds} s")


async def test_without_redis_the_only_process_leads() -> None:
    leadership = Leadership(None, prefix="x")
    assert leadership.is_leader
    await leadership.run()  # returns at once: nothing to elect
    assert leadership.is_leader


async def test_one_leader_and_a_clean_handover(
    clients: tuple[aioredis.Redis, aioredis.Redis, str],
) -> None:
    first_client, second_client, prefix = clients
    first = Leadership(first_client, prefix=prefix, ttl=0.6)
    second = Leadership(second_client, prefix=prefix, ttl=0.6)
    first_task = asyncio.create_task(first.run())
    await _until(lambda: first.is_leader)
    second_task = asyncio.create_task(second.run())
    await asyncio.sleep(0.7)  # longer than the lease: the leader keeps renewing it
    assert first.is_leader
    assert not second.is_leader
    first_task.cancel()
    await asyncio.gather(first_task, return_exceptions=True)
    assert not first.is_leader
    await _until(lambda: second.is_leader)
    second_task.cancel()
    await asyncio.gather(second_task, return_exceptions=True)


async def test_a_dead_leaders_lease_expires(
    clients: tuple[aioredis.Redis, aioredis.Redis, str],
) -> None:
    first_client, second_client, prefix = clients
    # A worker that died without cleaning up left its lease behind.
    await first_client.set(f"{prefix}:leader", "dead-worker", px=500)
    second = Leadership(second_client, prefix=prefix, ttl=0.6)
    task = asyncio.create_task(second.run())
    await asyncio.sleep(0.1)
    assert not second.is_leader
    await _until(lambda: second.is_leader, seconds=2.0)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def test_whoever_becomes_the_leader_is_told_once(
    clients: tuple[aioredis.Redis, aioredis.Redis, str],
) -> None:
    # The outbox sender waits for this (bot.background) instead of its next poll.
    first_client, second_client, prefix = clients
    first = Leadership(first_client, prefix=prefix, ttl=0.6)
    second = Leadership(second_client, prefix=prefix, ttl=0.6)
    told: list[str] = []
    first.on_gained(lambda: told.append("first"))
    second.on_gained(lambda: told.append("second"))
    first_task = asyncio.create_task(first.run())
    await _until(lambda: first.is_leader)
    second_task = asyncio.create_task(second.run())
    await asyncio.sleep(0.7)  # renewals of the lease are not news
    assert told == ["first"]
    first_task.cancel()
    await asyncio.gather(first_task, return_exceptions=True)
    await _until(lambda: second.is_leader)
    assert told == ["first", "second"]
    second_task.cancel()
    await asyncio.gather(second_task, return_exceptions=True)


class _SwallowingRedis:
    """Answers as Redis does, but a cancellation that lands inside a command is swallowed and
    the command returns, as redis-py 8 does."""

    def __init__(self) -> None:
        self.value: str | None = None
        self.in_command = asyncio.Event()

    def register_script(self, _script: str) -> Callable[..., object]:
        async def renew(keys: list[str], args: list[object]) -> bool:
            return await self._answer(self.value == args[0])

        return renew

    async def set(self, _key: str, value: str, **_options: object) -> bool:
        free = self.value is None
        if free:
            self.value = value
        return await self._answer(free)

    async def get(self, _key: str) -> str | None:
        return self.value

    async def delete(self, _key: str) -> None:
        self.value = None

    async def _answer(self, result: bool) -> bool:
        self.in_command.set()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.sleep(0.05)
        return result


async def test_a_cancellation_the_redis_client_swallows_still_stops_the_leader() -> None:
    redis = _SwallowingRedis()
    leadership = Leadership(redis, prefix="x", ttl=0.3)  # type: ignore[arg-type]
    task = asyncio.create_task(leadership.run())
    await _until(lambda: leadership.is_leader)
    redis.in_command.clear()
    await asyncio.wait_for(redis.in_command.wait(), 1.0)  # the next renewal is in flight
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 2.0)  # stops, rather than leading on forever
    assert redis.value is None  # and hands the lease over
