"""Redis scripts that a unit of work runs right before its commit, all in one round trip.

The dialog's write (storage.fsm_redis) and the rate limiter's sends taken for the update's
replies (bot.limits `RedisRateLimiter.reserve_ahead`) used to be a round trip each, one right
after the other. Here they go as one pipeline (no MULTI: each script is atomic by itself, and
none depends on another's answer)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from redis.commands.core import AsyncScript
from redis.exceptions import NoScriptError
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
        pipe = self._redis.pipeline(transaction=False)
        for call in calls:
            pipe.execute_command("EVALSHA", call.script.sha, len(call.keys), *call.keys, *call.args)
        try:
            answers: list[Any] = await pipe.execute(raise_on_error=False)
        except Exception as exc:
            # The connection failed (after redis-py's own retries): every call failed.
            return [exc] * len(calls)
        for index, (call, answer) in enumerate(zip(calls, answers, strict=True)):
            if isinstance(answer, NoScriptError):
                # A Redis that restarted: the script loads with this run of it, once.
                answers[index] = await run_now(call)
        return answers


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
