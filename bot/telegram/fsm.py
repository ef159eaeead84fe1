"""The dialog's FSM context and per-resident lock for each update, without a wasted read."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, cast

from aiogram import Bot
from aiogram.fsm.middleware import FSMContextMiddleware
from aiogram.types import TelegramObject


class LockingFSMMiddleware(FSMContextMiddleware):
    """aiogram's own middleware also reads the state up front for state filters; this bot
    routes in its dialog core and reads the state inside the update's unit of work, so the
    extra read (a whole transaction on SQLite) is left out."""

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        context = self.resolve_event_context(cast(Bot, data["bot"]), data)
        data["fsm_storage"] = self.storage
        # For a handler that changes another chat's dialog (the staff chat's /call).
        data["events_isolation"] = self.events_isolation
        if context is None:
            return await handler(event, data)
        async with self.events_isolation.lock(key=context.key):
            data["state"] = context
            return await handler(event, data)
