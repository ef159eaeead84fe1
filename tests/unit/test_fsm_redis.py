"""The dialog state in Redis with several workers (storage.fsm_redis): read once and written
once per update, right before its commit; nothing of a rolled-back update is written."""

from __future__ import annotations

from typing import Any

import pytest
from aiogram.fsm.storage.base import DefaultKeyBuilder, StorageKey
from aiogram.fsm.storage.redis import RedisStorage
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

from bot.limits import LimitRules, RedisRateLimiter, Taken
from storage._hot import Program, hold_until_commit
from storage.fsm_redis import SCRIPTS, HeldRedisStorage
from storage.redis_batch import ScriptCall, run_before_commit
from storage.uow import UnitOfWorkFactory, current_session

pytestmark = pytest.mark.postgres_only

KEY = StorageKey(bot_id=1, chat_id=42, user_id=42)


class Counted(Redis):
    """Counts the round trips: commands, and pipelines as one."""

    trips = 0

    async def execute_command(self, *args: Any, **options: Any) -> Any:
        Counted.trips += 1
        return await super().execute_command(*args, **options)  # type: ignore[no-untyped-call]

    def pipeline(self, transaction: bool = True, shard_hint: Any = None) -> Any:
        Counted.trips += 1
        return super().pipeline(transaction, shard_hint)


async def known_scripts(url: str) -> None:
    """Load the storage's scripts first: a server that does not know one yet answers its
    first call NOSCRIPT, and the client loads it and calls again (two more round trips)."""
    redis = Redis.from_url(url)
    for script in SCRIPTS:
        await redis.script_load(script)
    await redis.aclose()


async def test_a_step_reads_once_and_writes_once_at_the_commit(
    uows: UnitOfWorkFactory, redis_url: tuple[str | None, str]
) -> None:
    url, prefix = redis_url
    assert url is not None
    keys = DefaultKeyBuilder(prefix=prefix, with_bot_id=True, with_destiny=True)
    redis = Counted.from_url(url)
    held = HeldRedisStorage(redis, key_builder=keys)
    plain = RedisStorage(Redis.from_url(url), key_builder=keys)
    await plain.set_state(KEY, "Form:category")
    await plain.set_data(KEY, {"media": ["a"]})
    await known_scripts(url)

    async def step(commit: bool) -> None:
        async with uows() as uow:
            token = current_session.set(uow.session)
            try:
                assert await held.get_state(KEY) == "Form:category"
                data = await held.get_data(KEY)
                data["media"].append("b")
                assert await held.get_data(KEY) == {"media": ["a"]}  # a copy was changed
                await held.set_state(KEY, "Form:location")
                await held.set_data(KEY, data)
                assert await held.get_state(KEY) == "Form:location"  # its own write
                # Nothing written before the commit.
                assert await plain.get_state(KEY) == "Form:category"
                if commit:
                    await uow.commit()
            finally:
                current_session.reset(token)

    Counted.trips = 0
    await step(commit=False)
    assert Counted.trips == 1  # the read; the rolled-back step wrote nothing
    assert await plain.get_state(KEY) == "Form:category"
    assert await plain.get_data(KEY) == {"media": ["a"]}
    Counted.trips = 0
    await step(commit=True)
    assert Counted.trips == 2  # one read, one write
    assert await plain.get_state(KEY) == "Form:location"
    assert await plain.get_data(KEY) == {"media": ["a", "b"]}
    # A finished dialog leaves no keys behind.
    async with uows() as uow:
        token = current_session.set(uow.session)
        try:
            await held.set_state(KEY, None)
            await held.set_data(KEY, {})
            await uow.commit()
        finally:
            current_session.reset(token)
    assert await redis.exists(keys.build(KEY, "state"), keys.build(KEY, "data")) == 0
    await redis.aclose()
    await plain.redis.aclose()


async def test_a_held_write_that_fails_leaves_the_dialog_unwritten(
    uows: UnitOfWorkFactory, redis_url: tuple[str | None, str]
) -> None:
    """The dialog state goes to Redis after the unit of work's held writes ran: a filing that
    fails at the commit (the database away, say) does not leave the dialog moved on."""
    url, prefix = redis_url
    assert url is not None
    keys = DefaultKeyBuilder(prefix=prefix, with_bot_id=True, with_destiny=True)
    held = HeldRedisStorage(Redis.from_url(url), key_builder=keys)
    plain = RedisStorage(Redis.from_url(url), key_builder=keys)
    await plain.set_state(KEY, "Form:review")

    def failing() -> Program:
        raise ConnectionError("the database went away")
        yield  # a program: the generator above fails when it starts

    async with uows() as uow:
        token = current_session.set(uow.session)
        try:
            await held.set_state(KEY, None)  # the step is done: the dialog would go back
            hold_until_commit(uow.session, "filing", failing)
            with pytest.raises(ConnectionError):
                await uow.commit()
        finally:
            current_session.reset(token)
    assert await plain.get_state(KEY) == "Form:review"
    await held.redis.aclose()
    await plain.redis.aclose()


async def dialog_and_limiter(
    redis_url: tuple[str | None, str], client: type[Redis]
) -> tuple[Redis, HeldRedisStorage, RedisRateLimiter, DefaultKeyBuilder]:
    """A client of `client`'s class, the dialog storage and a rate limiter on it (one send per
    chat, then a long wait: a second send to a chat is not taken), the scripts loaded."""
    url, prefix = redis_url
    assert url is not None
    keys = DefaultKeyBuilder(prefix=prefix, with_bot_id=True, with_destiny=True)
    redis = client.from_url(url)
    held = HeldRedisStorage(redis, key_builder=keys)
    limiter = RedisRateLimiter(redis, LimitRules(chat_per_second=0.01, chat_burst=1), prefix=prefix)
    await known_scripts(url)
    return redis, held, limiter, keys


async def test_the_replies_sends_are_taken_in_the_dialogs_write(
    uows: UnitOfWorkFactory, redis_url: tuple[str | None, str]
) -> None:
    """bot.limits `RedisRateLimiter.reserve_ahead`: the sends of an update's replies are taken
    in the round trip that writes its dialog (storage.redis_batch), only if the replies go at
    once, each only within its chat's budget."""
    redis, held, limiter, _keys = await dialog_and_limiter(redis_url, Counted)
    await limiter.reserve("tg:loaded", group=False)  # the limiter's script known too

    async def step(chat: str, now: bool) -> tuple[Taken, int]:
        async with uows() as uow:
            token = current_session.set(uow.session)
            try:
                await held.set_state(KEY, "Form:location")
                taken = limiter.reserve_ahead(
                    uow.session, [(chat, False), None, (chat, False)], lambda: now
                )
                Counted.trips = 0
                await uow.commit()
                return taken, Counted.trips
            finally:
                current_session.reset(token)

    taken, trips = await step("tg:1", now=True)
    assert trips == 1  # the dialog's write and both sends, together
    assert taken.sends == [True, False, False]  # none for a call without a chat
    assert taken.use(0) and not taken.use(0)  # used once
    assert await limiter.reserve("tg:1", group=False) > 0  # the chat's budget is spent
    taken, trips = await step("tg:2", now=False)  # the replies wait for the sender
    assert trips == 1 and taken.sends == [False, False, False]
    assert await limiter.reserve("tg:2", group=False) == 0  # nothing was taken from it
    await redis.aclose()


async def test_a_send_not_taken_for_redis_failing_leaves_the_dialog_written(
    uows: UnitOfWorkFactory, redis_url: tuple[str | None, str]
) -> None:
    """A script of the batch that may fail alone (a send taken ahead) does not fail the
    commit; the dialog's write, which must not, is written."""
    url, prefix = redis_url
    assert url is not None
    keys = DefaultKeyBuilder(prefix=prefix, with_bot_id=True, with_destiny=True)
    redis = Redis.from_url(url)
    held = HeldRedisStorage(redis, key_builder=keys)
    broken = redis.register_script("return redis.call('NOSUCHCOMMAND')")
    answers: list[Any] = []
    async with uows() as uow:
        token = current_session.set(uow.session)
        try:
            await held.set_state(KEY, "Form:description")
            run_before_commit(
                uow.session,
                redis,
                "broken",
                lambda: ScriptCall(broken, [], [], answers.append, required=False),
            )
            await uow.commit()
        finally:
            current_session.reset(token)
    assert len(answers) == 1 and isinstance(answers[0], ResponseError)
    assert await redis.get(keys.build(KEY, "state")) == b"Form:description"
    await redis.aclose()


async def test_redis_failing_under_the_batch_fails_the_commit_and_writes_nothing(
    uows: UnitOfWorkFactory, redis_url: tuple[str | None, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Redis gone between the chat's lock and the commit: the round trip of the dialog's
    write and the replies' sends fails whole, so the unit of work fails (the update is
    delivered again) and neither the dialog nor a send is taken."""
    redis, held, limiter, keys = await dialog_and_limiter(redis_url, Redis)

    async def gone(self: Any, *args: Any, **kwargs: Any) -> Any:
        raise RedisConnectionError("Redis went away")

    async with uows() as uow:
        token = current_session.set(uow.session)
        try:
            await held.set_state(KEY, "Form:photo")
            taken = limiter.reserve_ahead(uow.session, [("tg:9", False)], lambda: True)
            with monkeypatch.context() as patched:
                patched.setattr(Pipeline, "execute", gone)
                with pytest.raises(RedisConnectionError):
                    await uow.commit()
        finally:
            current_session.reset(token)
    assert taken.sends == [False]
    assert await redis.get(keys.build(KEY, "state")) is None
    assert await limiter.reserve("tg:9", group=False) == 0  # the chat's budget untouched
    await redis.aclose()
