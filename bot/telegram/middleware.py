"""One unit of work per Telegram update, with the update id recorded in the same transaction."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack
from typing import Any

from aiogram import BaseMiddleware, Bot
from aiogram.fsm.context import FSMContext
from aiogram.methods import AnswerCallbackQuery
from aiogram.types import Chat, TelegramObject, Update

from bot.durable import DurableReplies, Kept
from bot.limits import RateLimiter, RedisRateLimiter, Taken
from bot.once import Duplicate, handle_once
from bot.telegram.calls import KIND_CALLS, dump_calls
from bot.telegram.delivery import PendingCalls, limit_key
from bot.telegram.render import render, render_press
from domain.clock import Clock
from domain.dialog.core import Dialog
from domain.dialog.events import Channel, Inbound
from storage.uow import UnitOfWork, UnitOfWorkFactory

logger = logging.getLogger(__name__)


class TelegramTurn:
    """What a resident handler needs: run the dialog in this update's unit of work."""

    def __init__(
        self, dialog: Dialog, uow: UnitOfWork, pending: PendingCalls, held: AsyncExitStack
    ) -> None:
        self.uow = uow
        self.pending = pending
        self._dialog = dialog
        self._held = held

    async def hold(self, context: AbstractAsyncContextManager[Any]) -> None:
        """Enter `context` until this update's unit of work has committed or rolled back
        (another chat's lock, while the update writes that chat's dialog state)."""
        await self._held.enter_async_context(context)

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
    is recognised by its id and skipped. The replies are written into the outbox in the same
    transaction (bot.durable), so a crash between the commit and the send loses none of them.
    """

    def __init__(
        self,
        uows: UnitOfWorkFactory,
        dialog: Dialog,
        clock: Clock,
        limiter: RateLimiter,
        durable: DurableReplies | None = None,
        reply_wait: float = 1.0,
    ) -> None:
        self._uows = uows
        self._dialog = dialog
        self._clock = clock
        self._limiter = limiter
        self._durable = durable
        self._reply_wait = reply_wait

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        if not isinstance(event, Update):
            return await handler(event, data)
        pending = PendingCalls()
        kept: list[Kept] = []
        taken: list[Taken] = []
        spinner: list[AnswerCallbackQuery] = []
        held = AsyncExitStack()

        async def work(uow: UnitOfWork) -> Any:
            data["turn"] = TelegramTurn(self._dialog, uow, pending, held)
            result = await handler(event, data)
            # A button's spinner is no message: it goes back as the webhook's answer (aiogram
            # sends it itself when polling), one HTTP call less per press, and stays out of
            # the outbox. Telegram takes one answer per press, and handlers give one.
            spinner.extend(c for c in pending.calls if isinstance(c, AnswerCallbackQuery))
            pending.calls = [c for c in pending.calls if not isinstance(c, AnswerCallbackQuery)]
            if self._durable is not None:
                stored = self._keep(uow, pending, data)
                if stored is not None:
                    kept.append(stored)
                    if isinstance(self._limiter, RedisRateLimiter):
                        # The replies' sends, taken with the dialog's write if they go now.
                        taken.append(self._take_ahead(uow, pending, stored))
            return result

        try:
            async with held:
                result = await handle_once(
                    self._uows, self._clock, Channel.TELEGRAM, event.update_id, work
                )
        except Duplicate as exc:
            logger.info("skipping %s", exc)
            return None
        if spinner:
            result = spinner[0]  # it stops once the replies are out
        bot: Bot = data["bot"]
        if not (kept and self._durable is not None):
            await pending.flush(bot, self._limiter)
            return result
        if not kept[0].send_now:
            # Older rows of this resident's chat go first: the sender delivers them in order.
            return result
        row = kept[0].row_id
        self._durable.sending(row)
        # The webhook request stays open while the replies go out; a chat whose budget is spent
        # (a resident flooding within the limit) does not hold it: the sender takes over.
        unsent = await pending.flush(
            bot, self._limiter, max_wait=self._reply_wait, taken=taken[0] if taken else None
        )
        if unsent:
            await self._durable.hand_over(row, sent=kept[0].size - len(unsent))
        else:
            await self._durable.sent(row)
        return result

    def _take_ahead(self, uow: UnitOfWork, pending: PendingCalls, kept: Kept) -> Taken:
        assert isinstance(self._limiter, RedisRateLimiter)
        ids = [getattr(call, "chat_id", None) for call in pending.calls]
        # As `delivery._send` asks for them: calls without a chat take no send.
        chats = [limit_key(c) if isinstance(c, int | str) else None for c in ids]
        return self._limiter.reserve_ahead(uow.session, chats, lambda: kept.send_now)

    def _keep(self, uow: UnitOfWork, pending: PendingCalls, data: dict[str, Any]) -> Kept | None:
        """Write the update's messages into the outbox at its commit (bot.durable)."""
        assert self._durable is not None
        messages = pending.calls
        calls = dump_calls(messages) if messages else None
        if calls is None:
            return None  # nothing to keep, or a local file to upload: sent at once
        chat = next((c for c in (getattr(m, "chat_id", None) for m in messages) if c), None)
        if chat is None:
            event_chat = data.get("event_chat")
            chat = event_chat.id if isinstance(event_chat, Chat) else 0
        return self._durable.keep(
            uow,
            channel=Channel.TELEGRAM,
            chat=str(chat),
            kind=KIND_CALLS,
            payload={"calls": calls},
            # A resident's replies keep their order with the pushes queued for them; in the
            # staff chat an operator's answer does not wait behind queued notices.
            in_order=int(chat) > 0,
        )
