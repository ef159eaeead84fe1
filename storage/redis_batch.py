"""Redis scripts sent together: those that a unit of work runs right before its commit, and,
with `BatchingRedis`, every script any update runs in the same turn of the event loop.

The dialog's write (storage.fsm_redis) and the rate limiter's sends taken for the update's
replies (bot.limits `RedisRateLimiter.reserve_ahead`) used to be a round trip each, one right
after the other. Here they go as one pipeline (no MULTI: each script is atomic by itself, and
none depends on another's answer). Under load many updates take or free their chat's lock, or
write their dialog, at once: `BatchingRedis` sends all of those in one pipeline as well, where
each had cost a command of its own (redis-py spends most of a script's client time per
command, not per byte: 72 against 25 µs of CPU per script in batches of a hundred, measured on
this project's machine)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from redis.commands.core import AsyncScript
from redis.exceptions import NoScriptError
from redis.typing import ScriptTextT
from sqlalchemy.ext.asyncio import AsyncSession

from storage._hot import before_commit

logger = logging.getLogger(__name__)

_BATCHES = "redis_script_batches"


@dataclass(slots=True)
class ScriptCall:
    """One script's run. `then` is given its answer. A call that is not `required` fails
    alone: `then` is given the error instead, and the unit of work commits."""

    script: AsyncScript
    keys: Sequence[str]
    args: Sequence[Any]
    then: Callable[[Any], None] | None = None
    required: bool = True


# Made right before the commit (what to write is known then), or None for nothing to run.
MakeCall = Callable[[], ScriptCall | None]


class _Batch:
    def __init__(self, redis: Redis, batches: dict[int, _Batch]) -> None:
        self._redis = redis
        self._batches = batches
        self.calls: dict[str, MakeCall] = {}

    async def __call__(self) -> None:
        # Run once: a script held after this (a unit of work that commits again) starts a
        # batch of its own.
        self._batches.pop(id(self._redis), None)
        calls = [call for make in self.calls.values() if (call := make()) is not None]
        if len(calls) == 1:
            answers: list[Any] = [await run_now(calls[0])]
        elif calls:
            answers = await self._together(calls)
        else:
            return
        failed: BaseException | None = None
        for call, answer in zip(calls, answers, strict=True):
            if isinstance(answer, BaseException) and call.required:
                failed = failed or answer
                continue
            if call.then is not None:
                call.then(answer)
        if failed is not None:
            raise failed

    async def _together(self, calls: list[ScriptCall]) -> list[Any]:
        if isinstance(self._redis, BatchingRedis):
            # Queued in this turn, so they go in one pipeline (with other updates' scripts).
            runs = [run_now(call) for call in calls]
            return list(await asyncio.gather(*runs, return_exceptions=True))
        return await _pipelined(
            self._redis, [(call.script, call.keys, call.args) for call in calls]
        )


Run = tuple[AsyncScript, Sequence[str], Sequence[Any]]


async def _pipelined(redis: Redis, runs: Sequence[Run]) -> list[Any]:
    """Each script's answer, or its error, in one pipeline."""
    pipe = redis.pipeline(transaction=False)
    for script, keys, args in runs:
        pipe.execute_command("EVALSHA", script.sha, len(keys), *keys, *args)
    try:
        answers: list[Any] = await pipe.execute(raise_on_error=False)
    except Exception as exc:
        # The connection failed (after redis-py's own retries): every run failed.
        return [exc] * len(runs)
    for index, (answer, run) in enumerate(zip(answers, runs, strict=True)):
        if isinstance(answer, NoScriptError):
            # A Redis that restarted: the script loads with this run of it, once.
            script, keys, args = run
            try:
                answers[index] = await AsyncScript.__call__(script, keys, args)
            except Exception as exc:
                answers[index] = exc
    return answers


class BatchingRedis(Redis):
    """A Redis client whose scripts (`register_script`) wait for the end of the event loop's
    turn and then go with every other script asked for in it, from any update, in one
    pipeline (`_pipelined`): each caller gets its own answer or error, and a caller that is
    cancelled meanwhile leaves the others' runs alone. Other commands go as redis-py sends
    them."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._waiting: list[tuple[Run, asyncio.Future[Any]]] = []
        self._sending: set[asyncio.Task[None]] = set()

    # redis-py's asyncio client overrides it the same way (its stubs name the sync type).
    def register_script(self, script: ScriptTextT) -> AsyncScript:  # type: ignore[override]
        return _BatchedScript(self, script)

    def run_script(
        self, script: AsyncScript, keys: Sequence[str], args: Sequence[Any]
    ) -> asyncio.Future[Any]:
        """`script`'s answer, once the batch of this turn is answered."""
        loop = asyncio.get_running_loop()
        answer = loop.create_future()
        self._waiting.append(((script, keys, args), answer))
        if len(self._waiting) == 1:
            loop.call_soon(self._send_waiting)
        return answer

    def _send_waiting(self) -> None:
        waiting, self._waiting = self._waiting, []
        task = asyncio.get_running_loop().create_task(self._send(waiting))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def _send(self, waiting: list[tuple[Run, asyncio.Future[Any]]]) -> None:
        runs = [run for run, _answer in waiting]
        try:
            if len(runs) == 1:
                script, keys, args = runs[0]
                try:
                    answers: list[Any] = [await AsyncScript.__call__(script, keys, args)]
                except Exception as exc:
                    answers = [exc]
            else:
                answers = await _pipelined(self, runs)
        except BaseException:
            # Cancelled (the process stopping): so are the runs still waited for.
            for _run, answer in waiting:
                answer.cancel()
            raise
        for (_run, answer), value in zip(waiting, answers, strict=True):
            if answer.done():
                continue  # its caller was cancelled
            if isinstance(value, BaseException):
                answer.set_exception(value)
            else:
                answer.set_result(value)


class _BatchedScript(AsyncScript):
    """A script of a `BatchingRedis`: run with the others of the loop's turn, unless given a
    client of its own (a pipeline)."""

    registered_client: BatchingRedis

    async def __call__(
        self,
        keys: Sequence[Any] | None = None,
        args: Any = None,
        client: Any = None,
    ) -> Any:
        if client is not None and client is not self.registered_client:
            return await super().__call__(keys, args, client)
        return await self.registered_client.run_script(self, list(keys or ()), list(args or ()))


async def run_now(call: ScriptCall) -> Any:
    """Run one script by itself (loading it if the server does not know it); the error, not
    raised, for a call that is not `required`."""
    try:
        return await call.script(keys=list(call.keys), args=list(call.args))
    except Exception as exc:
        if call.required:
            raise
        return exc


def run_before_commit(session: AsyncSession, redis: Redis, key: str, make: MakeCall) -> None:
    """Run the script `make` gives right before the unit of work commits (with the writes
    outside the database: storage._hot `before_commit`), together with the others held for
    this client; the last held under `key` replaces any earlier one."""
    batches: dict[int, _Batch] = session.info.setdefault(_BATCHES, {})
    batch = batches.get(id(redis))
    if batch is None:
        batch = batches[id(redis)] = _Batch(redis, batches)
        before_commit(session, f"redis-scripts:{id(redis)}", batch)
    batch.calls[key] = make
