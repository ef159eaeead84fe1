"""The Viber REST API methods of the stand-in server: one handler per method.

Handlers receive the parsed JSON body (see ``_viber_wire``), validate it the way Viber
does (``_viber_validate``), change :class:`ViberState` and return the answer's fields (or
raise :class:`ViberApiError` with Viber's status).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from typing import Any
from urllib.parse import urlsplit

from aiohttp import ClientError

from standins._viber_model import ApiCall, Delivery, SentMessage, ViberApiError, ViberStatus
from standins._viber_state import ViberState, Webhook, now_ms, recorded
from standins._viber_validate import (
    FILTERABLE_EVENTS,
    MAX_BROADCAST_RECEIVERS,
    min_api_version,
    require_str,
    validate_message,
    validate_sender,
)
from standins._viber_wire import encode

__all__ = ["Handler", "Post", "ViberApiMethods"]

_MAX_ONLINE_IDS = 100
_USER_DETAILS_WINDOW = 12 * 3600.0

Handler = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]
# POSTs a callback to the bot's webhook (the server's HTTP client): set_webhook checks the
# URL with one.
Post = Callable[[Webhook, dict[str, Any], bytes, str | None], Awaitable[Delivery]]


class ViberApiMethods:
    """The dispatch table of REST API methods over one :class:`ViberState`."""

    def __init__(self, state: ViberState, post: Post) -> None:
        self.state = state
        self._post = post
        self.handlers: dict[str, Handler] = {
            "set_webhook": self.set_webhook,
            "send_message": self.send_message,
            "broadcast_message": self.broadcast_message,
            "get_account_info": self.get_account_info,
            "get_user_details": self.get_user_details,
            "get_online": self.get_online,
        }

    async def set_webhook(self, payload: dict[str, Any]) -> dict[str, Any]:
        url = payload.get("url")
        if url is None:
            raise ViberApiError(ViberStatus.MISSING_DATA, "missingData: url is required")
        if not isinstance(url, str):
            raise ViberApiError(ViberStatus.BAD_DATA, "badData: url must be a string")
        if url == "":
            self.state.webhook = None
            self.state.changed.notify()
            return {}
        parts = urlsplit(url)
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise ViberApiError(ViberStatus.INVALID_URL, f"invalidUrl: {url!r}")
        event_types = payload.get("event_types")
        if event_types is not None:
            allowed = {*FILTERABLE_EVENTS, "message"}
            if not isinstance(event_types, list) or not all(
                isinstance(event, str) and event in allowed for event in event_types
            ):
                msg = f"badData: event_types must be a list of {', '.join(FILTERABLE_EVENTS)}"
                raise ViberApiError(ViberStatus.BAD_DATA, msg)
        flags = {key: payload.get(key, False) for key in ("send_name", "send_photo")}
        for key, value in flags.items():
            if not isinstance(value, bool):
                raise ViberApiError(ViberStatus.BAD_DATA, f"badData: {key} must be a boolean")
        webhook = Webhook(
            url=url,
            event_types=tuple(event_types) if event_types is not None else None,
            send_name=flags["send_name"],
            send_photo=flags["send_photo"],
        )
        check = {
            "event": "webhook",
            "timestamp": now_ms(),
            "chat_hostname": self.state.chat_hostname,
            "message_token": self.state.next_token(),
        }
        try:
            delivery = await self._post(webhook, check, encode(check), "valid")
        except (ClientError, TimeoutError) as exc:
            msg = f"invalidUrl: the webhook could not be reached ({exc.__class__.__name__})"
            raise ViberApiError(ViberStatus.INVALID_URL, msg) from None
        self.state.deliveries.append(delivery)
        if delivery.status != HTTPStatus.OK:
            msg = f"invalidUrl: the webhook answered HTTP {delivery.status}, not 200"
            raise ViberApiError(ViberStatus.INVALID_URL, msg)
        self.state.webhook = webhook
        self.state.changed.notify()
        return {"event_types": list(webhook.event_types or FILTERABLE_EVENTS)}

    def require_webhook(self) -> Webhook:
        if self.state.webhook is None:
            msg = "webhookNotSet: set a webhook before sending messages"
            raise ViberApiError(ViberStatus.WEBHOOK_NOT_SET, msg)
        return self.state.webhook

    async def send_message(self, payload: dict[str, Any]) -> dict[str, Any]:
        self.require_webhook()
        receiver = require_str(payload, "receiver")
        state = self.state.users.get(receiver)
        if state is None:
            raise ViberApiError(ViberStatus.RECEIVER_NOT_REGISTERED)
        if not state.subscribed:
            raise ViberApiError(ViberStatus.RECEIVER_NOT_SUBSCRIBED, "notSubscribed")
        sender = validate_sender(payload)
        kind = validate_message(payload, receiver_api_version=state.user.api_version)
        sent = self.state.store(
            state, payload, kind, sender, token=self.state.next_token(), via="send_message"
        )
        return {"message_token": sent.message_token, "chat_hostname": self.state.chat_hostname}

    async def broadcast_message(self, payload: dict[str, Any]) -> dict[str, Any]:
        self.require_webhook()
        receivers = payload.get("broadcast_list")
        if receivers is None:
            raise ViberApiError(ViberStatus.MISSING_DATA, "missingData: broadcast_list")
        if (
            not isinstance(receivers, list)
            or not 1 <= len(receivers) <= MAX_BROADCAST_RECEIVERS
            or not all(isinstance(receiver, str) and receiver for receiver in receivers)
        ):
            msg = f"badData: broadcast_list must hold 1..{MAX_BROADCAST_RECEIVERS} user ids"
            raise ViberApiError(ViberStatus.BAD_DATA, msg)
        sender = validate_sender(payload)
        kind = validate_message(payload, receiver_api_version=None)
        needed = min_api_version(payload)
        token = self.state.next_token()
        message = {key: value for key, value in payload.items() if key != "broadcast_list"}
        failed: list[dict[str, Any]] = []
        for receiver in receivers:
            state = self.state.users.get(receiver)
            if state is None:
                status, text = ViberStatus.RECEIVER_NOT_REGISTERED, "receiverNotRegistered"
            elif not state.subscribed:
                status, text = ViberStatus.RECEIVER_NOT_SUBSCRIBED, "notSubscribed"
            elif state.user.api_version < needed:
                status, text = ViberStatus.API_VERSION_NOT_SUPPORTED, "apiVersionNotSupported"
            else:
                raw = {**message, "receiver": receiver}
                self.state.store(state, raw, kind, sender, token=token, via="broadcast_message")
                continue
            failed.append({"receiver": receiver, "status": int(status), "status_message": text})
        return {"message_token": token, "failed_list": failed}

    async def get_account_info(self, payload: dict[str, Any]) -> dict[str, Any]:
        digest = hashlib.sha256(self.state.auth_token.encode()).hexdigest()
        return {
            "id": f"pa:{int(digest[:15], 16)}",
            "chat_hostname": self.state.chat_hostname,
            "name": self.state.bot_name,
            "uri": self.state.bot_uri,
            "icon": f"{self.state.base_url}/media/bot-icon.jpg",
            "background": f"{self.state.base_url}/media/bot-background.jpg",
            "category": "Local Businesses",
            "subcategory": "Public Services",
            "location": {"lat": 50.4501, "lon": 30.5234},
            "country": "UA",
            "webhook": (self.state.webhook.url if self.state.webhook else ""),
            "event_types": (
                list(self.state.webhook.event_types or FILTERABLE_EVENTS)
                if self.state.webhook
                else []
            ),
            "subscribers_count": sum(state.subscribed for state in self.state.users.values()),
            "members": [{"id": "01234567890A=", "name": "Admin", "role": "admin"}],
        }

    async def get_user_details(self, payload: dict[str, Any]) -> dict[str, Any]:
        user_id = require_str(payload, "id")
        state = self.state.users.get(user_id)
        if state is None:
            raise ViberApiError(ViberStatus.RECEIVER_NOT_REGISTERED)
        now = time.monotonic()
        requests = state.details_requests
        while requests and now - requests[0] > _USER_DETAILS_WINDOW:
            requests.popleft()
        if (
            self.state.user_details_limit is not None
            and len(requests) >= self.state.user_details_limit
        ):
            raise ViberApiError(ViberStatus.TOO_MANY_REQUESTS)
        requests.append(now)
        user = state.user
        details: dict[str, Any] = {
            "id": user.id,
            "name": user.name,
            "country": user.country,
            "language": user.language,
            "primary_device_os": "Android 14",
            "api_version": user.api_version,
            "viber_version": "24.9.0.0",
            "mcc": 255,
            "mnc": 1,
            "device_type": "Pixel 8",
        }
        if user.avatar is not None:
            details["avatar"] = user.avatar
        return {
            "message_token": self.state.next_token(),
            "chat_hostname": self.state.chat_hostname,
            "user": details,
        }

    async def get_online(self, payload: dict[str, Any]) -> dict[str, Any]:
        ids = payload.get("ids")
        if ids is None:
            raise ViberApiError(ViberStatus.MISSING_DATA, "missingData: ids")
        if (
            not isinstance(ids, list)
            or not 1 <= len(ids) <= _MAX_ONLINE_IDS
            or not all(isinstance(user_id, str) for user_id in ids)
        ):
            msg = f"badData: ids must hold 1..{_MAX_ONLINE_IDS} user ids"
            raise ViberApiError(ViberStatus.BAD_DATA, msg)
        users = []
        for user_id in ids:
            if user_id in self.state.users:
                users.append({"id": user_id, "online_status": 0, "online_status_message": "online"})
            else:
                users.append(
                    {"id": user_id, "online_status": 4, "online_status_message": "unavailable"}
                )
        return {"users": users}

    def accept_welcome(self, event: dict[str, Any], answer: Any) -> SentMessage | None:
        """Accept the welcome message a bot put into its ``conversation_started`` answer."""
        user = event.get("user")
        if not isinstance(answer, dict) or not answer or not isinstance(user, dict):
            return None
        state = self.state.users.get(str(user.get("id")))
        if state is None:
            return None
        try:
            sender = validate_sender(answer)
            kind = validate_message(answer, receiver_api_version=state.user.api_version)
        except ViberApiError as error:
            self.state.calls.append(ApiCall("welcome_message", recorded(answer), error.status))
            return None
        self.state.calls.append(ApiCall("welcome_message", recorded(answer), 0))
        return self.state.store(
            state, answer, kind, sender, token=int(event["message_token"]), via="welcome"
        )
