"""The mutable world behind the stand-in Viber server: users, media, the webhook, faults,
and the record of calls and callbacks.

Everything lives in one :class:`ViberState` per server (no module globals), so any number
of stand-ins can run side by side; the state is only touched from the server's event loop,
and waiters are woken through :class:`Signal`.
"""

from __future__ import annotations

import itertools
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from standins._common import Signal
from standins._viber_model import ApiCall, Delivery, MediaFile, SentMessage, ViberUser
from standins._viber_validate import min_api_version

__all__ = ["Fault", "UserState", "ViberState", "Webhook", "now_ms", "recorded"]

# Events a bot cannot filter out with set_webhook's event_types.
_MANDATORY_EVENTS = frozenset({"message", "subscribed", "unsubscribed", "webhook"})
# Viber message tokens are 64-bit integers; start high so they look the part.
_FIRST_MESSAGE_TOKEN = 5_491_000_000_000_000_000


@dataclass(frozen=True)
class Fault:
    status: int
    http_status: int


@dataclass(frozen=True)
class Webhook:
    url: str
    event_types: tuple[str, ...] | None
    """``None``: every event (the bot passed no ``event_types``)."""
    send_name: bool
    send_photo: bool

    def wants(self, event: str) -> bool:
        return self.event_types is None or event in _MANDATORY_EVENTS or event in self.event_types


@dataclass
class UserState:
    user: ViberUser
    subscribed: bool = False
    sent: list[SentMessage] = field(default_factory=list)
    history: list[dict[str, Any]] = field(default_factory=list)
    details_requests: deque[float] = field(default_factory=deque)


def now_ms() -> int:
    return int(time.time() * 1000)


def recorded(payload: dict[str, Any]) -> dict[str, Any]:
    """A request as the record keeps it: without the auth token."""
    return {key: value for key, value in payload.items() if key != "auth_token"}


class ViberState:
    """One stand-in's world; the public surface is :class:`standins.viber.ViberStandIn`."""

    def __init__(self, auth_token: str, bot_name: str) -> None:
        self.auth_token = auth_token
        self.bot_name = bot_name
        self.bot_uri = "".join(ch for ch in bot_name.lower() if ch.isalnum()) or "bot"
        self.base_url = ""
        self.chat_hostname = "SN-STANDIN-01_"
        self.user_details_limit: int | None = 2
        self.calls: list[ApiCall] = []
        self.deliveries: list[Delivery] = []
        self.users: dict[str, UserState] = {}
        self.media: dict[str, MediaFile] = {}
        self.webhook: Webhook | None = None
        self.faults: dict[str, deque[Fault]] = {}
        self.changed = Signal()
        self._tokens = itertools.count(_FIRST_MESSAGE_TOKEN + 1)
        self.user_numbers = itertools.count(1)
        self.media_numbers = itertools.count(1)

    def next_token(self) -> int:
        return next(self._tokens)

    def next_fault(self, method: str) -> Fault | None:
        queue = self.faults.get(method)
        return queue.popleft() if queue else None

    def state(self, user: ViberUser) -> UserState:
        """The state of ``user``, registering (or updating) their profile."""
        state = self.users.get(user.id)
        if state is None:
            state = self.users[user.id] = UserState(user)
        elif state.user != user:
            state.user = user
        return state

    def user_json(self, user: ViberUser) -> dict[str, Any]:
        webhook = self.webhook
        return user.to_json(
            send_name=webhook is not None and webhook.send_name,
            send_photo=webhook is not None and webhook.send_photo,
        )

    def store(
        self,
        state: UserState,
        payload: dict[str, Any],
        kind: str,
        sender: dict[str, Any],
        *,
        token: int,
        via: str,
    ) -> SentMessage:
        """Keep a message the bot sent in the user's transcript."""
        raw = recorded(payload)
        text = raw.get("text")
        media = raw.get("media")
        keyboard = raw.get("keyboard")
        tracking = raw.get("tracking_data")
        sent = SentMessage(
            message_token=token,
            receiver=state.user.id,
            type=kind,
            text=text if isinstance(text, str) else None,
            media=media if isinstance(media, str) else None,
            keyboard=keyboard if isinstance(keyboard, dict) else None,
            tracking_data=tracking if isinstance(tracking, str) else None,
            sender=sender,
            min_api_version=min_api_version(raw),
            raw=raw,
            via=via,
        )
        state.sent.append(sent)
        state.history.append(
            {"from": "bot", "message_token": token, "timestamp": now_ms(), "message": raw}
        )
        self.changed.notify()
        return sent
