"""Outbound rate limits: the in-memory limiter on a fake clock, the Redis one on a real server."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
import redis.asyncio as aioredis

from bot.limits import (
    LimitRules,
    MemoryRateLimiter,
    RateLimiter,
    RedisRateLimiter,
    acquire,
)
from tests.services import REDIS_URL, require


class FakeMonotonic:
    """A monotonic clock that only moves when the test moves it."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def mono() -> FakeMonotonic:
    return FakeMonotonic()


async def reserve_many(limiter: RateLimiter, chat_key: str, n: int, *, group: bool) -> list[float]:
    return [await limiter.reserve(chat_key, group=group) for _ in range(n)]


# --- in memory ------------------------------------------------------------------------------


async def test_global_budget_is_30_per_second(mono: FakeMonotonic) -> None:
    limiter = MemoryRateLimiter(clock=mono)
    # Different chats, so only the global budget can refuse.
    taken = [await limiter.reserve(f"chat-{i}", group=False) for i in range(30)]
    assert taken == [0.0] * 30
    wait = await limiter.reserve("chat-30", group=False)
    assert wait == pytest.approx(1 / 30)
    mono.advance(wait)
    assert await limiter.reserve("chat-30", group=False) == 0.0
    # From here on the global budget is spaced at 1/30 s.
    assert await limiter.reserve("chat-31", group=False) == pytest.approx(1 / 30)


async def test_private_chat_gets_its_burst_then_one_a_second(mono: FakeMonotonic) -> None:
    limiter = MemoryRateLimiter(clock=mono)
    assert await reserve_many(limiter, "42", 3, group=False) == [0.0, 0.0, 0.0]
    assert await limiter.reserve("42", group=False) == pytest.approx(1.0)
    mono.advance(0.4)
    assert await limiter.reserve("42", group=False) == pytest.approx(0.6)
    mono.advance(0.6)
    assert await limiter.reserve("42", group=False) == 0.0
    assert await limiter.reserve("42", group=False) == pytest.approx(1.0)


async def test_group_goes_at_the_chat_pace_up_to_20_a_minute(mono: FakeMonotonic) -> None:
    limiter = MemoryRateLimiter(clock=mono)
    # A short burst, then one a second, as in any chat...
    assert await reserve_many(limiter, "-100500", 3, group=True) == [0.0, 0.0, 0.0]
    assert await limiter.reserve("-100500", group=True) == pytest.approx(1.0)
    taken_at = [mono.now] * 3
    while len(taken_at) < 20:
        mono.advance(await limiter.reserve("-100500", group=True))
        assert await limiter.reserve("-100500", group=True) == 0.0
        taken_at.append(mono.now)
    assert taken_at[-1] - taken_at[0] == pytest.approx(17.0)
    # ...until 20 went out within a minute: the 21st waits for the first to leave the window.
    wait = await limiter.reserve("-100500", group=True)
    assert wait == pytest.approx(60.0 - 17.0)
    mono.advance(wait)
    assert await limiter.reserve("-100500", group=True) == 0.0
    taken_at.append(mono.now)
    # Kept up for a while: no sliding minute ever holds more than 20 sends.
    while len(taken_at) < 100:
        mono.advance(await limiter.reserve("-100500", group=True))
        if await limiter.reserve("-100500", group=True) == 0.0:
            taken_at.append(mono.now)
    assert max(sum(1 for t in taken_at if s <= t < s + 60.0) for s in taken_at) == 20


async def test_private_chat_has_no_minute_limit(mono: FakeMonotonic) -> None:
    rules = LimitRules(
        global_per_second=1000.0, chat_per_second=100.0, chat_burst=10, group_per_minute=5.0
    )
    limiter = MemoryRateLimiter(rules, clock=mono)
    for _ in range(30):
        mono.advance(await limiter.reserve("42", group=False))
        assert await limiter.reserve("42", group=False) == 0.0
    group = [await limiter.reserve("-1", group=True) for _ in range(6)]
    assert group[:5] == [0.0] * 5
    assert group[5] == pytest.approx(60.0)


async def test_other_chats_are_not_delayed_by_one_chats_budget(mono: FakeMonotonic) -> None:
    limiter = MemoryRateLimiter(clock=mono)
    await reserve_many(limiter, "42", 3, group=False)
    await reserve_many(limiter, "-7", 3, group=True)
    assert await limiter.reserve("42", group=False) > 0
    assert await limiter.reserve("-7", group=True) > 0
    assert await limiter.reserve("43", group=False) == 0.0
    assert await limiter.reserve("-8", group=True) == 0.0


async def test_the_global_budget_does_delay_other_chats(mono: FakeMonotonic) -> None:
    limiter = MemoryRateLimiter(LimitRules(global_per_second=3.0), clock=mono)
    assert await reserve_many(limiter, "42", 3, group=False) == [0.0, 0.0, 0.0]
    assert await limiter.reserve("43", group=False) == pytest.approx(1 / 3)


async def test_pausing_a_chat_delays_only_that_chat(mono: FakeMonotonic) -> None:
    limiter = MemoryRateLimiter(clock=mono)
    await limiter.pause("42", 5.0)
    assert await limiter.reserve("42", group=False) == pytest.approx(5.0)
    assert await limiter.reserve("43", group=False) == 0.0
    mono.advance(2.0)
    assert await limiter.reserve("42", group=False) == pytest.approx(3.0)
    mono.advance(3.0)
    assert await limiter.reserve("42", group=False) == 0.0


async def test_pausing_everyone_delays_every_chat(mono: FakeMonotonic) -> None:
    limiter = MemoryRateLimiter(clock=mono)
    await limiter.pause(None, 2.0)
    assert await limiter.reserve("42", group=False) == pytest.approx(2.0)
    assert await limiter.reserve("-7", group=True) == pytest.approx(2.0)
    mono.advance(2.0)
    assert await limiter.reserve("42", group=False) == 0.0
    assert await limiter.reserve("-7", group=True) == 0.0


async def test_a_shorter_pause_does_not_cut_a_longer_one(mono: FakeMonotonic) -> None:
    limiter = MemoryRateLimiter(clock=mono)
    await limiter.pause("42", 10.0)
    await limiter.pause("42", 1.0)
    await limiter.pause(None, 4.0)
    await limiter.pause(None, 0.5)
    await limiter.pause(None, 0.0)
    assert await limiter.reserve("42", group=False) == pytest.approx(10.0)
    assert await limiter.reserve("43", group=False) == pytest.approx(4.0)


async def test_a_refused_reservation_consumes_nothing(mono: FakeMonotonic) -> None:
    rules = LimitRules(global_per_second=2.0, chat_burst=1)
    limiter = MemoryRateLimiter(rules, clock=mono)
    assert await limiter.reserve("42", group=False) == 0.0
    # Refused by the chat budget, again and again: the wait does not grow ...
    assert await reserve_many(limiter, "42", 5, group=False) == [pytest.approx(1.0)] * 5
    # ... and the global budget was not spent: its second send is still there.
    assert await limiter.reserve("43", group=False) == 0.0
    assert await limiter.reserve("44", group=False) == pytest.approx(0.5)
    # Refusals by a pause spend nothing either.
    await limiter.pause("45", 1.0)
    mono.advance(1.0)
    assert await limiter.reserve("46", group=False) == 0.0
    assert await limiter.reserve("47", group=False) == 0.0


async def test_the_returned_delay_is_exactly_enough(mono: FakeMonotonic) -> None:
    # A mixed, seeded workload: whenever a reservation is refused, waiting exactly the
    # delay it named makes the retry succeed; a hair less is still refused.
    limiter = MemoryRateLimiter(LimitRules(global_per_second=7.0), clock=mono)
    rng = random.Random(1580)
    refusals = 0
    for _ in range(500):
        chat = rng.choice(["1", "2", "3", "-10", "-11"])
        group = chat.startswith("-")
        if rng.random() < 0.02:
            await limiter.pause(rng.choice([chat, None]), rng.choice([0.5, 1.0, 3.0]))
        mono.advance(rng.choice([0.0, 0.0, 0.01, 0.1, 1 / 3]))
        wait = await limiter.reserve(chat, group=group)
        if wait == 0.0:
            continue
        refusals += 1
        assert wait > 0
        mono.advance(wait - 1e-6)
        assert await limiter.reserve(chat, group=group) > 0
        mono.advance(1e-6)
        assert await limiter.reserve(chat, group=group) == 0.0
    assert refusals > 50  # the workload did exercise the limits


async def test_idle_chats_are_forgotten(mono: FakeMonotonic) -> None:
    limiter = MemoryRateLimiter(clock=mono)
    for i in range(100):
        mono.advance(0.04)
        await limiter.reserve(f"chat-{i}", group=False)
        await limiter.pause(f"chat-{i}", 1.0)
    mono.advance(120.0)
    assert await limiter.reserve("latest", group=False) == 0.0
    # Only the chat just served is still remembered.
    assert set(limiter._chat_tats) == {"latest"}
    assert limiter._chat_paused_until == {}


def test_rules_reject_nonsense() -> None:
    with pytest.raises(ValueError, match="chat_per_second"):
        LimitRules(chat_per_second=0.0)
    with pytest.raises(ValueError, match="chat_burst"):
        LimitRules(chat_burst=0)
    with pytest.raises(ValueError, match="group_window"):
        LimitRules(group_window=0.0)
    assert LimitRules().global_burst == 30
    assert LimitRules(global_per_second=0.5).global_burst == 1


# --- acquire --------------------------------------------------------------------------------


@dataclass
class Timeline:
    clock: FakeMonotonic
    sleeps: list[float]

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.clock.advance(seconds)


async def test_acquire_spaces_sends_to_one_chat(mono: FakeMonotonic) -> None:
    limiter = MemoryRateLimiter(clock=mono)
    timeline = Timeline(mono, [])
    sent_at = []
    for _ in range(6):
        await acquire(limiter, "42", group=False, sleep=timeline.sleep)
        sent_at.append(mono.now - 1000.0)
    # The burst of three goes at once, then one a second.
    assert sent_at == pytest.approx([0.0, 0.0, 0.0, 1.0, 2.0, 3.0])
    assert timeline.sleeps == pytest.approx([1.0, 1.0, 1.0])


async def test_acquire_in_a_group_and_after_a_429(mono: FakeMonotonic) -> None:
    limiter = MemoryRateLimiter(clock=mono)
    timeline = Timeline(mono, [])
    sent_at = []
    for n in range(7):
        if n == 3:
            await limiter.pause(None, 10.0)  # Telegram said retry_after=10
        await acquire(limiter, "-100500", group=True, sleep=timeline.sleep)
        sent_at.append(mono.now - 1000.0)
    # The chat's budget refilled during the pause, so another burst follows it.
    assert sent_at == pytest.approx([0.0, 0.0, 0.0, 10.0, 10.0, 10.0, 11.0])
    assert timeline.sleeps == pytest.approx([10.0, 1.0])


async def test_acquire_retries_when_another_task_took_the_slot(mono: FakeMonotonic) -> None:
    limiter = MemoryRateLimiter(LimitRules(chat_burst=1), clock=mono)
    await limiter.reserve("42", group=False)
    waits: list[float] = []

    async def contended_sleep(seconds: float) -> None:
        waits.append(seconds)
        mono.advance(seconds)
        if len(waits) == 1:
            # Someone else sends to the chat during our sleep.
            assert await limiter.reserve("42", group=False) == 0.0

    await acquire(limiter, "42", group=False, sleep=contended_sleep)
    assert waits == pytest.approx([1.0, 1.0])
    assert mono.now == pytest.approx(1002.0)


# --- Redis ----------------------------------------------------------------------------------


@dataclass
class Workers:
    """Two "worker processes": separate clients to one server, one key prefix."""

    prefix: str
    first: aioredis.Redis
    second: aioredis.Redis

    def limiters(self, rules: LimitRules) -> tuple[RedisRateLimiter, RedisRateLimiter]:
        return (
            RedisRateLimiter(self.first, rules, prefix=self.prefix),
            RedisRateLimiter(self.second, rules, prefix=self.prefix),
        )

    async def keys(self) -> list[bytes]:
        return [key async for key in self.first.scan_iter(f"{self.prefix}:*")]


@pytest.fixture
async def workers() -> AsyncIterator[Workers]:
    require("Redis", "127.0.0.1", 6379)
    first = aioredis.from_url(REDIS_URL)
    second = aioredis.from_url(REDIS_URL)
    shared = Workers(f"test-limits-{uuid.uuid4().hex[:12]}", first, second)
    try:
        yield shared
    finally:
        keys = await shared.keys()
        if keys:
            await first.delete(*keys)
        await first.aclose()
        await second.aclose()


async def test_redis_workers_share_a_chat_budget(workers: Workers) -> None:
    a, b = workers.limiters(LimitRules(chat_per_second=1.0, chat_burst=1))
    waits = [
        await a.reserve("42", group=False),
        await b.reserve("42", group=False),
        await a.reserve("42", group=False),
        await b.reserve("42", group=False),
    ]
    assert waits[0] == 0.0
    assert all(0.5 < wait <= 1.0 for wait in waits[1:]), waits
    # Another chat is untouched by the first one's budget.
    assert await b.reserve("43", group=False) == 0.0


async def test_redis_delay_is_enough_and_alternates(workers: Workers) -> None:
    a, b = workers.limiters(LimitRules(chat_per_second=10.0, chat_burst=1))
    assert await a.reserve("42", group=False) == 0.0
    wait = await b.reserve("42", group=False)
    assert 0 < wait <= 0.1
    await asyncio.sleep(wait)
    assert await b.reserve("42", group=False) == 0.0
    assert await a.reserve("42", group=False) > 0


async def test_redis_workers_share_the_global_budget(workers: Workers) -> None:
    a, b = workers.limiters(LimitRules(global_per_second=4.0))
    workers_in_turn = [a, b, a, b]
    taken = [await w.reserve(f"chat-{i}", group=False) for i, w in enumerate(workers_in_turn)]
    assert taken == [0.0] * 4
    assert 0.1 < await a.reserve("chat-4", group=False) <= 0.25
    assert 0.1 < await b.reserve("chat-5", group=True) <= 0.25


async def test_redis_refusal_consumes_nothing(workers: Workers) -> None:
    a, b = workers.limiters(LimitRules(global_per_second=2.0, chat_burst=1))
    assert await a.reserve("42", group=False) == 0.0
    for limiter in (a, b, a, b):
        assert await limiter.reserve("42", group=False) > 0.5
    # The refusals above spent none of the global budget: its second send is still there.
    assert await b.reserve("43", group=False) == 0.0
    assert await a.reserve("44", group=False) > 0.2


async def test_redis_pauses_are_shared(workers: Workers) -> None:
    a, b = workers.limiters(LimitRules())
    await a.pause("42", 0.3)
    assert 0.15 < await b.reserve("42", group=False) <= 0.3
    assert await b.reserve("43", group=False) == 0.0
    await a.pause("42", 0.1)  # shorter: does not cut the pause
    assert await b.reserve("42", group=False) > 0.1
    await b.pause(None, 0.2)
    wait = await a.reserve("44", group=True)
    assert 0.05 < wait <= 0.2
    await asyncio.sleep(wait)
    assert await a.reserve("44", group=True) == 0.0
    assert await b.reserve("42", group=False) > 0  # the chat's own pause is still on


async def test_redis_concurrent_workers_never_overspend(workers: Workers) -> None:
    a, b = workers.limiters(LimitRules(chat_burst=3))
    waits = await asyncio.gather(
        *(limiter.reserve("42", group=False) for limiter in [a, b] * 10),
    )
    # Twenty racing reservations across two clients: exactly the burst of three is taken.
    assert waits.count(0.0) == 3
    assert all(wait > 0.5 for wait in waits if wait != 0.0)


async def test_redis_keys_expire(workers: Workers) -> None:
    a, b = workers.limiters(LimitRules(chat_per_second=10.0, chat_burst=1))
    await a.reserve("42", group=False)
    await b.reserve("-7", group=True)
    await a.pause("43", 0.1)
    await b.pause(None, 0.1)
    keys = await workers.keys()
    assert len(keys) == 6  # global TAT, two chat TATs, two pauses, the group's send log
    for key in keys:
        ttl_ms = await workers.first.pttl(key)
        # The group's log lives longest: a minute, until its sends leave the window.
        assert 0 < ttl_ms <= 60000, (key, ttl_ms)
    # Budgets refill within 0.1 s; only the group's send log remains after that.
    await asyncio.sleep(0.15)
    assert [key.decode() for key in await workers.keys()] == [
        f"{workers.prefix}:outbox:rate:log:chat:-7"
    ]


async def test_redis_group_minute_is_shared(workers: Workers) -> None:
    a, b = workers.limiters(LimitRules(chat_per_second=1000.0, chat_burst=50, group_per_minute=4))
    taken = [await limiter.reserve("-7", group=True) for limiter in [a, b, a, b]]
    assert taken == [0.0] * 4
    # The fifth send to the group within the minute waits, whichever worker asks.
    assert 59.0 < await a.reserve("-7", group=True) <= 60.0
    assert 59.0 < await b.reserve("-7", group=True) <= 60.0
    assert await a.reserve("-8", group=True) == 0.0
