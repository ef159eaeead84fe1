"""The Bot API wire format, as the stand-in Telegram server reads and answers it.

Bot API clients send every parameter as a form field (``multipart/form-data`` when
files are attached, ``application/x-www-form-urlencoded`` otherwise) or as one JSON
object. In form encodings the *type* of a parameter is not on the wire: aiogram sends
strings verbatim and JSON-encodes everything else (``5``, ``false``, ``{"inline_keyboard":
...}``), so a text of ``"123"`` and a chat id of ``123`` look the same. Like the real
server, we therefore decode by parameter name (see the ``*_FIELDS`` tables) instead of
guessing from the value.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import BodyPartReader, MultipartReader, hdrs, web

__all__ = [
    "ApiError",
    "Upload",
    "bad_request",
    "decode_params",
    "describe",
    "error_payload",
    "read_multipart",
    "read_request",
]

# Parameters whose form value is a JSON document.
JSON_FIELDS = frozenset(
    {
        "allowed_updates",
        "caption_entities",
        "commands",
        "entities",
        "link_preview_options",
        "media",
        "message_ids",
        "reply_markup",
        "reply_parameters",
        "scope",
    }
)
# Chat identifiers are integers or "@username" strings.
CHAT_ID_FIELDS = frozenset({"chat_id", "from_chat_id"})
INT_FIELDS = frozenset(
    {
        "cache_time",
        "direct_messages_topic_id",
        "duration",
        "heading",
        "height",
        "icon_color",
        "limit",
        "live_period",
        "max_connections",
        "message_id",
        "message_thread_id",
        "offset",
        "proximity_alert_radius",
        "reply_to_message_id",
        "timeout",
        "user_id",
        "width",
    }
)
FLOAT_FIELDS = frozenset({"horizontal_accuracy", "latitude", "longitude"})
BOOL_FIELDS = frozenset(
    {
        "allow_paid_broadcast",
        "allow_sending_without_reply",
        "disable_content_type_detection",
        "disable_notification",
        "disable_web_page_preview",
        "drop_pending_updates",
        "has_spoiler",
        "protect_content",
        "show_alert",
        "show_caption_above_media",
        "supports_streaming",
    }
)
# Parameters that carry a file: an upload, a file_id or an HTTP URL.
FILE_FIELDS = frozenset({"animation", "audio", "document", "photo", "sticker", "video", "voice"})

_ATTACH = "attach://"
_CHAT_USERNAME = re.compile(r"^@[A-Za-z][A-Za-z0-9_]{3,31}$")

# Telegram's own wording for JSON parameters it cannot parse.
_JSON_ERRORS = {
    "reply_markup": "can't parse reply keyboard markup JSON object",
    "entities": "can't parse entities JSON object",
    "caption_entities": "can't parse entities JSON object",
    "media": "can't parse media JSON object",
    "reply_parameters": "can't parse reply parameters JSON object",
}


class ApiError(Exception):
    """A Bot API error answer: ``{"ok": false, "error_code": ..., "description": ...}``.

    Raised anywhere inside a method handler; the HTTP layer turns it into the response
    (the HTTP status equals ``code``, as with the real server).
    """

    def __init__(self, code: int, description: str, *, retry_after: int | None = None) -> None:
        super().__init__(f"{code}: {description}")
        self.code = code
        self.description = description
        self.retry_after = retry_after


def bad_request(reason: str) -> ApiError:
    """A 400 error worded like Telegram's: ``Bad Request: <reason>``."""
    return ApiError(400, f"Bad Request: {reason}")


def error_payload(error: ApiError) -> dict[str, Any]:
    """The JSON body Telegram answers for ``error``."""
    payload: dict[str, Any] = {
        "ok": False,
        "error_code": error.code,
        "description": error.description,
    }
    if error.retry_after is not None:
        payload["parameters"] = {"retry_after": error.retry_after}
    return payload


@dataclass(frozen=True)
class Upload:
    """A file the bot uploaded in a multipart part."""

    filename: str
    data: bytes
    content_type: str

    def describe(self) -> dict[str, Any]:
        """How uploads appear in recorded calls and transcripts."""
        return {"upload": self.filename, "size": len(self.data)}


def describe(value: Any) -> Any:
    """``value`` with every :class:`Upload` replaced by its JSON-friendly description."""
    if isinstance(value, Upload):
        return value.describe()
    if isinstance(value, dict):
        return {key: describe(item) for key, item in value.items()}
    if isinstance(value, list):
        return [describe(item) for item in value]
    return value


async def read_multipart(
    reader: MultipartReader,
) -> tuple[dict[str, Any], dict[str, Upload]]:
    """Split a multipart body into plain fields and uploaded files (parts with a filename)."""
    fields: dict[str, Any] = {}
    uploads: dict[str, Upload] = {}
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader) or part.name is None:
            continue  # nested multiparts and anonymous parts mean nothing to the Bot API
        data = bytes(await part.read(decode=True))
        if part.filename is not None:
            content_type = part.headers.get(hdrs.CONTENT_TYPE, "application/octet-stream")
            uploads[part.name] = Upload(part.filename, data, content_type)
        else:
            fields[part.name] = data.decode(part.get_charset("utf-8"))
    return fields, uploads


async def read_request(request: web.Request) -> tuple[dict[str, Any], dict[str, Upload]]:
    """Collect the raw parameters of a Bot API request.

    Like the real server we accept the query string, urlencoded and multipart forms and
    JSON bodies; body fields win over query fields.
    """
    fields: dict[str, Any] = dict(request.query)
    uploads: dict[str, Upload] = {}
    if not request.body_exists:
        return fields, uploads
    if request.content_type == "application/json":
        try:
            body = await request.json()
        except ValueError as exc:
            raise bad_request("can't parse JSON encoded request") from exc
        if not isinstance(body, dict):
            raise bad_request("can't parse JSON encoded request")
        fields.update(body)
    elif request.content_type.startswith("multipart/"):
        body_fields, uploads = await read_multipart(await request.multipart())
        fields.update(body_fields)
    else:
        form = await request.post()
        fields.update({key: value for key, value in form.items() if isinstance(value, str)})
    return fields, uploads


def _decode_bool(value: str) -> bool:
    # The Bot API server treats exactly "true" and "1" as true; anything else is false.
    return value.lower() in {"true", "1"}


def _decode_field(name: str, value: Any) -> Any:
    """Convert one form value to its Python type according to the parameter's name."""
    if not isinstance(value, str):
        return value  # already typed: the request was a JSON body
    if name in JSON_FIELDS:
        try:
            return json.loads(value)
        except ValueError as exc:
            raise bad_request(_JSON_ERRORS.get(name, f"can't parse {name} JSON object")) from exc
    if name in CHAT_ID_FIELDS:
        if _CHAT_USERNAME.match(value):
            return value
        try:
            return int(value)
        except ValueError:
            raise bad_request("chat not found") from None
    if name in INT_FIELDS:
        try:
            return int(value)
        except ValueError:
            raise bad_request(f'field "{name}" must be of type Integer') from None
    if name in FLOAT_FIELDS:
        try:
            return float(value)
        except ValueError:
            raise bad_request(f'field "{name}" must be of type Float') from None
    if name in BOOL_FIELDS:
        return _decode_bool(value)
    return value


def _resolve_file(value: Any, uploads: Mapping[str, Upload], *, in_media: bool) -> Any:
    """Replace an ``attach://<part>`` reference with the uploaded part."""
    if isinstance(value, str) and value.startswith(_ATTACH):
        upload = uploads.get(value[len(_ATTACH) :])
        if upload is None:
            if in_media:
                raise bad_request("can't parse InputMedia: media not found")
            raise bad_request("wrong file identifier/HTTP URL specified")
        return upload
    return value


def _resolve_media_item(item: Any, uploads: Mapping[str, Upload]) -> Any:
    if not isinstance(item, dict):
        return item  # the handler rejects malformed items with Telegram's wording
    resolved = dict(item)
    for key in ("media", "thumbnail"):
        if key in resolved:
            resolved[key] = _resolve_file(resolved[key], uploads, in_media=True)
    return resolved


def decode_params(raw: Mapping[str, Any], uploads: Mapping[str, Upload]) -> dict[str, Any]:
    """Typed parameters of a request: JSON decoded, numbers parsed, files resolved.

    Files end up as :class:`Upload` objects wherever the request referenced them, either
    via ``attach://<part>`` or by a part named like the parameter itself (both are legal
    Bot API; aiogram always uses ``attach://`` with a random part name).
    """
    params = {name: _decode_field(name, value) for name, value in raw.items()}
    for name in FILE_FIELDS | {"thumbnail"}:
        if name in params:
            params[name] = _resolve_file(params[name], uploads, in_media=False)
        elif name in uploads:
            params[name] = uploads[name]
    media = params.get("media")
    if isinstance(media, list):
        params["media"] = [_resolve_media_item(item, uploads) for item in media]
    elif isinstance(media, dict):
        params["media"] = _resolve_media_item(media, uploads)
    return params
