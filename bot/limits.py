"""Outbound rate limits for the Bot API: what the sender asks before every call.

Telegram answers 429 when a bot sends faster than about 1 message a second to one chat
(short bursts tolerated), 20 a minute to one group, or about 30 a second overall. Those
limits belong to the bot token, not to a process, so besides the in-process limiter there
is one that keeps its state in Redis and is shared by every worker of the token.

The global and per-chat budgets use GCRA (the generic cell rate algorithm): per budget only
one number is stored, the "theoretical arrival time" (TAT) of the next send. A send at `now`
fits when `TAT - tolerance <= now`, and then moves the TAT one emission interval on. It is a
token bucket without a refill loop, so a refusal can say exactly how long to wait.

A group is held to the per-chat pace too, and to at most `group_per_minute` sends in any
sliding minute (a log of send times): a burst of new cards goes out at the chat pace instead of
one every three seconds, and the minute's total still never exceeds Telegram's 20.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import redis.asyncio as aioredis
from sqlalchemy.ext.asyncio import AsyncSession

from storage.redis_batch import ScriptCall, run_before_commit

# Float sums of intervals such as 1/30 drift by a few ulps; without this slack a caller
# that waits exactly the delay it was given could be refused again by 1e-16 s.
_EPSILON = 1e-9
# How often the in-memory limiter forgets chats whose budgets are back to full.
_SWEEP_EVERY = 60.0


@dataclass(frozen=True)
class LimitRules:
    """Telegram's limits, as rates and burst sizes (a burst of 1 means strict spacing).

    The global budget lets one second's worth of sends go at once (see `global_burst`),
    so a broadcast starts immediately and then settles to `global_per_second`.
    A group chat is held to the chat budget and, besides, to `group_per_minute` sends in any
    sliding window of `group_window` seconds.
    """

    global_per_second: float = 30.0
    chat_per_second: float = 1.0
    chat_burst: int = 3  # a chat may take a short burst
    group_per_minute: float = 20.0
    group_window: float = 60.0

    def __post_init__(self) -> None:
        # A zero rate would make every interval infinite; catch it where it is configured.
        for name in ("global_per_second", "chat_per_second", "group_per_minute", "group_window"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive")
        if self.chat_burst < 1:
            raise ValueError("chat_burst must be at least 1")

    @property
    def group_limit(self) -> int:
        """Sends a group may take within one window."""
        return max(1, math.floor(self.group_per_minute * self.group_window / 60.0))

    @property
    def global_burst(self) -> int:
        """Sends that may go at the same instant across all chats: one second's worth."""
        return max(1, math.floor(self.global_per_second))


@dataclass(frozen=True)
class _Cell:
    """One GCRA budget: `interval` between sends, `tolerance` = how far ahead a burst may run."""

    interval: float
    tolerance: float

    @classmethod
    def of(cls, per_second: float, burst: int) -> _Cell:
        interval = 1.0 / per_second
        return cls(interval=interval, tolerance=(burst - 1) * interval)


def _cells(rules: LimitRules) -> tuple[_Cell, _Cell]:
    """The global and per-chat budgets of `rules`."""
    return (
        _Cell.of(rules.global_per_second, rules.global_burst),
        _Cell.of(rules.chat_per_second, rules.chat_burst),
    )


class RateLimiter(Protocol):
    """The port the outbound sender uses before each Bot API call.

    `reserve` never sleeps, so the sender can serve other chats meanwhile; `acquire` below
    is the simple blocking loop on top of it. After a 429 the sender reports `retry_after`
    through `pause`, which every later `reserve` honours.
    """

    async def reserve(self, chat_key: str, *, group: bool) -> float:
        """Try to take one send to `chat_key` now.

        Returns 0.0 when taken: the send may go now, and the global budget and the chat's
        (or, with `group`, the group's) budget were consumed. Otherwise returns the seconds
        to wait before trying again, and nothing was consumed.
        """
        ...

    async def pause(self, chat_key: str | None, seconds: float) -> None:
        """After a 429: no send to `chat_key` (to anyone, when None) for `seconds`.

        A pause only ever extends: a shorter one does not cut a longer one short.
        """
        ...


class MemoryRateLimiter:
    """Limits for one process, kept in dictionaries; the clock is injectable for tests.

    `reserve` has no `await` inside, so under asyncio the check and the consumption are
    atomic without a lock.
    """

    def __init__(
        self,
        rules: LimitRules = LimitRules(),  # frozen, so one shared default is safe
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._rules = rules
        self._clock = clock
        self._global, self._chat = _cells(rules)
        self._global_tat: float | None = None
        self._chat_tats: dict[str, float] = {}
        # A group's send times within the last window, oldest first.
        self._windows: dict[str, deque[float]] = {}
        self._everyone_paused_until: float | None = None
        self._chat_paused_until: dict[str, float] = {}
        self._swept_at = clock()

    async def reserve(self, chat_key: str, *, group: bool) -> float:
        now = self._clock()
        self._sweep(now)
        cell = self._chat
        # A missing or past TAT means a full budget: the next send is "due" now.
        global_tat = now if self._global_tat is None else max(self._global_tat, now)
        chat_tat = max(self._chat_tats.get(chat_key, now), now)
        everyone_paused_until = self._everyone_paused_until
        wait = max(
            global_tat - self._global.tolerance - now,
            chat_tat - cell.tolerance - now,
            0.0 if everyone_paused_until is None else everyone_paused_until - now,
            self._chat_paused_until.get(chat_key, now) - now,
        )
        window: deque[float] | None = None
        if group:
            window = self._windows.setdefault(chat_key, deque())
            while window and window[0] <= now - self._rules.group_window:
                window.popleft()
            if len(window) >= self._rules.group_limit:
                wait = max(wait, window[0] + self._rules.group_window - now)
        if wait > _EPSILON:
            return wait
        self._global_tat = global_tat + self._global.interval
        self._chat_tats[chat_key] = chat_tat + cell.interval
        if window is not None:
            window.append(now)
        return 0.0

    async def pause(self, chat_key: str | None, seconds: float) -> None:
        if seconds <= 0:
            return
        until = self._clock() + seconds
        if chat_key is None:
            previous = self._everyone_paused_until
            self._everyone_paused_until = until if previous is None else max(previous, until)
        else:
            self._chat_paused_until[chat_key] = max(
                self._chat_paused_until.get(chat_key, until), until
            )

    def _sweep(self, now: float) -> None:
        """Forget chats whose budgets are full again, so a long-running bot does not grow."""
        if now - self._swept_at < _SWEEP_EVERY:
            return
        self._swept_at = now
        # A TAT or a pause end in the past behaves exactly like no entry at all.
        self._chat_tats = {key: tat for key, tat in self._chat_tats.items() if tat > now}
        self._chat_paused_until = {
            key: until for key, until in self._chat_paused_until.items() if until > now
        }
        horizon = now - self._rules.group_window
        self._windows = {
            key: times for key, times in self._windows.items() if times and times[-1] > horizon
        }


# KEYS: global TAT, chat TAT, pause of everyone, pause of the chat, the group's send log.
# ARGV: global interval, global tolerance, chat interval, chat tolerance, group window
# (microseconds), and the group's sends per window (0 for a private chat: no log).
# Returns 0 when the send was taken, else the wait in whole microseconds (rounded up, so
# waiting that long is always enough). Times come from the server's TIME, so workers on
# different hosts agree without synchronised clocks (Redis >= 5 replicates a script's
# effects, which is what allows writes after TIME). Microseconds since the epoch (~1.8e15)
# are exact in a Lua double; %.17g keeps them exact in the stored string.
_RESERVE_LUA = """
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local global_interval, global_tolerance = tonumber(ARGV[1]), tonumber(ARGV[2])
local chat_interval, chat_tolerance = tonumber(ARGV[3]), tonumber(ARGV[4])

local function tat_of(key)
  local tat = tonumber(redis.call('GET', key))
  if tat == nil or tat < now then return now end
  return tat
end

local global_tat, chat_tat = tat_of(KEYS[1]), tat_of(KEYS[2])
local wait = math.max(global_tat - global_tolerance - now, chat_tat - chat_tolerance - now)
for _, pause_key in ipairs({KEYS[3], KEYS[4]}) do
  local left_ms = redis.call('PTTL', pause_key)
  if left_ms > 0 then wait = math.max(wait, left_ms * 1000) end
end
local window, window_limit = tonumber(ARGV[5]), tonumber(ARGV[6])
local logged = 0
if window_limit > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[5], '-inf', now - window)
  logged = redis.call('ZCARD', KEYS[5])
  if logged >= window_limit then
    local oldest = redis.call('ZRANGE', KEYS[5], 0, 0, 'WITHSCORES')
    wait = math.max(wait, tonumber(oldest[2]) + window - now)
  end
end
if wait > 0 then return math.ceil(wait) end

-- Taken: move both TATs on. Each key lives until its TAT has passed, since a past TAT
-- means a full budget, the same as a missing key.
local function store(key, tat)
  local ttl_ms = math.max(1, math.ceil((tat - now) / 1000))
  redis.call('SET', key, string.format('%.17g', tat), 'PX', ttl_ms)
end
store(KEYS[1], global_tat + global_interval)
store(KEYS[2], chat_tat + chat_interval)
if window_limit > 0 then
  -- The member only has to be unique: the time, and the count for sends in one microsecond.
  redis.call('ZADD', KEYS[5], now, string.format('%.17g', now) .. ':' .. logged)
  redis.call('PEXPIRE', KEYS[5], math.ceil(window / 1000))
end
return 0
"""

# KEYS: the pause key. ARGV: the pause in milliseconds. The key's own expiry is the pause,
# so it needs no clock; it is only replaced by a longer one.
_PAUSE_LUA = """
local ms = tonumber(ARGV[1])
if redis.call('PTTL', KEYS[1]) < ms then
  redis.call('SET', KEYS[1], '1', 'PX', ms)
end
return 0
"""


class Taken:
    """Sends taken ahead for an update's calls, by the call's place (`RedisRateLimiter.
    reserve_ahead`); each is used once."""

    def __init__(self, count: int = 0) -> None:
        self.sends = [False] * count

    def use(self, index: int) -> bool:
        """Whether the send of the call at `index` was taken ahead (then it is used up)."""
        if index < len(self.sends) and self.sends[index]:
            self.sends[index] = False
            return True
        return False


class RedisRateLimiter:
    """Limits shared by all workers of one bot token, kept in Redis under `prefix`.

    One Lua script checks the global budget, the chat's (or group's) budget and both
    pauses and consumes all or nothing, so concurrent workers can never overspend a
    budget between a check and a write. Every key expires once it no longer matters.
    """

    def __init__(
        self,
        redis: aioredis.Redis,
        rules: LimitRules = LimitRules(),  # frozen, so one shared default is safe
        *,
        prefix: str,
    ) -> None:
        self._rules = rules
        self._prefix = f"{prefix}:outbox:rate"
        self._redis = redis
        # register_script runs EVALSHA and loads the script itself after a NOSCRIPT
        # (a fresh or restarted server), so the body crosses the wire only when needed.
        self._reserve_script = redis.register_script(_RESERVE_LUA)
        self._pause_script = redis.register_script(_PAUSE_LUA)
        global_cell, chat_cell = _cells(rules)
        self._global_args = _micros(global_cell)
        self._chat_args = _micros(chat_cell)
        self._window_us = repr(rules.group_window * 1_000_000)

    def _reserve_keys(self, chat_key: str, group: bool) -> tuple[list[str], list[str]]:
        keys = [
            f"{self._prefix}:tat:global",
            f"{self._prefix}:tat:chat:{chat_key}",
            f"{self._prefix}:pause:all",
            f"{self._prefix}:pause:chat:{chat_key}",
            f"{self._prefix}:log:chat:{chat_key}",
        ]
        args = [
            *self._global_args,
            *self._chat_args,
            self._window_us,
            str(self._rules.group_limit if group else 0),
        ]
        return keys, args

    async def reserve(self, chat_key: str, *, group: bool) -> float:
        keys, args = self._reserve_keys(chat_key, group)
        wait_us = int(await self._reserve_script(keys=keys, args=args))
        return wait_us / 1_000_000

    def reserve_ahead(
        self,
        session: AsyncSession,
        chats: Sequence[tuple[str, bool] | None],
        when: Callable[[], bool],
    ) -> Taken:
        """Try to take a send for each of `chats` (key, is a group) in the round trip that
        writes the unit of work's dialog, right before its commit (storage.redis_batch), if
        `when()` says then that the replies go at once. A send not taken there (a spent
        budget, Redis failing) is asked for as before, when its call goes."""
        taken = Taken(len(chats))
        for index, chat in enumerate(chats):
            if chat is None:
                continue
            keys, args = self._reserve_keys(*chat)

            def make(
                index: int = index, keys: list[str] = keys, args: list[str] = args
            ) -> ScriptCall | None:
                if not when():
                    return None

                def answered(answer: Any) -> None:
                    taken.sends[index] = not isinstance(answer, BaseException) and (
                        int(answer) == 0
                    )

                return ScriptCall(self._reserve_script, keys, args, answered, required=False)

            run_before_commit(session, self._redis, f"rate-ahead:{index}", make)
        return taken

    async def pause(self, chat_key: str | None, seconds: float) -> None:
        if seconds <= 0:
            return
        key = f"{self._prefix}:pause:" + ("all" if chat_key is None else f"chat:{chat_key}")
        # Rounded up: pausing a little long is harmless, a little short earns another 429.
        await self._pause_script(keys=[key], args=[math.ceil(seconds * 1000)])


def _micros(cell: _Cell) -> tuple[str, str]:
    """A budget as script arguments; repr keeps every digit of the float."""
    return repr(cell.interval * 1_000_000), repr(cell.tolerance * 1_000_000)


async def take_within(
    limiter: RateLimiter,
    chat_key: str,
    *,
    group: bool,
    max_wait: float,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> bool:
    """Take a send within `max_wait` seconds of waiting, or take nothing and say so (the
    caller leaves the message to the outbox sender rather than hold a webhook request)."""
    waited = 0.0
    while (wait := await limiter.reserve(chat_key, group=group)) > 0:
        if waited + wait > max_wait:
            return False
        await sleep(wait)
        waited += wait
    return True


async def acquire(
    limiter: RateLimiter,
    chat_key: str,
    *,
    group: bool,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> None:
    """Wait until a send is allowed, then take it."""
    # Loop rather than trust one wait: another task or worker may take the slot first.
    while (wait := await limiter.reserve(chat_key, group=group)) > 0:
        await sleep(wait)
