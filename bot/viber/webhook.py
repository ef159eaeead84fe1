"""The Viber webhook: signed callbacks in, the same dialog as Telegram, replies out.

Every callback's signature is checked before anything else; each message_token is handled
once; a resident's callbacks are handled one at a time (the dispatcher's events isolation);
unknown events get 200 and a log line, never a 5xx that Viber would retry for an hour.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any

from aiogram.fsm.context import FSMContext
from aiogram.fsm.storage.base import BaseEventIsolation, BaseStorage, StorageKey
from aiohttp import web
from viberbot.api.messages import (
    ContactMessage,
    LocationMessage,
    PictureMessage,
    StickerMessage,
    TextMessage,
    VideoMessage,
)
from viberbot.api.viber_requests import (
    ViberConversationStartedRequest,
    ViberMessageRequest,
    ViberSubscribedRequest,
    ViberUnsubscribedRequest,
    create_request,
)

from bot.durable import DurableReplies, Kept
from bot.faults import Fault, classify, describe
from bot.flood import FloodGuard, Verdict, too_fast
from bot.media import MediaStore, MediaTooBigError, MediaUnavailableError
from bot.once import Duplicate, handle_once
from bot.outbox.limits import RateLimiter, acquire, take_within
from bot.viber.client import ViberApiError, ViberClient, ViberTransientError
from bot.viber.render import render, reply_button
from domain.actions import Action
from domain.clock import Clock
from domain.dialog.core import S_LOCATION, S_MEDIA, Dialog
from domain.dialog.events import Channel, ContactShare, GeoPoint, Inbound, MediaItem, MediaKind
from domain.dialog.feedback import S_ANSWER, S_REOPEN
from domain.dialog.replies import Reply
from domain.i18n import Translator, gettext
from fsm_states.appeal import SelfService
from storage.uow import UnitOfWork, UnitOfWorkFactory

logger = logging.getLogger(__name__)
_ = gettext

SIGNATURE_HEADER = "X-Viber-Content-Signature"
SEND_ATTEMPTS = 3


# The dialog steps that take photos and videos: the appeal's media (and the location step,
# which keeps a photo for it), "not fixed" (where a photo may show what is wrong), an answer to
# the operator, and adding to an appeal already filed.
MEDIA_STEPS = frozenset({S_MEDIA, S_LOCATION, S_REOPEN, S_ANSWER, SelfService.add})


def signature(token: str, body: bytes) -> str:
    return hmac.new(token.encode(), body, hashlib.sha256).hexdigest()


def state_key(user_id: str) -> StorageKey:
    """aiogram keys hold ints only; a Viber id (an opaque string) goes into the destiny."""
    return StorageKey(bot_id=0, chat_id=0, user_id=0, destiny=f"viber:{user_id}")


@dataclass(slots=True)
class ViberWebhook:
    token: str
    client: ViberClient
    dialog: Dialog
    uows: UnitOfWorkFactory
    storage: BaseStorage
    isolation: BaseEventIsolation
    media: MediaStore
    translator: Translator
    clock: Clock
    limiter: RateLimiter
    durable: DurableReplies | None = None
    flood: FloodGuard | None = None
    reply_wait: float = 1.0

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        given = request.headers.get(SIGNATURE_HEADER, "").encode("utf-8", "surrogateescape")
        if not hmac.compare_digest(signature(self.token, body).encode(), given):
            return web.Response(status=403, text="bad signature")
        try:
            data = json.loads(body)
        except ValueError:  # not JSON, or not UTF-8
            return web.Response(status=400, text="the body is not JSON")
        if not isinstance(data, dict):
            return web.Response(status=400, text="the body is not a callback")
        kind = str(data.get("event", "?"))[:40]
        try:
            parsed = create_request(data)
        except Exception as exc:  # the SDK raises bare Exception for unknown types
            # Its message may quote the callback: name the kind only, never the content.
            logger.warning("Viber %s callback not understood (%s)", kind, type(exc).__name__)
            return web.json_response({})
        if isinstance(parsed, ViberConversationStartedRequest):
            return web.json_response(self._welcome(parsed))
        token = _event_id(data, body)
        try:
            await self._dispatch(parsed, token)
        except Exception as exc:
            fault = classify(exc)
            if fault is Fault.TRANSIENT:
                # Viber delivers it again (for about an hour); the token makes that a no-op
                # if this one did commit after all.
                logger.warning(
                    "Viber %s %d not handled, Viber will deliver it again: %s",
                    kind,
                    token,
                    describe(exc),
                )
                return web.Response(status=503, text="try again later")
            logger.error(
                "Viber %s %d failed for good: %s", kind, token, describe(exc), exc_info=exc
            )
        return web.json_response({})

    async def _dispatch(self, parsed: object, token: int) -> None:
        if isinstance(parsed, ViberMessageRequest):
            await self._on_message(parsed, token)
        elif isinstance(parsed, ViberSubscribedRequest):
            await self._on_subscribed(parsed, token)
        elif isinstance(parsed, ViberUnsubscribedRequest):
            await self._on_unsubscribed(parsed, token)
        else:
            logger.debug("Viber %s event %d", type(parsed).__name__, token)

    # -- events ------------------------------------------------------------------------

    def _welcome(self, request: ViberConversationStartedRequest) -> dict[str, Any]:
        """The one message a bot may send before the resident subscribes: in the HTTP answer."""
        user = request.user
        with self.translator.use(getattr(user, "language", None)):
            text = _("Welcome to the city contact centre! Press «Start» to report a problem.")
            # The button sends "/start", which the dialog takes like Telegram's command.
            start = reply_button(_("▶️ Start"), "/start")
        return {
            "sender": self.client.sender,
            "type": "text",
            "text": text,
            "keyboard": {"Type": "keyboard", "DefaultHeight": False, "Buttons": [start]},
        }

    async def _on_subscribed(self, request: ViberSubscribedRequest, token: int) -> None:
        user = request.user
        event = Inbound(
            channel=Channel.VIBER,
            user_id=user.id,
            locale_hint=getattr(user, "language", None),
            display_name=getattr(user, "name", None),
            command="start",
        )

        async def subscribe(uow: UnitOfWork) -> None:
            await uow.accounts.get_or_create(
                Channel.VIBER, user.id, display_name=event.display_name, now=self.clock()
            )
            await uow.accounts.set_subscribed(Channel.VIBER, user.id, True)

        await self._run(event, token, also=subscribe)

    async def _on_unsubscribed(self, request: ViberUnsubscribedRequest, token: int) -> None:
        user_id = request.user_id

        async def unsubscribe(uow: UnitOfWork) -> None:
            await uow.accounts.set_subscribed(Channel.VIBER, user_id, False)

        try:
            await handle_once(self.uows, self.clock, Channel.VIBER, token, unsubscribe)
        except Duplicate:
            return

    async def _on_message(self, request: ViberMessageRequest, token: int) -> None:
        if self.flood is not None:
            # Before anything is read, locked or downloaded for this resident.
            verdict = await self.flood.check(f"viber:{request.sender.id}")
            if verdict is not Verdict.ALLOW:
                logger.info("Viber message %d from a flooding user: %s", token, verdict)
                if verdict is Verdict.WARN:
                    with self.translator.use(getattr(request.sender, "language", None)):
                        text = too_fast()
                    await self.send(request.sender.id, [Reply(text)])
                return
        async with self.uows() as uow:
            if await uow.updates.seen(Channel.VIBER, token):
                return  # a redelivery: do not even download its media again
        event = await self._translate(request)

        async def subscribe(uow: UnitOfWork) -> None:
            # Writing to the bot subscribes a Viber user.
            await uow.accounts.set_subscribed(Channel.VIBER, event.user_id, True)

        await self._run(event, token, also=subscribe)

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
                    await self.durable.keep(
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
            await self.send(event.user_id, replies)
            return
        row = kept[0].row_id
        self.durable.sending(row)
        # A resident whose budget is spent does not hold the webhook: the sender goes on.
        sent = await self.send(event.user_id, replies, max_wait=self.reply_wait)
        if sent is None:
            await self.durable.sent(row)
        else:
            await self.durable.hand_over(row, sent=sent)

    # -- translation in and out ----------------------------------------------------------

    async def _translate(self, request: ViberMessageRequest) -> Inbound:
        sender = request.sender
        message = request.message
        base = Inbound(
            channel=Channel.VIBER,
            user_id=sender.id,
            locale_hint=getattr(sender, "language", None),
            display_name=getattr(sender, "name", None),
        )
        fields: dict[str, Any]
        if isinstance(message, TextMessage):
            text = message.text or ""
            action = Action.parse(text)
            if text.startswith("/"):
                fields = {"command": text[1:].split(maxsplit=1)[0].lower() or None}
            elif action is not None:
                fields = {"action": action}
            else:
                fields = {"text": text}
        elif isinstance(message, ContactMessage) and message.contact is not None:
            # Viber offers no way to tell the share-phone button from a forwarded contact
            # card: the number is taken as the sender's claim, never as verified.
            phone = str(message.contact.phone_number)
            fields = {"contact": ContactShare(phone, is_own=True, verified=False)}
        elif isinstance(message, LocationMessage) and message.location is not None:
            location = message.location
            fields = {"location": GeoPoint(float(location.latitude), float(location.longitude))}
        elif isinstance(message, PictureMessage | VideoMessage):
            # Downloaded only where the dialog takes media: a picture sent at any other step
            # (or by someone not registered) is never fetched, so never kept.
            state = await FSMContext(self.storage, state_key(sender.id)).get_state()
            if state in MEDIA_STEPS:
                fields = await self._download(message)
            else:
                fields = {"other": "photo"}
            if getattr(message, "text", None):
                fields["caption"] = str(message.text)
        elif isinstance(message, StickerMessage):
            fields = {"other": "sticker"}
        else:
            fields = {"other": "document" if type(message).__name__ == "FileMessage" else "message"}
        return replace(base, **fields)

    async def _download(self, message: PictureMessage | VideoMessage) -> dict[str, Any]:
        """Viber's media links expire: keep the file now, or say why it could not be kept."""
        kind = MediaKind.VIDEO if isinstance(message, VideoMessage) else MediaKind.PHOTO
        try:
            ref = await self.media.download(
                str(message.media),
                fallback_extension=".mp4" if kind is MediaKind.VIDEO else ".jpg",
            )
        except MediaTooBigError:
            return {"media_error": "too_big"}
        except MediaUnavailableError as exc:
            logger.warning("Viber media could not be downloaded: %s", exc)
            return {"media_error": "unavailable"}
        return {"media": (MediaItem(kind, ref, None, None),)}

    async def media_url(self, item: MediaItem) -> tuple[str, int] | None:
        return self.media.locate(item.file_ref)

    async def send(
        self, user_id: str, replies: list[Reply], *, max_wait: float | None = None
    ) -> int | None:
        """The dialog's immediate answer, after its unit of work committed. With `max_wait`,
        stops at the first message the rate limiter would hold longer than that and returns
        how many went out (the outbox sender sends the rest); None when all were handled."""
        key = f"viber:{user_id}"
        for index, payload in enumerate(await render(replies, self.media_url)):
            if max_wait is not None and not await take_within(
                self.limiter, key, group=False, max_wait=max_wait
            ):
                return index
            for attempt in range(1, SEND_ATTEMPTS + 1):
                if attempt > 1 or max_wait is None:
                    await acquire(self.limiter, key, group=False)
                try:
                    await self.client.send(user_id, payload)
                    break
                except ViberTransientError as exc:
                    logger.warning("Viber send failed (attempt %d): %s", attempt, exc)
                    await asyncio.sleep(0.5 * attempt)
                except ViberApiError as exc:
                    logger.warning("Viber refused a reply to %s: %s", user_id, exc)
                    return None
        return None


def _event_id(data: dict[str, Any], body: bytes) -> int:
    """The callback's message_token; a callback without one is identified by its content."""
    token = data.get("message_token")
    if isinstance(token, int) and not isinstance(token, bool):
        return token
    return int.from_bytes(hashlib.sha256(body).digest()[:7], "big")
