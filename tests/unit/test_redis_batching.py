"""Scripts of many updates in one pipeline (storage.redis_batch `BatchingRedis`): each caller
gets its own answer or error, whatever the others in its batch do."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from redis.asyncio.client import Pipeline
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

from bot.app import create_redis
from storage.redis_batch import BatchingRedis

pytestmark = pytest.mark.postgres_only

# Takes a key if free and answers with the caller's argument, as the chat lock does.
_TAKE = """
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', 5000) then return {1, ARGV[1]} end
return {0, redis.call('GET', KEYS[1])}
"""
_FAIL = "return redis.call('NOSUCHCOMMAND')"


@pytest.fixture
async def batching(redis_url: tuple[str | None, str]) -> AsyncIterator[tuple[BatchingRedis, str]]:
    url, prefix = redis_url
    assert url is not None
    redis = create_redis(url)
    assert isinstance(redis, BatchingRedis)  # the application's client batches
    yield redis, prefix
    await redis.aclose()


class Pipelines:
    """The pipelines sent, by how many commands each held."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.sizes: list[int] = []
        execute = Pipeline.execute
        sizes = self.sizes

        async def counted(pipe: Pipeline, raise_on_error: bool = True) -> Any:
            sizes.append(len(pipe.command_stack))
            return await execute(pipe, raise_on_error)

        monkeypatch.setattr(Pipeline, "execute", counted)


async def test_scripts_of_one_turn_go_in_one_pipeline_each_with_its_answer(
    batching: tuple[BatchingRedis, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    redis, prefix = batching
    take = redis.register_script(_TAKE)
    await redis.script_load(_TAKE)
    pipelines = Pipelines(monkeypatch)
    answers = await asyncio.gather(
        *(take(keys=[f"{prefix}:k{i % 10}"], args=[f"update-{i}"]) for i in range(30))
    )
    assert pipelines.sizes == [30]
    # The first ten took their keys; each later one sees the update that holds its key.
    assert answers[:10] == [[1, f"update-{i}".encode()] for i in range(10)]
    assert answers[10:] == [[0, f"update-{i % 10}".encode()] for i in range(10, 30)]


async def test_a_failing_script_fails_its_caller_alone(
    batching: tuple[BatchingRedis, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    redis, prefix = batching
    take = redis.register_script(_TAKE)
    fail = redis.register_script(_FAIL)
    pipelines = Pipelines(monkeypatch)
    answers = await asyncio.gather(
        take(keys=[f"{prefix}:a"], args=["first"]),
        fail(),
        take(keys=[f"{prefix}:b"], args=["second"]),
        return_exceptions=True,
    )
    assert pipelines.sizes[0] == 3
    assert answers[0] == [1, b"first"] and answers[2] == [1, b"second"]
    assert isinstance(answers[1], ResponseError)


async def test_a_server_that_forgot_its_scripts_loads_them_and_answers(
    batching: tuple[BatchingRedis, str],
) -> None:
    """A Redis restarted (SCRIPT FLUSH here) answers NOSCRIPT: each run loads its script and
    runs again; none is lost or run twice."""
    redis, prefix = batching
    take = redis.register_script(_TAKE)
    await redis.script_flush()
    answers = await asyncio.gather(
        *(take(keys=[f"{prefix}:n{i}"], args=[str(i)]) for i in range(5))
    )
    assert answers == [[1, str(i).encode()] for i in range(5)]
    assert await redis.get(f"{prefix}:n3") == b"3"


async def test_a_cancelled_caller_leaves_the_others_of_its_batch_answered(
    batching: tuple[BatchingRedis, str],
) -> None:
    redis, prefix = batching
    take = redis.register_script(_TAKE)
    first = asyncio.ensure_future(take(keys=[f"{prefix}:c1"], args=["kept"]))
    gone = asyncio.ensure_future(take(keys=[f"{prefix}:c2"], args=["cancelled"]))
    third = asyncio.ensure_future(take(keys=[f"{prefix}:c3"], args=["kept too"]))
    await asyncio.sleep(0)  # all three queued for the same batch
    gone.cancel()
    assert await first == [1, b"kept"]
    assert await third == [1, b"kept too"]
    with pytest.raises(asyncio.CancelledError):
        await gone


async def test_redis_away_fails_every_caller_of_the_batch(
    batching: tuple[BatchingRedis, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    redis, prefix = batching
    take = redis.register_script(_TAKE)

    async def gone(pipe: Pipeline, raise_on_error: bool = True) -> Any:
        raise RedisConnectionError("Redis went away")

    monkeypatch.setattr(Pipeline, "execute", gone)
    answers = await asyncio.gather(
        *(take(keys=[f"{prefix}:g{i}"], args=["x"]) for i in range(3)), return_exceptions=True
    )
    assert all(isinstance(a, RedisConnectionError) for a in answers)
    monkeypatch.undo()
    # Nothing was written, and the client works again once Redis is back.
    assert await take(keys=[f"{prefix}:g0"], args=["later"]) == [1, b"later"]
