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

    async def flush(self, bot: Bot) -> None:
        calls, self.calls = self.calls, []
        for call in calls:
            await send(bot, call)


async def send(bot: Bot, call: TelegramMethod[Any]) -> bool:
    """Send one call, waiting out 429s and retrying transient failures; False when it failed."""
    delay = 0.5
    for attempt in range(1, ATTEMPTS + 1):
        try:
            await bot(call)
            return True
        except TelegramRetryAfter as exc:
            if exc.retry_after > MAX_RETRY_AFTER:
                logger.warning(
                    "dropping %s: retry_after %s s", call.__api_method__, exc.retry_after
                )
                return False
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
