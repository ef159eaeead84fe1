"""Wiring the Viber channel (when VIBER_AUTH_TOKEN is set): the client, the webhook and what
it runs, and the webhook's registration (kept apart from Telegram's, so that a Viber outage
degrades Viber only)."""

from __future__ import annotations

import logging
from functools import partial
from typing import TYPE_CHECKING

from aiogram.fsm.storage.base import BaseEventIsolation, BaseStorage

from bot.config import URL_SCHEMES, ConfigurationError, Settings
from bot.durable import DurableReplies
from bot.faults import describe
from bot.flood import FloodGuard
from bot.limits import RateLimiter
from bot.media import MediaStore
from bot.startup import startup_backoff, until_done
from bot.viber.client import ViberClient
from bot.viber.transport import ViberReplies
from bot.viber.turn import ViberTurn
from bot.viber.webhook import ViberWebhook
from domain.clock import Clock
from domain.dialog.core import Dialog
from domain.i18n import Translator
from storage.uow import UnitOfWorkFactory

if TYPE_CHECKING:
    from bot.app import Application

logger = logging.getLogger(__name__)


def create_viber(
    settings: Settings,
    dialog: Dialog,
    uows: UnitOfWorkFactory,
    storage: BaseStorage,
    isolation: BaseEventIsolation,
    media: MediaStore,
    translator: Translator,
    clock: Clock,
    limiter: RateLimiter,
    durable: DurableReplies | None = None,
    flood: FloodGuard | None = None,
) -> ViberWebhook | None:
    """The Viber channel when VIBER_AUTH_TOKEN is set (it needs webhook mode)."""
    if settings.viber_auth_token is None or not settings.viber_auth_token.get_secret_value():
        return None
    if not settings.webhook_base_url:
        raise ConfigurationError(
            "VIBER_AUTH_TOKEN is set but WEBHOOK_BASE_URL is not: Viber delivers only to a "
            "public HTTPS webhook, so set WEBHOOK_BASE_URL (and WEBHOOK_SECRET)."
        )
    if not settings.viber_api_url.startswith(URL_SCHEMES):
        raise ConfigurationError(
            "VIBER_API_URL must start with https:// (or http:// for a local stand-in)."
        )
    token = settings.viber_auth_token.get_secret_value()
    client = ViberClient(
        settings.viber_api_url,
        token,
        sender_name=settings.viber_bot_name,
        sender_avatar=settings.viber_bot_avatar,
    )
    turn = ViberTurn(
        sender=client.sender,
        replies=ViberReplies(client, media, limiter),
        dialog=dialog,
        uows=uows,
        storage=storage,
        isolation=isolation,
        media=media,
        translator=translator,
        clock=clock,
        durable=durable,
        flood=flood,
        reply_wait=settings.reply_wait_seconds,
    )
    return ViberWebhook(token=token, client=client, turn=turn)


def _viber_webhook_url(settings: Settings) -> str:
    return (settings.webhook_base_url or "").rstrip("/") + settings.viber_webhook_path


async def register_viber(app: Application) -> bool:
    """Set Viber's webhook once; False (and an error in the log) when Viber is unreachable or
    refuses: Telegram goes on working meanwhile."""
    if app.viber is None:
        return True
    try:
        await app.viber.client.set_webhook(_viber_webhook_url(app.settings))
    except Exception as exc:
        logger.error(
            "Viber's webhook could not be set (%s): Telegram works, Viber is retried in the "
            "background",
            describe(exc),
        )
        return False
    return True


async def register_viber_until_done(app: Application) -> None:
    if app.viber is None:
        return
    await until_done(
        "Viber set_webhook",
        partial(app.viber.client.set_webhook, _viber_webhook_url(app.settings)),
        startup_backoff(app.settings, forever=True),
    )
