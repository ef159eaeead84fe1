"""A resident's events run one at a time, in order; finished residents leave nothing behind."""

from __future__ import annotations

import asyncio

from aiogram.fsm.storage.base import StorageKey

from storage.isolation import KeyedIsolation


async def test_one_key_is_serialised_in_arrival_order_and_then_forgotten() -> None:
    isolation = KeyedIsolation()
    key = StorageKey(bot_id=1, chat_id=5, user_id=5)
    seen: list[tuple[str, int]] = []

    async def event(n: int) -> None:
        async with isolation.lock(key):
            seen.append(("in", n))
            await asyncio.sleep(0.01)
            seen.append(("out", n))

    await asyncio.gather(*(event(n) for n in range(5)))
    assert seen == [(edge, n) for n in range(5) for edge in ("in", "out")]
    assert isolation.held() == 0


async def test_different_keys_do_not_wait_for_each_other() -> None:
    isolation = KeyedIsolation()
    first, second = (StorageKey(bot_id=1, chat_id=i, user_id=i) for i in (1, 2))
    inside = asyncio.Event()

    async def hold_first() -> None:
        async with isolation.lock(first):
            inside.set()
            await asyncio.sleep(0.2)

    holder = asyncio.create_task(hold_first())
    await inside.wait()
    async with asyncio.timeout(0.1), isolation.lock(second):
        assert isolation.held() == 2
    await holder
    assert isolation.held() == 0


async def test_an_error_inside_still_releases() -> None:
    isolation = KeyedIsolation()
    key = StorageKey(bot_id=1, chat_id=9, user_id=9)
    try:
        async with isolation.lock(key):
            raise RuntimeError("handler failed")
    except RuntimeError:
        pass
    assert isolation.held() == 0
    async with asyncio.timeout(0.1), isolation.lock(key):
        pass
