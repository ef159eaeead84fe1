"""Delivering outbox rows to Viber residents: status pushes, operator messages, questions."""

from __future__ import annotations

import io
import logging
from typing import NoReturn

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError

from bot.api_errors import Outcome
from bot.media import MediaStore, MediaTooBigError, is_local
from bot.outbox.sender import (
    Checkpoint,
    CredentialsRefused,
    Gate,
    PermanentFailure,
    RateLimited,
    RetryLater,
)
from bot.viber.client import ViberClient
from bot.viber.errors import (
    TOO_MANY_BACKOFF,
    ViberApiError,
    ViberTransientError,
    classify,
)
from bot.viber.render import render
from bot.viber.transport import limit_key
from domain.dialog.events import Channel, MediaItem, MediaKind
from domain.dialog.replies import Reply
from domain.entities import OutboxItem
from storage.uow import UnitOfWork, UnitOfWorkFactory

logger = logging.getLogger(__name__)


class ViberTransport:
    def __init__(
        self, client: ViberClient, uows: UnitOfWorkFactory, media: MediaStore, telegram: Bot
    ) -> None:
        self._client = client
        self._uows = uows
        self._media = media
        self._telegram = telegram
        # Telegram file ids already copied into the media folder (completion photos).
        self._copied: dict[str, str] = {}

    def limit_key(self, item: OutboxItem) -> tuple[str, bool]:
        # The same key as the webhook's immediate replies: one budget per resident.
        return limit_key(item.chat), False

    async def media_url(self, item: MediaItem) -> tuple[str, int] | None:
        """A URL Viber can fetch. Telegram files (an operator's completion photo) are copied
        into the media folder first; None when there is no public base URL."""
        ref: str | None = item.file_ref
        if not is_local(item.file_ref):
            ref = self._copied.get(item.file_ref) or await self._copy_from_telegram(item)
        return self._media.locate(ref) if ref is not None else None

    async def _copy_from_telegram(self, item: MediaItem) -> str | None:
        buffer = io.BytesIO()
        try:
            await self._telegram.download(item.file_ref, destination=buffer)
            extension = ".mp4" if item.kind is MediaKind.VIDEO else ".jpg"
            ref = await self._media.save_bytes(buffer.getvalue(), extension)
        except (TelegramAPIError, MediaTooBigError) as exc:
            logger.warning("could not copy a Telegram file for Viber: %s", exc)
            return None
        self._copied[item.file_ref] = ref
        return ref

    async def card_failed(self, item: OutboxItem, error: str, uow: UnitOfWork) -> None:
        """Staff cards live in Telegram: nothing to tell here."""

    async def deliver(self, item: OutboxItem, gate: Gate, checkpoint: Checkpoint) -> None:
        async with self._uows() as uow:
            subscribed = await uow.accounts.is_subscribed(Channel.VIBER, item.chat)
        if not subscribed:
            # Viber forbids messages to residents who unsubscribed.
            raise PermanentFailure("the resident unsubscribed from the bot")
        raw = item.payload.get("replies")
        replies = [Reply.from_data(r) for r in raw] if isinstance(raw, list) else []
        payloads = await render(replies, self.media_url)
        for index in range(item.progress, len(payloads)):
            await gate()
            try:
                await self._client.send(item.chat, payloads[index])
            except (ViberApiError, ViberTransientError) as exc:
                await self._refused(item, exc)
            await checkpoint(index + 1)

    async def _refused(
        self, item: OutboxItem, exc: ViberApiError | ViberTransientError
    ) -> NoReturn:
        """Raise the sender's outcome for a call Viber refused."""
        failure = classify(exc)
        match failure.outcome:
            case Outcome.RETRY:
                raise RetryLater(str(exc)) from exc
            case Outcome.FLOOD_WAIT:
                raise RateLimited(failure.retry_after or TOO_MANY_BACKOFF) from exc
            case Outcome.CREDENTIALS:
                raise CredentialsRefused(str(exc)) from exc
            case Outcome.BLOCKED:
                # Viber forbids messages to residents who unsubscribed: stop queueing for
                # them until they write again.
                async with self._uows() as uow:
                    await uow.accounts.set_subscribed(Channel.VIBER, item.chat, False)
                    await uow.commit()
        raise PermanentFailure(str(exc)) from exc
