"""Sending what a handled update produced, after its unit of work has committed."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

from aiogram import Bot
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.methods import TelegramMethod

from bot.outbox.limits import RateLimiter, acquire, take_within

logger = logging.getLogger(__name__)

ATTEMPTS = 4
# A reply that would arrive minutes late is worse than none; the webhook must also answer in ~60 s.
MAX_RETRY_AFTER = 20.0


@dataclass(slots=True)
class PendingCalls:
    """Bot API calls collected while an update is handled, sent once it is committed."""

    calls: list[TelegramMethod[Any]] = field(default_factory=list)

    def add(self, *calls: TelegramMethod[Any]) -> None:
        self.calls.extend(calls)

    async def flush(
        self, bot: Bot, limiter: RateLimiter | None = None, *, max_wait: float | None = None
    ) -> list[TelegramMethod[Any]]:
        """Send in order; with `max_wait`, stop at the first call the rate limiter would hold
        longer than that, and return it and the calls after it (unsent)."""
        calls, self.calls = self.calls, []
        for index, call in enumerate(calls):
            if await send(bot, call, limiter, max_wait=max_wait) is None:
                return calls[index:]
        return []


def limit_key(chat_id: int | str) -> tuple[str, bool]:
    """The rate limiter's key for a Telegram chat (shared with the outbox sender)."""
    return f"tg:{chat_id}", int(chat_id) < 0


async def send(
    bot: Bot,
    call: TelegramMethod[Any],
    limiter: RateLimiter | None = None,
    *,
    max_wait: float | None = None,
) -> bool | None:
    """Send one call within the bot's rate limits, waiting out 429s and retrying transient
    failures; False when it failed. With `max_wait`, None (nothing sent) when the limiter
    would first make it wait longer than that: the caller leaves it to the outbox."""
    delay = 0.5
    chat_id = getattr(call, "chat_id", None)
    for attempt in range(1, ATTEMPTS + 1):
        if limiter is not None and isinstance(chat_id, int | str):
            chat_key, group = limit_key(chat_id)
            if attempt == 1 and max_wait is not None:
                if not await take_within(limiter, chat_key, group=group, max_wait=max_wait):
                    return None
            else:
                await acquire(limiter, chat_key, group=group)
        try:
            await bot(call)
            return True
        except TelegramRetryAfter as exc:
            if exc.retry_after > MAX_RETRY_AFTER:
                logger.warning(
                    "dropping %s: retry_after %s s", call.__api_method__, exc.retry_after
                )
                return False
            if limiter is not None and isinstance(chat_id, int | str):
                await limiter.pause(limit_key(chat_id)[0], float(exc.retry_after))
            await asyncio.sleep(exc.retry_after)
        except (TelegramServerError, TelegramNetworkError) as exc:
            logger.warning("%s failed (attempt %d): %s", call.__api_method__, attempt, exc)
            await asyncio.sleep(delay)
            delay *= 2
        except TelegramForbiddenError as exc:
            logger.info("%s refused, the user blocked the bot: %s", call.__api_method__, exc)
            return False
        except TelegramBadRequest as exc:
            logger.error("%s rejected: %s", call.__api_method__, exc)
            return False
    logger.error("%s failed after %d attempts", call.__api_method__, ATTEMPTS)
    return False
