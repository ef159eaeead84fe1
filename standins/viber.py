"""A stand-in Viber REST bot API server for running the real bot against simulated people.

:class:`ViberStandIn` is an ``aiohttp.web`` server speaking the Viber REST bot API
(``POST {base_url}/pa/<method>``, JSON in and out, ``X-Viber-Auth-Token``) closely
enough that a bot written against https://chatapi.viber.com works unchanged once its
API base is :attr:`ViberStandIn.base_url`::

    async with ViberStandIn() as viber:
        bot = start_the_bot(api_base=f"{viber.base_url}/pa", token=viber.auth_token)
        await bot.set_webhook(...)                 # the stand-in calls the webhook back
        resident = viber.user(name="Olena")
        await viber.open_conversation(resident)    # conversation_started
        await viber.send_text(resident, "Hello")   # message (subscribes the resident)
        [greeting] = await viber.wait_for_messages(resident.id, 1)
        await viber.press(resident, "appeal:new")  # a keyboard button

Simulated residents send callbacks to the bot's webhook signed like Viber's
(``X-Viber-Content-Signature``: hex HMAC-SHA256 of the raw body keyed with the auth
token). The server validates requests like Viber and answers with its status codes
(HTTP 200 with a non-zero ``status``), keeps a per-user transcript of what the bot sent,
records every call, serves media files for residents' pictures and videos, and can
inject faults (``tooManyRequests``, HTTP 5xx).

Deliberate simplifications: webhooks may be plain ``http://`` (Viber insists on HTTPS
with a trusted certificate); the auth token is also accepted as ``auth_token`` in the
JSON body, which Viber still honours and the official ``viberbot`` library relies on;
keyboard problems are refused synchronously with status 3 (Viber checks some of them
on the client and reports a ``failed`` callback instead); media the bot sends are not
downloaded; callbacks the bot does not answer with 200 are not retried (redeliver with
:meth:`ViberStandIn.deliver`); ``post`` to public chats and inline mode are not served.
"""

from __future__ import annotations

import hashlib
import json
from base64 import b64encode
from collections import deque
from dataclasses import replace
from http import HTTPStatus
from typing import Any, Literal
from urllib.parse import quote

from aiohttp import ClientSession, ClientTimeout, web

from standins._common import Served, Signal
from standins._viber_methods import ViberApiMethods
from standins._viber_model import (
    ApiCall,
    Delivery,
    MediaFile,
    SentMessage,
    ViberApiError,
    ViberStatus,
    ViberUser,
)
from standins._viber_state import Fault, ViberState, Webhook, now_ms, recorded
from standins._viber_validate import MAX_BODY_BYTES
from standins._viber_wire import (
    AUTH_HEADER,
    MAX_REQUEST_SIZE,
    SIGNATURE_HEADER,
    encode,
    json_dumps,
    parse_body,
    phrase,
    sign,
)

__all__ = [
    "AUTH_HEADER",
    "SIGNATURE_HEADER",
    "ApiCall",
    "Delivery",
    "MediaFile",
    "SentMessage",
    "ViberApiError",
    "ViberStandIn",
    "ViberStatus",
    "ViberUser",
]

# Leading bytes of synthesized media, so downloads sniff as the right type.
_JPEG_MAGIC = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
_MP4_MAGIC = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom"
_PDF_MAGIC = b"%PDF-1.4\n"
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


class ViberStandIn(Served):
    """A Viber REST bot API server with simulated users.

    Run it on the same event loop as the bot under test (``async with`` or
    :meth:`start`/:meth:`stop`), point the bot at ``f"{base_url}/pa"``, then play
    residents with :meth:`open_conversation`, ``send_*`` and :meth:`press`, and read
    what the bot did with :meth:`messages`, :attr:`calls` and :attr:`deliveries`.
    """

    def __init__(
        self,
        auth_token: str = "stand-in-viber-token",
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        bot_name: str = "15-80",
    ) -> None:
        """Configure (but do not start) the server; ``port=0`` picks a free port."""
        if not auth_token:
            msg = "the auth token must not be empty"
            raise ValueError(msg)
        self._state = ViberState(auth_token, bot_name)
        self.host = host
        self.port = port
        self.webhook_timeout = 10.0
        """Seconds to wait for the bot's webhook to answer one callback."""
        self._methods = ViberApiMethods(self._state, self._post)
        self._runner: web.AppRunner | None = None
        self._http: ClientSession | None = None

    # ------------------------------------------------------------------ attributes

    @property
    def auth_token(self) -> str:
        return self._state.auth_token

    @property
    def bot_name(self) -> str:
        return self._state.bot_name

    @property
    def bot_uri(self) -> str:
        """The bot's public URI (``viber://pa?chatURI=<uri>``), from its name."""
        return self._state.bot_uri

    @property
    def base_url(self) -> str:
        """``http://host:port`` once started; the bot calls ``{base_url}/pa/<method>``."""
        return self._state.base_url

    @property
    def chat_hostname(self) -> str:
        """What Viber puts into ``chat_hostname`` of answers and callbacks."""
        return self._state.chat_hostname

    @chat_hostname.setter
    def chat_hostname(self, value: str) -> None:
        self._state.chat_hostname = value

    @property
    def calls(self) -> list[ApiCall]:
        """Every REST API request, in order of completion."""
        return self._state.calls

    @property
    def deliveries(self) -> list[Delivery]:
        """Every callback POSTed to the bot (including ``set_webhook``'s check)."""
        return self._state.deliveries

    @property
    def user_details_limit(self) -> int | None:
        """``get_user_details`` calls allowed per user in 12 hours (Viber's limit;
        more answer 12 ``tooManyRequests``). ``None`` lifts it."""
        return self._state.user_details_limit

    @user_details_limit.setter
    def user_details_limit(self, value: int | None) -> None:
        self._state.user_details_limit = value

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Start serving; afterwards :attr:`base_url` and :attr:`port` are set."""
        if self._runner is not None:
            msg = "the stand-in is already running"
            raise RuntimeError(msg)
        app = web.Application(client_max_size=MAX_REQUEST_SIZE)
        app.router.add_post("/pa/{method}", self._handle_api)
        app.router.add_get("/media/{name}", self._handle_media)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port)
        await site.start()
        host, port = runner.addresses[0][:2]
        self.port = int(port)
        self._state.base_url = f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
        self._http = ClientSession()
        self._runner = runner

    async def stop(self) -> None:
        """Stop serving and close the client used for webhooks."""
        if self._http is not None:
            await self._http.close()
            self._http = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        self._state.changed.notify()

    def _require_running(self) -> ClientSession:
        if self._http is None:
            msg = "the stand-in is not running: call start() or use 'async with'"
            raise RuntimeError(msg)
        return self._http

    # ------------------------------------------------------------- configuration

    @property
    def changed(self) -> Signal:
        """Notified on every message either way (for live viewers)."""
        return self._state.changed

    @property
    def api_url(self) -> str:
        """``{base_url}/pa``: the stand-in's counterpart of https://chatapi.viber.com/pa."""
        return f"{self.base_url}/pa"

    @property
    def webhook_url(self) -> str | None:
        """The URL the bot registered with ``set_webhook``, or ``None``."""
        return self._state.webhook.url if self._state.webhook else None

    @property
    def webhook_event_types(self) -> list[str] | None:
        """The ``event_types`` the bot asked for (``None``: all of them)."""
        if self._state.webhook is None or self._state.webhook.event_types is None:
            return None
        return list(self._state.webhook.event_types)

    @property
    def webhook_sends_name(self) -> bool:
        """Whether callbacks carry users' names (``send_name`` of ``set_webhook``)."""
        return self._state.webhook is not None and self._state.webhook.send_name

    def fail(
        self, method: str, *, status: int = 12, times: int = 1, http_status: int = 200
    ) -> None:
        """Make the next ``times`` calls of ``method`` fail.

        With ``http_status=200`` (the default) they answer Viber status ``status``
        (12 ``tooManyRequests``, 7 ``publicAccountBlocked``...); any other
        ``http_status`` (e.g. 500, 502, 503) answers that HTTP status with a text body
        instead, as Viber's front servers do when overloaded.
        """
        served = sorted(self._methods.handlers)
        if method not in served:
            msg = f"the stand-in does not serve {method!r}; it serves {served}"
            raise ValueError(msg)
        if times < 1:
            msg = "times must be at least 1"
            raise ValueError(msg)
        if not 200 <= http_status <= 599:
            msg = f"http_status must be an HTTP status, got {http_status}"
            raise ValueError(msg)
        if http_status == HTTPStatus.OK and status == ViberStatus.OK:
            msg = "a fault needs a non-zero status or a non-200 http_status"
            raise ValueError(msg)
        queue = self._state.faults.setdefault(method, deque())
        queue.extend([Fault(status, http_status)] * times)

    # ------------------------------------------------------------- HTTP endpoints

    async def _handle_api(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        raw = await request.read()
        handler = self._methods.handlers.get(method)
        if handler is None:
            self._state.calls.append(ApiCall(method, None, None, 404))
            return web.Response(status=404, text="Not Found")
        payload: dict[str, Any] | None = None
        try:
            header_token = request.headers.get(AUTH_HEADER)
            if header_token is not None and header_token != self.auth_token:
                raise ViberApiError(ViberStatus.INVALID_AUTH_TOKEN)
            payload = parse_body(raw)
            if header_token is None:
                body_token = payload.get("auth_token")
                if body_token is None:
                    raise ViberApiError(ViberStatus.INVALID_AUTH_TOKEN, "missing_auth_token")
                if body_token != self.auth_token:
                    raise ViberApiError(ViberStatus.INVALID_AUTH_TOKEN)
            fault = self._state.next_fault(method)
            if fault is not None and fault.http_status != HTTPStatus.OK:
                self._state.calls.append(
                    ApiCall(method, recorded(payload), None, fault.http_status)
                )
                return web.Response(status=fault.http_status, text=phrase(fault.http_status))
            if fault is not None:
                raise ViberApiError(fault.status)
            if len(raw) > MAX_BODY_BYTES:
                msg = f"badData: the request is {len(raw)} bytes, over the 30 KB limit"
                raise ViberApiError(ViberStatus.BAD_DATA, msg)
            result = await handler(payload)
        except ViberApiError as error:
            kept = recorded(payload) if payload is not None else None
            self._state.calls.append(ApiCall(method, kept, error.status))
            return web.json_response(
                {
                    "status": error.status,
                    "status_message": error.status_message,
                    "chat_hostname": self.chat_hostname,
                },
                dumps=json_dumps,
            )
        self._state.calls.append(ApiCall(method, recorded(payload), 0))
        return web.json_response({"status": 0, "status_message": "ok", **result}, dumps=json_dumps)

    async def _handle_media(self, request: web.Request) -> web.Response:
        media = self._state.media.get(request.match_info["name"])
        if media is None:
            return web.Response(status=HTTPStatus.NOT_FOUND, text="Not Found")
        if media.status != HTTPStatus.OK:
            return web.Response(status=media.status, text=phrase(media.status))
        return web.Response(body=media.content, headers={"Content-Type": media.content_type})

    # ------------------------------------------------------------- people & media

    def user(
        self,
        user_id: str | None = None,
        *,
        name: str = "Resident",
        language: str = "uk",
        country: str = "UA",
        api_version: int = 10,
        phone: str = "+380501112233",
        avatar: str | None = None,
    ) -> ViberUser:
        """Create (or update) a simulated Viber user; they start unsubscribed.

        Without ``user_id`` a fresh opaque id is made (24 base64 characters, stable for
        a given auth token and creation order).
        """
        if user_id is None:
            while True:
                seed = f"{self.auth_token}:{next(self._state.user_numbers)}".encode()
                user_id = b64encode(hashlib.sha256(seed).digest()[:16]).decode()
                if user_id not in self._state.users:
                    break
        elif not user_id:
            msg = "user ids are non-empty strings"
            raise ValueError(msg)
        user = ViberUser(
            id=user_id,
            name=name,
            language=language,
            country=country,
            api_version=api_version,
            phone=phone,
            avatar=avatar,
        )
        self._state.state(user)
        return user

    def is_subscribed(self, user: ViberUser | str) -> bool:
        """Whether the bot may send messages to ``user`` (status 6 otherwise)."""
        state = self._state.users.get(user if isinstance(user, str) else user.id)
        return state is not None and state.subscribed

    def media(
        self,
        name: str,
        content: bytes,
        *,
        content_type: str = "image/jpeg",
        status: int = 200,
    ) -> MediaFile:
        """Serve ``content`` at ``GET /media/<name>`` (registering again replaces it).

        ``status`` 404/410/500... makes downloads fail that way.
        """
        if not name or "/" in name:
            msg = "a media name is a non-empty file name without '/'"
            raise ValueError(msg)
        if not 200 <= status <= 599:
            msg = f"status must be an HTTP status, got {status}"
            raise ValueError(msg)
        self._require_running()
        url = f"{self.base_url}/media/{quote(name)}"
        media = MediaFile(name, content, content_type, status, url)
        self._state.media[name] = media
        return media

    def _synth_media(self, stem: str, suffix: str, magic: bytes, size: int, kind: str) -> MediaFile:
        name = f"{stem}-{next(self._state.media_numbers)}.{suffix}"
        content = (magic + bytes(max(0, size - len(magic))))[: max(size, 1)]
        return self.media(name, content, content_type=kind)

    # ---------------------------------------------------------- people -> the bot

    async def open_conversation(self, user: ViberUser, *, context: str | None = None) -> Delivery:
        """``user`` opens the chat with the bot (a deep link's ``context`` is passed on):
        a ``conversation_started`` callback. It does not subscribe the user.

        The bot may answer with a welcome message in the response body; it is validated
        like ``send_message`` and, if valid, lands in :meth:`messages` (``via="welcome"``)
        and in :attr:`Delivery.welcome`.
        """
        self._require_webhook_set()
        state = self._state.state(user)
        event: dict[str, Any] = {
            "event": "conversation_started",
            "timestamp": now_ms(),
            "chat_hostname": self.chat_hostname,
            "message_token": self._state.next_token(),
            "type": "open",
            "user": self._state.user_json(user),
            "api_version": user.api_version,
            "subscribed": state.subscribed,
        }
        if context is not None:
            event["context"] = context
        return await self.deliver(event)

    async def subscribe(self, user: ViberUser) -> Delivery:
        """``user`` taps "subscribe" in the chat: a ``subscribed`` callback."""
        self._require_webhook_set()
        self._state.state(user).subscribed = True
        event = {
            "event": "subscribed",
            "timestamp": now_ms(),
            "chat_hostname": self.chat_hostname,
            "message_token": self._state.next_token(),
            "user": self._state.user_json(user),
            "api_version": user.api_version,
        }
        return await self.deliver(event)

    async def unsubscribe(self, user: ViberUser) -> Delivery:
        """``user`` unsubscribes: an ``unsubscribed`` callback; ``send_message`` to them
        fails with status 6 until they write again or subscribe."""
        self._require_webhook_set()
        self._state.state(user).subscribed = False
        event = {
            "event": "unsubscribed",
            "timestamp": now_ms(),
            "chat_hostname": self.chat_hostname,
            "message_token": self._state.next_token(),
            "user_id": user.id,
        }
        return await self.deliver(event)

    def _message_event(
        self, user: ViberUser, message: dict[str, Any], tracking_data: str | None
    ) -> dict[str, Any]:
        """A ``message`` callback from ``user``; writing subscribes them (without a
        ``subscribed`` callback, as on Viber)."""
        self._require_webhook_set()
        state = self._state.state(user)
        state.subscribed = True
        if tracking_data is None and state.sent:
            tracking_data = state.sent[-1].tracking_data
        if tracking_data is not None:
            message = {**message, "tracking_data": tracking_data}
        event = {
            "event": "message",
            "timestamp": now_ms(),
            "chat_hostname": self.chat_hostname,
            "message_token": self._state.next_token(),
            "sender": self._state.user_json(user),
            "message": message,
            "silent": False,
        }
        state.history.append(
            {
                "from": "user",
                "message_token": event["message_token"],
                "timestamp": event["timestamp"],
                "message": message,
            }
        )
        return event

    async def send_text(
        self, user: ViberUser, text: str, *, tracking_data: str | None = None
    ) -> Delivery:
        """``user`` writes ``text``.

        Like Viber, the message carries the ``tracking_data`` of the bot's latest
        message to the user; pass ``tracking_data`` to forge another value.
        """
        if not text:
            msg = "Viber clients do not send empty text"
            raise ValueError(msg)
        event = self._message_event(user, {"type": "text", "text": text}, tracking_data)
        return await self.deliver(event)

    async def send_picture(
        self, user: ViberUser, *, caption: str = "", media: MediaFile | None = None
    ) -> Delivery:
        """``user`` sends a picture; ``media`` defaults to a fresh small JPEG served by
        the stand-in (its URL is ``message.media``)."""
        if media is None:
            media = self._synth_media("photo", "jpg", _JPEG_MAGIC, 48_000, "image/jpeg")
        message = {
            "type": "picture",
            "text": caption,
            "media": media.url,
            "thumbnail": media.url,
            "file_name": media.name,
            "size": media.size,
        }
        return await self.deliver(self._message_event(user, message, None))

    async def send_video(
        self,
        user: ViberUser,
        *,
        size: int | None = None,
        duration: int = 7,
        media: MediaFile | None = None,
    ) -> Delivery:
        """``user`` sends a video. ``size`` is the reported size in bytes (default: the
        media's real size; a synthesized video has exactly ``size`` bytes, 250 kB if not
        given), so large values test the bot's limits."""
        if media is None:
            media = self._synth_media(
                "video", "mp4", _MP4_MAGIC, size if size is not None else 250_000, "video/mp4"
            )
        message = {
            "type": "video",
            "media": media.url,
            "thumbnail": self._synth_media(
                "thumbnail", "jpg", _JPEG_MAGIC, 3_400, "image/jpeg"
            ).url,
            "size": size if size is not None else media.size,
            "duration": duration,
        }
        return await self.deliver(self._message_event(user, message, None))

    async def send_file(
        self,
        user: ViberUser,
        *,
        file_name: str = "appeal.pdf",
        media: MediaFile | None = None,
    ) -> Delivery:
        """``user`` sends a file (a small PDF unless ``media`` is given)."""
        if media is None:
            media = self._synth_media("file", "pdf", _PDF_MAGIC, 24_000, "application/pdf")
        message = {
            "type": "file",
            "media": media.url,
            "file_name": file_name,
            "size": media.size,
        }
        return await self.deliver(self._message_event(user, message, None))

    async def send_location(self, user: ViberUser, lat: float, lon: float) -> Delivery:
        """``user`` shares a location (what a ``location-picker`` button sends)."""
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            msg = f"({lat}, {lon}) is not a place on Earth"
            raise ValueError(msg)
        message = {"type": "location", "location": {"lat": lat, "lon": lon}}
        return await self.deliver(self._message_event(user, message, None))

    async def send_contact(self, user: ViberUser, phone: str | None = None) -> Delivery:
        """``user`` shares a contact: their own phone by default (what a ``share-phone``
        button sends), or ``phone``."""
        contact = {"name": user.name, "phone_number": phone or user.phone}
        message = {"type": "contact", "contact": contact}
        return await self.deliver(self._message_event(user, message, None))

    async def send_sticker(self, user: ViberUser, sticker_id: int = 40100) -> Delivery:
        """``user`` sends a sticker."""
        image = self.media(
            f"sticker-{sticker_id}.png", _PNG_MAGIC + bytes(2_000), content_type="image/png"
        )
        message = {"type": "sticker", "sticker_id": sticker_id, "media": image.url}
        return await self.deliver(self._message_event(user, message, None))

    async def send_message(self, user: ViberUser, message: dict[str, Any]) -> Delivery:
        """``user`` sends ``message`` as given (one the helpers above do not build)."""
        return await self.deliver(self._message_event(user, message, None))

    async def press(self, user: ViberUser, action_body: str, *, check: bool = True) -> Delivery:
        """``user`` presses the keyboard button whose ``ActionBody`` is ``action_body``.

        The keyboard is that of the bot's latest message to the user (a message without
        one hides the keyboard, as on Viber). ``reply`` buttons send ``ActionBody`` as
        text; ``open-url`` buttons open the link and send it as text; ``share-phone``
        sends the user's contact. ``location-picker`` needs a place: use
        :meth:`send_location`. With ``check=False`` a missing button is forged as a
        ``reply`` button.
        """
        state = self._state.state(user)
        latest = state.sent[-1] if state.sent else None
        button = latest.button(action_body) if latest is not None else None
        if button is None:
            if check:
                shown = latest.buttons() if latest is not None else []
                msg = (
                    f"the keyboard shown to {user.id} has no button with ActionBody "
                    f"{action_body!r}; it has {shown!r}"
                )
                raise LookupError(msg)
            action_type = "reply"
        else:
            action_type = str(button.get("ActionType", "reply"))
        if action_type in {"reply", "open-url"}:
            return await self.send_text(user, action_body)
        if action_type == "share-phone":
            return await self.send_contact(user)
        if action_type == "location-picker":
            msg = (
                f"button {action_body!r} is a location-picker: the resident picks a place, "
                "so call send_location(user, lat, lon) instead"
            )
            raise ValueError(msg)
        msg = f"button {action_body!r} has ActionType {action_type!r}: pressing it does nothing"
        raise ValueError(msg)

    # ----------------------------------------------------- Viber -> the bot (receipts)

    def _receipt(self, event: str, user: ViberUser, message: SentMessage | int) -> dict[str, Any]:
        token = message if isinstance(message, int) else message.message_token
        return {
            "event": event,
            "timestamp": now_ms(),
            "chat_hostname": self.chat_hostname,
            "message_token": token,
            "user_id": user.id,
        }

    async def notify_delivered(self, user: ViberUser, message: SentMessage | int) -> Delivery:
        """A ``delivered`` callback for a message the bot sent (or its token)."""
        return await self.deliver(self._receipt("delivered", user, message))

    async def notify_seen(self, user: ViberUser, message: SentMessage | int) -> Delivery:
        """A ``seen`` callback: the user read the message."""
        return await self.deliver(self._receipt("seen", user, message))

    async def notify_failed(
        self,
        user: ViberUser,
        message: SentMessage | int,
        *,
        desc: str = "failed to deliver the message to the client",
    ) -> Delivery:
        """A ``failed`` callback: the client could not show the message."""
        event = self._receipt("failed", user, message)
        event["desc"] = desc
        return await self.deliver(event)

    # ------------------------------------------------------------------- delivery

    def sign(self, body: bytes) -> str:
        """Viber's ``X-Viber-Content-Signature`` for ``body``: hex HMAC-SHA256 keyed
        with the auth token."""
        return sign(self.auth_token, body)

    async def deliver(
        self,
        event: dict[str, Any],
        *,
        signature: str | Literal["valid"] | None = "valid",
        raw_body: bytes | None = None,
    ) -> Delivery:
        """POST a callback to the bot's webhook and return the outcome.

        Use it to redeliver an event the bot already got (the same ``message_token``,
        as Viber's retries do) or to forge one: ``signature=None`` sends no signature
        header, any other string is sent as is; ``raw_body`` replaces the JSON encoding
        of ``event`` (a valid signature is computed over these bytes). Events the bot
        filtered out with ``event_types`` are not sent (``delivered=False``).
        """
        webhook = self._require_webhook_set()
        body = raw_body if raw_body is not None else encode(event)
        if not webhook.wants(str(event.get("event", ""))):
            delivery = Delivery(event, body, None, delivered=False)
            self._state.deliveries.append(delivery)
            return delivery
        delivery = await self._post(webhook, event, body, signature)
        if event.get("event") == "conversation_started" and delivery.status == HTTPStatus.OK:
            welcome = self._methods.accept_welcome(event, delivery.answer)
            if welcome is not None:
                delivery = replace(delivery, welcome=welcome)
        self._state.deliveries.append(delivery)
        self._state.changed.notify()
        return delivery

    def _require_webhook_set(self) -> Webhook:
        """The webhook, for the stand-in's own deliveries (``RuntimeError`` without one)."""
        if self._state.webhook is None:
            msg = "the bot has not set a webhook: Viber has nowhere to send callbacks"
            raise RuntimeError(msg)
        return self._state.webhook

    async def _post(
        self,
        webhook: Webhook,
        event: dict[str, Any],
        body: bytes,
        signature: str | None,
    ) -> Delivery:
        http = self._require_running()
        headers = {"Content-Type": "application/json"}
        if signature == "valid":
            headers[SIGNATURE_HEADER] = self.sign(body)
        elif signature is not None:
            headers[SIGNATURE_HEADER] = signature
        async with http.post(
            webhook.url,
            data=body,
            headers=headers,
            timeout=ClientTimeout(total=self.webhook_timeout),
        ) as response:
            text = await response.text(errors="replace")
            status = response.status
        answer: Any = None
        if text.strip():
            try:
                answer = json.loads(text)
            except json.JSONDecodeError:
                answer = None
        return Delivery(event, body, status, answer, text)

    # ----------------------------------------------------------------- transcript

    def calls_of(self, method: str) -> list[ApiCall]:
        """Recorded calls of one method (``"welcome_message"`` for welcome answers)."""
        return [call for call in self.calls if call.method == method]

    def messages(self, user_id: ViberUser | str) -> list[SentMessage]:
        """What the bot sent to the user, oldest first (empty for unknown users)."""
        key = user_id if isinstance(user_id, str) else user_id.id
        state = self._state.users.get(key)
        return list(state.sent) if state is not None else []

    def last_message(self, user_id: ViberUser | str) -> SentMessage:
        """The bot's latest message to the user (``LookupError`` if there is none)."""
        sent = self.messages(user_id)
        if not sent:
            msg = f"the bot has sent nothing to {user_id!r}"
            raise LookupError(msg)
        return sent[-1]

    def history(self, user_id: ViberUser | str) -> list[dict[str, Any]]:
        """The whole conversation, both sides, oldest first: dicts with ``from``
        (``"user"``/``"bot"``), ``message_token``, ``timestamp`` and ``message`` (the
        callback's ``message`` or the bot's payload)."""
        key = user_id if isinstance(user_id, str) else user_id.id
        state = self._state.users.get(key)
        return list(state.history) if state is not None else []

    async def wait_for_messages(
        self,
        user_id: ViberUser | str,
        count: int,
        *,
        timeout: float = 5.0,  # noqa: ASYNC109 - a documented convenience; applied via asyncio.timeout
    ) -> list[SentMessage]:
        """Wait until the bot has sent the user at least ``count`` messages; return all."""
        try:
            await self._state.changed.wait_for(
                lambda: len(self.messages(user_id)) >= count, timeout
            )
        except TimeoutError:
            got = [(m.type, m.text) for m in self.messages(user_id)]
            msg = f"{user_id!r}: expected {count} bot messages within {timeout} s, got {got}"
            raise TimeoutError(msg) from None
        return self.messages(user_id)
