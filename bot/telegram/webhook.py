"""Telegram's webhook: header and body checked before anything runs, and an answer that tells
Telegram the truth: 2xx once the update is handled for good, 5xx when it should come again."""

from __future__ import annotations

import hmac
import json
import logging
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.methods import TelegramMethod
from aiogram.types import Update
from aiogram.types.update import UpdateTypeLookupError
from aiogram.webhook.aiohttp_server import SimpleRequestHandler
from aiohttp import web
from pydantic import ValidationError

from bot.faults import Fault, classify, describe
from bot.telegram.session import BotApiSession

logger = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


def same_secret(given: str, expected: str) -> bool:
    """Constant-time comparison that also survives a header aiohttp decoded with surrogates
    (str comparison raises TypeError on non-ASCII text)."""
    return hmac.compare_digest(
        given.encode("utf-8", "surrogateescape"), expected.encode("utf-8", "surrogateescape")
    )


def update_kind(update: Update) -> str:
    """The update's kind for logs ("message", "callback_query"...)."""
    try:
        return update.event_type
    except UpdateTypeLookupError:
        return "unknown"


class TelegramWebhook(SimpleRequestHandler):
    """aiogram's handler with the checks it lacks: a bad secret is 401, a body that is not an
    update is 400 (never a 500 Telegram would retry for a day), and an update that failed for
    a reason that will pass (storage, Redis, network) is 503 so that Telegram delivers it
    again. Logs name the update by id and kind, never its content."""

    def __init__(self, dispatcher: Dispatcher, bot: Bot, secret_token: str) -> None:
        super().__init__(
            dispatcher=dispatcher, bot=bot, handle_in_background=False, secret_token=secret_token
        )

    async def handle(self, request: web.Request) -> web.Response:
        if not same_secret(request.headers.get(SECRET_HEADER, ""), self.secret_token or ""):
            return web.Response(status=401, text="Unauthorized")
        try:
            data: Any = json.loads(await request.read())
        except ValueError:  # not JSON, or not UTF-8
            return web.Response(status=400, text="the body is not JSON")
        if not isinstance(data, dict):
            return web.Response(status=400, text="the body is not an update")
        try:
            update = Update.model_validate(data, context={"bot": self.bot})
        except ValidationError:
            return web.Response(status=400, text="the body is not an update")
        try:
            result: Any = await self.dispatcher.feed_update(self.bot, update, **self.data)
        except Exception as exc:
            # Handlers' own failures are sorted by the dispatcher's error handler; what
            # arrives here was re-raised because it may pass (or escaped that handler).
            fault = classify(exc)
            logger.warning(
                "update %d (%s) not handled (%s), Telegram will deliver it again: %s",
                update.update_id,
                update_kind(update),
                fault,
                describe(exc),
                exc_info=fault is Fault.PERMANENT,
            )
            return web.Response(status=503, text="try again later")
        if not isinstance(result, TelegramMethod):
            return web.Response(body=b"{}", content_type="application/json")
        # A button's spinner goes back in the answer (bot.telegram.middleware): as JSON, which
        # costs a fraction of aiogram's multipart form.
        session = self.bot.session
        head = {"method": result.__api_method__}
        body = (
            session.json_body(self.bot, result, head)
            if isinstance(session, BotApiSession)
            else None
        )
        if body is None:
            return web.Response(body=self._build_response_writer(bot=self.bot, result=result))
        return web.Response(body=body, content_type="application/json")
