"""One unit of work per Telegram update, with the update id recorded in the same transaction."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware, Bot
from aiogram.fsm.context import FSMContext
from aiogram.types import TelegramObject, Update

from bot.once import Duplicate, handle_once
from bot.outbox.limits import RateLimiter
from bot.telegram.delivery import PendingCalls
from bot.telegram.render import render, render_press
from domain.clock import Clock
from domain.dialog.core import Dialog
from domain.dialog.events import Channel, Inbound
from storage.uow import UnitOfWork, UnitOfWorkFactory

logger = logging.getLogger(__name__)


class TelegramTurn:
    """What a resident handler needs: run the dialog in this update's unit of work."""

    def __init__(self, dialog: Dialog, uow: UnitOfWork, pending: PendingCalls) -> None:
        self.uow = uow
        self.pending = pending
        self._dialog = dialog

    async def run(
        self, event: Inbound, chat_id: int, state: FSMContext, origin: int | None = None
    ) -> None:
        """`origin`: the message whose button was pressed (answered by editing it)."""
        replies = await self._dialog.handle(event, state, self.uow)
        if origin is None:
            self.pending.add(*render(chat_id, replies))
            return
        answer = render_press(chat_id, replies, origin)
        if answer.edit is not None:
            self.pending.add_or(answer.edit, answer.fallback)
        self.pending.add(*answer.rest)


class UnitOfWorkMiddleware(BaseMiddleware):
    """Outer middleware on updates, inside aiogram's per-user lock (events isolation).

    Replies are sent only after the commit, so a crash mid-update leaves neither a half-written
    appeal nor a reply about it, and a redelivered update (Telegram retries anything but 2xx)
    is recognised by its id and skipped.
    """

    def __init__(
        self, uows: UnitOfWorkFactory, dialog: Dialog, clock: Clock, limiter: RateLimiter
    ) -> None:
        self._uows = uows
        self._dialog = dialog
        self._clock = clock
        self._limiter = limiter

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        if not isinstance(event, Update):
            return await handler(event, data)
        pending = PendingCalls()

        async def work(uow: UnitOfWork) -> Any:
            data["turn"] = TelegramTurn(self._dialog, uow, pending)
            return await handler(event, data)

        try:
            result = await handle_once(
                self._uows, self._clock, Channel.TELEGRAM, event.update_id, work
            )
        except Duplicate as exc:
            logger.info("skipping %s", exc)
            return None
        bot: Bot = data["bot"]
        await pending.flush(bot, self._limiter)
        return result
