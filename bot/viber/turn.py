"""One Viber callback through the dialog: once, in one unit of work, one resident at a time.

Each message_token is handled once; a resident's callbacks are handled one at a time (the
dispatcher's events isolation); the replies are kept in the outbox in the same transaction and
sent after the commit (like bot.telegram.middleware for Telegram).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any

from aiogram.fsm.context import FSMContext
from aiogram.fsm.storage.base import BaseEventIsolation, BaseStorage, StorageKey
from viberbot.api.viber_requests import (
    ViberConversationStartedRequest,
    ViberMessageRequest,
    ViberSubscribedRequest,
    ViberUnsubscribedRequest,
)

from bot.durable import DurableReplies, Kept
from bot.flood import FloodGuard, Verdict, too_fast
from bot.media import MediaStore, MediaTooBigError, MediaUnavailableError
from bot.once import Duplicate, handle_once
from bot.viber.inbound import MediaLink, from_message, from_subscribed
from bot.viber.render import reply_button
from bot.viber.transport import ViberReplies, limit_key
from domain.clock import Clock
from domain.dialog.core import S_LOCATION, S_MEDIA, Dialog
from domain.dialog.events import Channel, Inbound, MediaItem, MediaKind
from domain.dialog.feedback import S_ANSWER, S_REOPEN
from domain.dialog.replies import Reply
from domain.i18n import Translator, gettext
from fsm_states.appeal import SelfService
from storage.uow import UnitOfWork, UnitOfWorkFactory

logger = logging.getLogger(__name__)
_ = gettext


# The dialog steps that take photos and videos: the appeal's media (and the location step,
# which keeps a photo for it), "not fixed" (where a photo may show what is wrong), an answer to
# the operator, and adding to an appeal already filed.
MEDIA_STEPS = frozenset({S_MEDIA, S_LOCATION, S_REOPEN, S_ANSWER, SelfService.add})


def state_key(user_id: str) -> StorageKey:
    """aiogram keys hold ints only; a Viber id (an opaque string) goes into the destiny."""
    return StorageKey(bot_id=0, chat_id=0, user_id=0, destiny=f"viber:{user_id}")


@dataclass(slots=True)
class ViberTurn:
    sender: dict[str, str]
    replies: ViberReplies
    dialog: Dialog
    uows: UnitOfWorkFactory
    storage: BaseStorage
    isolation: BaseEventIsolation
    media: MediaStore
    translator: Translator
    clock: Clock
    durable: DurableReplies | None = None
    flood: FloodGuard | None = None
    reply_wait: float = 1.0

    def welcome(self, request: ViberConversationStartedRequest) -> dict[str, Any]:
        """The one message a bot may send before the resident subscribes: in the HTTP answer."""
        user = request.user
        with self.translator.use(getattr(user, "language", None)):
            text = _("Welcome to the city contact centre! Press «Start» to report a problem.")
            # The button sends "/start", which the dialog takes like Telegram's command.
            start = reply_button(_("▶️ Start"), "/start")
        return {
            "sender": self.sender,
            "type": "text",
            "text": text,
            "keyboard": {"Type": "keyboard", "DefaultHeight": False, "Buttons": [start]},
        }

    async def on_subscribed(self, request: ViberSubscribedRequest, token: int) -> None:
        event = from_subscribed(request)

        async def subscribe(uow: UnitOfWork) -> None:
            await uow.accounts.get_or_create(
                Channel.VIBER, event.user_id, display_name=event.display_name, now=self.clock()
            )
            await uow.accounts.set_subscribed(Channel.VIBER, event.user_id, True)

        await self._run(event, token, also=subscribe)

    async def on_unsubscribed(self, request: ViberUnsubscribedRequest, token: int) -> None:
        user_id = request.user_id

        async def unsubscribe(uow: UnitOfWork) -> None:
            await uow.accounts.set_subscribed(Channel.VIBER, user_id, False)

        try:
            await handle_once(self.uows, self.clock, Channel.VIBER, token, unsubscribe)
        except Duplicate:
            return

    async def on_message(self, request: ViberMessageRequest, token: int) -> None:
        if self.flood is not None:
            # Before anything is read, locked or downloaded for this resident.
            verdict = await self.flood.check(limit_key(request.sender.id))
            if verdict is not Verdict.ALLOW:
                logger.info("Viber message %d from a flooding user: %s", token, verdict)
                if verdict is Verdict.WARN:
                    with self.translator.use(getattr(request.sender, "language", None)):
                        text = too_fast()
                    await self.replies.send(request.sender.id, [Reply(text)])
                return
        async with self.uows() as uow:
            if await uow.updates.seen(Channel.VIBER, token):
                return  # a redelivery: do not even download its media again
        event, link = from_message(request)
        if link is not None:
            # Downloaded only where the dialog takes media: a picture sent at any other step
            # (or by someone not registered) is never fetched, so never kept.
            state = await FSMContext(self.storage, state_key(event.user_id)).get_state()
            if state in MEDIA_STEPS:
                event = await self._download(event, link)

        async def subscribe(uow: UnitOfWork) -> None:
            # Writing to the bot subscribes a Viber user. Written only when the account says
            # otherwise: a write on every message made every step a transaction of its own
            # and moved the account's version on, so every worker read it again.
            if not await uow.accounts.is_subscribed(Channel.VIBER, event.user_id):
                await uow.accounts.set_subscribed(Channel.VIBER, event.user_id, True)

        await self._run(event, token, also=subscribe)

    async def _download(self, event: Inbound, link: MediaLink) -> Inbound:
        """Viber's media links expire: keep the file now, or say why it could not be kept."""
        try:
            ref = await self.media.download(
                link.url,
                fallback_extension=".mp4" if link.kind is MediaKind.VIDEO else ".jpg",
            )
        except MediaTooBigError:
            return replace(event, other=None, media_error="too_big")
        except MediaUnavailableError as exc:
            logger.warning("Viber media could not be downloaded: %s", exc)
            return replace(event, other=None, media_error="unavailable")
        return replace(event, other=None, media=(MediaItem(link.kind, ref, None, None),))

    async def _run(
        self, event: Inbound, token: int, *, also: Callable[[UnitOfWork], Awaitable[None]]
    ) -> None:
        """The dialog for one callback, once, in one unit of work with `also`."""
        key = state_key(event.user_id)

        kept: list[Kept] = []

        async def work(uow: UnitOfWork) -> list[Reply]:
            replies = await self.dialog.handle(event, FSMContext(self.storage, key), uow)
            await also(uow)
            if replies and self.durable is not None:
                # In this transaction, so that a crash before the send loses no reply.
                payload = {"replies": [reply.to_data() for reply in replies]}
                kept.append(
                    self.durable.keep(
                        uow,
                        channel=Channel.VIBER,
                        chat=event.user_id,
                        kind="replies",
                        payload=payload,
                    )
                )
            return replies

        async with self.isolation.lock(key):
            try:
                replies = await handle_once(self.uows, self.clock, Channel.VIBER, token, work)
            except Duplicate as exc:
                logger.info("skipping %s", exc)
                return
        if kept and not kept[0].send_now:
            return  # older rows of this chat go first: the outbox sender delivers in order
        if not (kept and self.durable is not None):
            await self.replies.send(event.user_id, replies)
            return
        row = kept[0].row_id
        self.durable.sending(row)
        # A resident whose budget is spent does not hold the webhook: the sender goes on.
        sent = await self.replies.send(event.user_id, replies, max_wait=self.reply_wait)
        if sent is None:
            await self.durable.sent(row)
        else:
            await self.durable.hand_over(row, sent=sent)
