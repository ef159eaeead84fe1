"""Long polling has no redelivery: Telegram counts an update as delivered once the next
getUpdates moves past it. So in polling mode an update that failed for a reason that passes
(storage, Redis, network: bot.faults) is tried again here, in order, before the next one."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import TelegramObject, Update

from bot.faults import Fault, classify, describe, stop_if_cancelled

logger = logging.getLogger(__name__)


class RetryTransientMiddleware(BaseMiddleware):
    def __init__(self, *, first: float = 0.5, cap: float = 30.0, within: float = 3600.0) -> None:
        self._first = first
        self._cap = cap
        self._within = within

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        loop = asyncio.get_running_loop()
        started = loop.time()
        delay = self._first
        while True:
            try:
                return await handler(event, data)
            except Exception as exc:
                stop_if_cancelled()
                if classify(exc) is Fault.PERMANENT or loop.time() - started > self._within:
                    raise
                update_id = event.update_id if isinstance(event, Update) else "?"
                logger.warning(
                    "update %s failed (%s); trying it again in %.1f s",
                    update_id,
                    describe(exc),
                    delay,
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._cap)
