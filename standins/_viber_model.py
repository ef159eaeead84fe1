"""Public value types of the stand-in Viber server: people, media, calls, transcripts."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Any

__all__ = [
    "ApiCall",
    "Delivery",
    "MediaFile",
    "SentMessage",
    "ViberApiError",
    "ViberStatus",
    "ViberUser",
]


class ViberStatus(IntEnum):
    """The ``status`` codes of the Viber REST bot API (HTTP stays 200 for all of them)."""

    OK = 0
    INVALID_URL = 1
    INVALID_AUTH_TOKEN = 2
    BAD_DATA = 3
    MISSING_DATA = 4
    RECEIVER_NOT_REGISTERED = 5
    RECEIVER_NOT_SUBSCRIBED = 6
    PUBLIC_ACCOUNT_BLOCKED = 7
    PUBLIC_ACCOUNT_NOT_FOUND = 8
    PUBLIC_ACCOUNT_SUSPENDED = 9
    WEBHOOK_NOT_SET = 10
    RECEIVER_NO_SUITABLE_DEVICE = 11
    TOO_MANY_REQUESTS = 12
    API_VERSION_NOT_SUPPORTED = 13
    INCOMPATIBLE_WITH_VERSION = 14
    PUBLIC_ACCOUNT_NOT_AUTHORIZED = 15
    INCHAT_REPLY_MESSAGE_NOT_ALLOWED = 16
    PUBLIC_ACCOUNT_IS_NOT_INLINE = 17
    NO_PUBLIC_CHAT = 18
    CANNOT_SEND_BROADCAST = 19
    BROADCAST_NOT_ALLOWED = 20

    @property
    def wire_name(self) -> str:
        """The camelCase name Viber's documentation uses, e.g. ``"tooManyRequests"``."""
        head, *rest = self.name.lower().split("_")
        return head + "".join(word.capitalize() for word in rest)


class ViberApiError(Exception):
    """A request the stand-in refuses: answered as ``{"status": ..., "status_message": ...}``."""

    def __init__(self, status: ViberStatus | int, message: str | None = None) -> None:
        self.status = int(status)
        if message is None:
            try:
                message = ViberStatus(self.status).wire_name
            except ValueError:
                message = "generalError"
        self.status_message = message
        super().__init__(f"{self.status} {message}")


@dataclass(frozen=True)
class ViberUser:
    """A simulated Viber user (a resident talking to the bot).

    ``id`` is Viber's opaque per-bot user id (a base64 string such as
    ``"01234567890A="``). ``phone`` is what a ``share-phone`` keyboard button sends.
    ``api_version`` is the highest API version of the user's Viber clients: messages
    with a higher ``min_api_version`` are refused with status 13.
    """

    id: str
    name: str = "Resident"
    language: str = "uk"
    country: str = "UA"
    api_version: int = 10
    phone: str = "+380501112233"
    avatar: str | None = None

    def to_json(self, *, send_name: bool = True, send_photo: bool = True) -> dict[str, Any]:
        """The ``user``/``sender`` object of callbacks.

        The bot only gets the name (and the avatar) if it asked for them in
        ``set_webhook`` (``send_name``/``send_photo``), as on Viber.
        """
        data: dict[str, Any] = {"id": self.id}
        if send_name:
            data["name"] = self.name
        if send_photo and self.avatar is not None:
            data["avatar"] = self.avatar
        data.update(language=self.language, country=self.country, api_version=self.api_version)
        return data


@dataclass(frozen=True)
class MediaFile:
    """A file the stand-in serves at :attr:`url` (``GET /media/<name>``).

    Residents' pictures, videos and files point at these, as Viber's media URLs point
    at its CDN. ``status`` other than 200 makes the download fail (an expired link is
    404 on Viber); the body is then a short error text.
    """

    name: str
    content: bytes
    content_type: str
    status: int
    url: str

    @property
    def size(self) -> int:
        """Length of :attr:`content` in bytes."""
        return len(self.content)


@dataclass(frozen=True)
class ApiCall:
    """One REST API request the bot made, recorded when answered.

    ``payload`` is the parsed JSON body without ``auth_token`` (``None`` if the body was
    not a JSON object). ``status`` is the Viber status the stand-in answered (0 is
    success), ``None`` when it answered with an HTTP error instead (see
    :meth:`ViberStandIn.fail`); ``http_status`` is the HTTP status.
    """

    method: str
    payload: dict[str, Any] | None
    status: int | None
    http_status: int = 200

    @property
    def ok(self) -> bool:
        """Whether the call succeeded (HTTP 200 and status 0)."""
        return self.http_status == 200 and self.status == 0


@dataclass(frozen=True)
class Delivery:
    """The outcome of POSTing one callback to the bot's webhook.

    ``body`` is the exact bytes that were sent (what the signature covers). ``status``
    is the HTTP status of the bot's answer, or ``None`` if Viber would not have sent
    the event at all (``delivered=False``: the bot left its type out of
    ``event_types``). ``answer`` is the bot's answer parsed as JSON, or ``None`` when
    it was empty or not JSON; ``answer_text`` is the raw answer. ``welcome`` is the
    welcome message the bot put into its answer to ``conversation_started``, if any.
    """

    event: dict[str, Any]
    body: bytes
    status: int | None
    answer: Any = None
    answer_text: str = ""
    delivered: bool = True
    welcome: SentMessage | None = None

    @property
    def message_token(self) -> int | None:
        """The callback's ``message_token`` (``None`` for events without one)."""
        token = self.event.get("message_token")
        return int(token) if token is not None else None

    @property
    def ok(self) -> bool:
        """Whether the bot accepted the callback: delivered and answered HTTP 200."""
        return self.delivered and self.status == 200


@dataclass
class SentMessage:
    """A message the bot sent to one user (by ``send_message``, ``broadcast_message``
    or as the welcome message answering ``conversation_started``).

    ``type`` is the message type (``"text"``, ``"picture"``, ``"video"``, ``"file"``,
    ``"location"``, ``"contact"``, ``"sticker"``, ``"url"``, ``"rich_media"``), or
    ``"keyboard"`` for a keyboard sent on its own. ``keyboard`` is the keyboard
    object as sent; the user sees it until the bot's next message replaces it.
    ``raw`` is the request payload (``auth_token`` left out; for broadcasts,
    ``broadcast_list`` left out and ``receiver`` set).
    """

    message_token: int
    receiver: str
    type: str
    text: str | None
    media: str | None
    keyboard: dict[str, Any] | None
    tracking_data: str | None
    sender: dict[str, Any]
    min_api_version: int
    raw: dict[str, Any]
    via: str = "send_message"
    """``"send_message"``, ``"broadcast_message"`` or ``"welcome"``."""

    def buttons(self) -> list[tuple[str, str, str]]:
        """The keyboard's buttons as ``(Text, ActionType, ActionBody)``, in order.

        ``ActionType`` defaults to ``"reply"`` and ``Text`` to ``""`` as on Viber.
        """
        if not self.keyboard:
            return []
        return [
            (
                str(button.get("Text", "")),
                str(button.get("ActionType", "reply")),
                str(button.get("ActionBody", "")),
            )
            for button in self.keyboard.get("Buttons") or []
            if isinstance(button, dict)
        ]

    def button(self, action_body: str) -> dict[str, Any] | None:
        """The keyboard button with this ``ActionBody`` (the first one), if any."""
        for button in (self.keyboard or {}).get("Buttons") or []:
            if isinstance(button, dict) and button.get("ActionBody") == action_body:
                return button
        return None

    @property
    def location(self) -> tuple[float, float] | None:
        """``(lat, lon)`` of a location message."""
        location = self.raw.get("location")
        if self.type != "location" or not isinstance(location, dict):
            return None
        return float(location["lat"]), float(location["lon"])

    @property
    def contact(self) -> dict[str, Any] | None:
        """``{"name", "phone_number"}`` of a contact message."""
        contact = self.raw.get("contact")
        return contact if self.type == "contact" and isinstance(contact, dict) else None

    @property
    def file_name(self) -> str | None:
        """``file_name`` of a file message."""
        name = self.raw.get("file_name")
        return name if isinstance(name, str) else None

    @property
    def sticker_id(self) -> int | None:
        """``sticker_id`` of a sticker message."""
        sticker_id = self.raw.get("sticker_id")
        return sticker_id if isinstance(sticker_id, int) else None

    @property
    def size(self) -> int | None:
        """``size`` in bytes of a video or file message."""
        size = self.raw.get("size")
        return size if isinstance(size, int) else None
