"""The Viber webhook route: signed callbacks in, each event to its handler, a status out.

Every callback's signature is checked before anything else; unknown events get 200 and a log
line, never a 5xx that Viber would retry for an hour. What an event does is bot.viber.turn's.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from viberbot.api.viber_requests import (
    ViberConversationStartedRequest,
    ViberMessageRequest,
    ViberSubscribedRequest,
    ViberUnsubscribedRequest,
    create_request,
)

from bot.faults import Fault, classify, describe
from bot.viber.client import ViberClient
from bot.viber.turn import ViberTurn

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Viber-Content-Signature"


def signature(token: str, body: bytes) -> str:
    return hmac.new(token.encode(), body, hashlib.sha256).hexdigest()


@dataclass(slots=True)
class ViberWebhook:
    token: str
    client: ViberClient
    turn: ViberTurn

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
            return web.json_response(self.turn.welcome(parsed))
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
        match parsed:
            case ViberMessageRequest():
                await self.turn.on_message(parsed, token)
            case ViberSubscribedRequest():
                await self.turn.on_subscribed(parsed, token)
            case ViberUnsubscribedRequest():
                await self.turn.on_unsubscribed(parsed, token)
            case _:
                # delivered, seen, failed, webhook: nothing for the dialog.
                logger.debug("Viber %s event %d", type(parsed).__name__, token)


def _event_id(data: dict[str, Any], body: bytes) -> int:
    """The callback's message_token; a callback without one is identified by its content."""
    token = data.get("message_token")
    if isinstance(token, int) and not isinstance(token, bool):
        return token
    return int.from_bytes(hashlib.sha256(body).digest()[:7], "big")
