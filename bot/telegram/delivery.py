"""Sending what a handled update produced, after its unit of work has committed."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiogram import Bot

from bot.api_errors import Outcome
from bot.limits import RateLimiter, Taken, acquire, take_within
from bot.telegram.calls import Call, method_name
from bot.telegram.errors import API_ERRORS, classify
from bot.telegram.session import answer_unread, call_api

logger = logging.getLogger(__name__)

ATTEMPTS = 4
# A reply that would arrive minutes late is worse than none; the webhook must also answer in ~60 s.
MAX_RETRY_AFTER = 20.0


# Called with what a sent call returned (e.g. the Message), after the update's commit.
AfterSent = Callable[[Any], Awaitable[None]]


@dataclass(slots=True)
class PendingCalls:
    """Bot API calls collected while an update is handled, sent once it is committed."""

    calls: list[Call] = field(default_factory=list)
    # Given what a call returned once it is sent (keyed by the call's id): e.g. the message id
    # of a question whose answers the desk must recognise.
    afters: dict[int, AfterSent] = field(default_factory=dict)
    # Sent in place of a call that failed (keyed by the call's id): a new message instead of
    # an edit Telegram refused.
    fallbacks: dict[int, list[Call]] = field(default_factory=dict)

    def add(self, *calls: Call) -> None:
        self.calls.extend(calls)

    def add_or(self, call: Call, fallback: list[Call]) -> None:
        """Send `call`; should it fail, send `fallback` instead."""
        self.calls.append(call)
        if fallback:
            self.fallbacks[id(call)] = fallback

    def add_then(self, call: Call, then: AfterSent) -> None:
        """Send `call`, then hand its result to `then` (not called when sending failed)."""
        self.calls.append(call)
        self.afters[id(call)] = then

    async def flush(
        self,
        bot: Bot,
        limiter: RateLimiter | None = None,
        *,
        max_wait: float | None = None,
        taken: Taken | None = None,
    ) -> list[Call]:
        """Send in order; with `max_wait`, stop at the first call the rate limiter would hold
        longer than that, and return it and the calls after it (unsent). `taken`: the calls
        whose first send was taken ahead (bot.limits `RedisRateLimiter.reserve_ahead`)."""
        calls, self.calls = self.calls, []
        afters, self.afters = self.afters, {}
        fallbacks, self.fallbacks = self.fallbacks, {}
        for index, call in enumerate(calls):
            then = afters.get(id(call))
            unread = answer_unread.set(then is None)
            ahead = taken is not None and taken.use(index)
            try:
                sent, result = await _send(bot, call, limiter, max_wait, ahead=ahead)
            finally:
                answer_unread.reset(unread)
            if sent is None:
                return calls[index:]
            if sent and then is not None and result is not None:
                await then(result)
            if not sent:
                for instead in fallbacks.get(id(call), []):
                    await send(bot, instead, limiter)
        return []


def limit_key(chat_id: int | str) -> tuple[str, bool]:
    """The rate limiter's key for a Telegram chat (shared with the outbox sender)."""
    return f"tg:{chat_id}", int(chat_id) < 0


async def send(
    bot: Bot,
    call: Call,
    limiter: RateLimiter | None = None,
    *,
    max_wait: float | None = None,
) -> bool | None:
    """Send one call within the bot's rate limits, waiting out 429s and retrying transient
    failures; False when it failed. With `max_wait`, None (nothing sent) when the limiter
    would first make it wait longer than that: the caller leaves it to the outbox."""
    return (await _send(bot, call, limiter, max_wait))[0]


async def _send(
    bot: Bot,
    call: Call,
    limiter: RateLimiter | None,
    max_wait: float | None,
    *,
    ahead: bool = False,
) -> tuple[bool | None, Any]:
    """(True, what Telegram answered), (False, None) when it failed, (None, None) when the
    limiter would hold it longer than `max_wait`. `ahead`: the first attempt's send was taken
    already."""
    delay = 0.5
    chat_id = getattr(call, "chat_id", None)
    for attempt in range(1, ATTEMPTS + 1):
        if attempt == 1 and ahead:
            pass
        elif limiter is not None and isinstance(chat_id, int | str):
            chat_key, group = limit_key(chat_id)
            if attempt == 1 and max_wait is not None:
                if not await take_within(limiter, chat_key, group=group, max_wait=max_wait):
                    return None, None
            else:
                await acquire(limiter, chat_key, group=group)
        try:
            return True, await call_api(bot, call)
        except API_ERRORS as exc:
            failure = classify(exc)
            name = method_name(call)
            match failure.outcome:
                case Outcome.FLOOD_WAIT:
                    wait = failure.retry_after or 1.0
                    if wait > MAX_RETRY_AFTER:
                        logger.warning("dropping %s: retry_after %s s", name, wait)
                        return False, None
                    if limiter is not None and isinstance(chat_id, int | str):
                        await limiter.pause(limit_key(chat_id)[0], wait)
                    await asyncio.sleep(wait)
                case Outcome.RETRY:
                    logger.warning("%s failed (attempt %d): %s", name, attempt, exc)
                    await asyncio.sleep(delay)
                    delay *= 2
                case Outcome.BLOCKED:
                    logger.info("%s refused, the chat takes nothing from the bot: %s", name, exc)
                    return False, None
                case Outcome.NOT_MODIFIED:
                    # The message already shows it: done, and no fallback message is needed.
                    return True, None
                case Outcome.CREDENTIALS:
                    # The outbox sender pauses the channel and alerts; a reply cannot wait.
                    logger.error("%s refused, Telegram refuses the bot's token: %s", name, exc)
                    return False, None
                case _:
                    logger.error("%s rejected: %s", name, exc)
                    return False, None
    logger.error("%s failed after %d attempts", method_name(call), ATTEMPTS)
    return False, None
