"""Validation of what the bot sends to the stand-in Viber server.

Pure functions over parsed JSON that raise :class:`ViberApiError` with Viber's status
codes: 4 ``missingData`` when a mandatory field is absent, 3 ``badData`` when a field is
present but wrong (type, length, range), 13 ``apiVersionNotSupported`` when the
receiver's clients are older than the message's ``min_api_version``. Limits are the
documented ones of the REST bot API.
"""

from __future__ import annotations

import math
from typing import Any, TypeGuard

from standins._viber_model import ViberApiError, ViberStatus

__all__ = [
    "ACTION_TYPES",
    "FILTERABLE_EVENTS",
    "MAX_BODY_BYTES",
    "MAX_BROADCAST_RECEIVERS",
    "MAX_TEXT_LENGTH",
    "MAX_TRACKING_DATA_LENGTH",
    "MESSAGE_TYPES",
    "min_api_version",
    "require_str",
    "validate_keyboard",
    "validate_message",
    "validate_sender",
]

MAX_BODY_BYTES = 30 * 1024
"""Viber refuses request bodies over 30 KB."""
MAX_TEXT_LENGTH = 7000
MAX_TRACKING_DATA_LENGTH = 4000
MAX_SENDER_NAME_LENGTH = 28
MAX_PICTURE_TEXT_LENGTH = 768
MAX_URL_LENGTH = 2000
MAX_VIDEO_SIZE = 26 * 1024 * 1024
MAX_VIDEO_DURATION = 180
MAX_FILE_SIZE = 50 * 1024 * 1024
MAX_FILE_NAME_LENGTH = 256
MAX_CONTACT_NAME_LENGTH = 28
MAX_CONTACT_PHONE_LENGTH = 18
MAX_BROADCAST_RECEIVERS = 300

MESSAGE_TYPES = frozenset(
    {"text", "picture", "video", "file", "location", "contact", "sticker", "url", "rich_media"}
)
ACTION_TYPES = frozenset({"reply", "open-url", "location-picker", "share-phone", "none"})
# Buttons that need clients of API version 3 or later.
_API_3_ACTIONS = frozenset({"location-picker", "share-phone"})
FILTERABLE_EVENTS = (
    "delivered",
    "seen",
    "failed",
    "subscribed",
    "unsubscribed",
    "conversation_started",
)
"""The ``event_types`` ``set_webhook`` accepts (``message`` cannot be filtered out)."""


def _bad(message: str) -> ViberApiError:
    return ViberApiError(ViberStatus.BAD_DATA, f"badData: {message}")


def _missing(message: str) -> ViberApiError:
    return ViberApiError(ViberStatus.MISSING_DATA, f"missingData: {message}")


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> TypeGuard[int | float]:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return math.isfinite(value)


def require_str(payload: dict[str, Any], key: str, *, max_length: int | None = None) -> str:
    """``payload[key]`` as a non-empty string (4 if absent, 3 if wrong or too long)."""
    value = payload.get(key)
    if value is None:
        raise _missing(f"{key} is required")
    if not isinstance(value, str) or not value:
        raise _bad(f"{key} must be a non-empty string")
    if max_length is not None and len(value) > max_length:
        raise _bad(f"{key} is longer than {max_length} characters ({len(value)})")
    return value


def _optional_str(payload: dict[str, Any], key: str, *, max_length: int) -> str | None:
    value = payload.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise _bad(f"{key} must be a string")
    if len(value) > max_length:
        raise _bad(f"{key} is longer than {max_length} characters ({len(value)})")
    return value


def _url(payload: dict[str, Any], key: str, *, required: bool) -> None:
    value = payload.get(key)
    if value is None:
        if required:
            raise _missing(f"{key} is required")
        return
    if not isinstance(value, str) or not value.startswith(("http://", "https://")):
        raise _bad(f"{key} must be an http(s) URL")
    if len(value) > MAX_URL_LENGTH:
        raise _bad(f"{key} is longer than {MAX_URL_LENGTH} characters")


def _size(payload: dict[str, Any], key: str, *, limit: int, required: bool) -> None:
    value = payload.get(key)
    if value is None:
        if required:
            raise _missing(f"{key} is required")
        return
    if not _is_int(value) or not 0 < value <= limit:
        raise _bad(f"{key} must be an integer in 1..{limit}")


def min_api_version(payload: dict[str, Any]) -> int:
    """The message's ``min_api_version`` (1 when absent; 3 if not a positive integer)."""
    value = payload.get("min_api_version", 1)
    if isinstance(value, str) and value.isdigit():
        value = int(value)  # Viber takes the number as a string, too
    if not _is_int(value) or value < 1:
        raise _bad("min_api_version must be a positive integer")
    return int(value)


def validate_sender(payload: dict[str, Any]) -> dict[str, Any]:
    """``sender`` must carry a name of at most 28 characters; ``avatar`` is optional."""
    sender = payload.get("sender")
    if sender is None:
        raise _missing("sender is required")
    if not isinstance(sender, dict):
        raise _bad("sender must be an object")
    require_str(sender, "name", max_length=MAX_SENDER_NAME_LENGTH)
    avatar = sender.get("avatar")
    if avatar is not None and not isinstance(avatar, str):
        raise _bad("sender.avatar must be a URL")
    return sender


def validate_keyboard(keyboard: object, api_version: int) -> None:
    """Check a keyboard object as Viber does for ``send_message``.

    ``Type`` must be ``"keyboard"``; ``Buttons`` a non-empty list (the count is not
    capped: Viber's 24 is not enforced by all clients); each button needs a non-empty
    ``ActionBody``, ``Columns`` 1..6, ``Rows`` 1..2 and a known ``ActionType``;
    ``location-picker``/``share-phone`` need ``min_api_version`` 3.
    """
    if not isinstance(keyboard, dict):
        raise _bad("keyboard must be an object")
    if keyboard.get("Type") != "keyboard":
        raise _bad("keyboard.Type must be 'keyboard'")
    buttons = keyboard.get("Buttons")
    if not isinstance(buttons, list) or not buttons:
        raise _bad("keyboard.Buttons must be a non-empty list")
    state = keyboard.get("InputFieldState")
    if state is not None and state not in {"regular", "minimized", "hidden"}:
        raise _bad(f"keyboard.InputFieldState {state!r} is not regular|minimized|hidden")
    for index, button in enumerate(buttons):
        where = f"keyboard.Buttons[{index}]"
        if not isinstance(button, dict):
            raise _bad(f"{where} must be an object")
        columns = button.get("Columns", 6)
        if not _is_int(columns) or not 1 <= columns <= 6:
            raise _bad(f"{where}.Columns must be 1..6, got {columns!r}")
        rows = button.get("Rows", 1)
        if not _is_int(rows) or not 1 <= rows <= 2:
            raise _bad(f"{where}.Rows must be 1..2, got {rows!r}")
        action_type = button.get("ActionType", "reply")
        if action_type not in ACTION_TYPES:
            raise _bad(f"{where}.ActionType {action_type!r} is not one of {sorted(ACTION_TYPES)}")
        body = button.get("ActionBody")
        if not isinstance(body, str) or not body:
            raise _bad(f"{where}.ActionBody is required and must be a non-empty string")
        text = button.get("Text")
        if text is not None and not isinstance(text, str):
            raise _bad(f"{where}.Text must be a string")
        if action_type in _API_3_ACTIONS and api_version < 3:
            raise _bad(f"{where}: ActionType {action_type!r} requires min_api_version 3")


def _validate_content(kind: str, payload: dict[str, Any]) -> None:
    if kind == "text":
        require_str(payload, "text", max_length=MAX_TEXT_LENGTH)
    elif kind == "picture":
        _url(payload, "media", required=True)
        _url(payload, "thumbnail", required=False)
        _optional_str(payload, "text", max_length=MAX_PICTURE_TEXT_LENGTH)
    elif kind == "video":
        _url(payload, "media", required=True)
        _url(payload, "thumbnail", required=False)
        _size(payload, "size", limit=MAX_VIDEO_SIZE, required=True)
        _size(payload, "duration", limit=MAX_VIDEO_DURATION, required=False)
    elif kind == "file":
        _url(payload, "media", required=True)
        _size(payload, "size", limit=MAX_FILE_SIZE, required=True)
        require_str(payload, "file_name", max_length=MAX_FILE_NAME_LENGTH)
    elif kind == "location":
        location = payload.get("location")
        if location is None:
            raise _missing("location is required")
        if not isinstance(location, dict):
            raise _bad("location must be an object with lat and lon")
        lat, lon = location.get("lat"), location.get("lon")
        if not _is_number(lat) or not _is_number(lon):
            raise _bad("location.lat and location.lon must be numbers")
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise _bad("location is out of range")
    elif kind == "contact":
        contact = payload.get("contact")
        if contact is None:
            raise _missing("contact is required")
        if not isinstance(contact, dict):
            raise _bad("contact must be an object with name and phone_number")
        require_str(contact, "name", max_length=MAX_CONTACT_NAME_LENGTH)
        require_str(contact, "phone_number", max_length=MAX_CONTACT_PHONE_LENGTH)
    elif kind == "sticker":
        sticker_id = payload.get("sticker_id")
        if sticker_id is None:
            raise _missing("sticker_id is required")
        if not _is_int(sticker_id):
            raise _bad("sticker_id must be an integer")
    elif kind == "url":
        _url(payload, "media", required=True)
    elif kind == "rich_media":
        rich_media = payload.get("rich_media")
        if rich_media is None:
            raise _missing("rich_media is required")
        if not isinstance(rich_media, dict) or not isinstance(rich_media.get("Buttons"), list):
            raise _bad("rich_media must be an object with Buttons")


def validate_message(payload: dict[str, Any], *, receiver_api_version: int | None) -> str:
    """Validate the message part of ``send_message``/``broadcast_message``/a welcome
    message and return its type (``"keyboard"`` for a keyboard sent on its own).

    ``receiver_api_version`` is the receiver's client API version (``None`` skips the
    check, as for broadcasts where it is checked per receiver).
    """
    api_version = min_api_version(payload)
    if receiver_api_version is not None and receiver_api_version < api_version:
        raise ViberApiError(
            ViberStatus.API_VERSION_NOT_SUPPORTED,
            f"apiVersionNotSupported: the receiver's clients support API version "
            f"{receiver_api_version}, the message needs {api_version}",
        )
    tracking = payload.get("tracking_data")
    if tracking is not None:
        if not isinstance(tracking, str):
            raise _bad("tracking_data must be a string")
        if len(tracking) > MAX_TRACKING_DATA_LENGTH:
            raise _bad(
                f"tracking_data is longer than {MAX_TRACKING_DATA_LENGTH} characters "
                f"({len(tracking)})"
            )
    keyboard = payload.get("keyboard")
    if keyboard is not None:
        validate_keyboard(keyboard, api_version)
    kind = payload.get("type")
    if kind is None or kind == "keyboard":
        # A keyboard may be sent on its own, without a message type.
        if keyboard is None:
            raise _missing("type is required")
        return "keyboard"
    if kind not in MESSAGE_TYPES:
        raise _bad(f"unknown message type {kind!r}")
    _validate_content(str(kind), payload)
    return str(kind)
