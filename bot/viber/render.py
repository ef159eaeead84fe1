"""Neutral replies in, Viber send_message payloads out (built with the official SDK's message
classes; sent with aiohttp, never with the SDK's blocking sender)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from viberbot.api.messages import PictureMessage, TextMessage, VideoMessage

from domain.dialog.events import MediaItem, MediaKind
from domain.dialog.replies import Reply, Request

TEXT_LIMIT = 7000
COLUMNS = 6
# share-phone and location-picker buttons exist from this API version on.
REQUEST_API_VERSION = 3

# Where Viber can fetch a media item, and its size in bytes (videos must state it).
MediaUrl = Callable[[MediaItem], Awaitable[tuple[str, int] | None]]


def fit(text: str) -> str:
    return text if len(text) <= TEXT_LIMIT else text[: TEXT_LIMIT - 1] + "…"


def _button(text: str, action_type: str, body: str, columns: int) -> dict[str, Any]:
    return {
        "Columns": columns,
        "Rows": 1,
        "ActionType": action_type,
        "ActionBody": body,
        "Text": text,
        "TextSize": "regular",
        # The action id stays out of the conversation; the resident sees the label only.
        "Silent": True,
    }


def reply_button(label: str, body: str) -> dict[str, Any]:
    """A full-width button that sends `body` back as the resident's message."""
    return _button(label, "reply", body, COLUMNS)


def keyboard(reply: Reply) -> dict[str, Any] | None:
    """Buttons with stable action ids as ActionBody; a row shares the keyboard's six columns."""
    buttons: list[dict[str, Any]] = []
    if reply.request is Request.CONTACT:
        buttons.append(_button(reply.request_label, "share-phone", "share-phone", COLUMNS))
    elif reply.request is Request.LOCATION:
        buttons.append(_button(reply.request_label, "location-picker", "location", COLUMNS))
    for row in reply.buttons:
        columns = max(1, COLUMNS // max(1, len(row)))
        buttons.extend(_button(b.label, "reply", b.action.pack(), columns) for b in row)
    if not buttons:
        return None
    return {
        "Type": "keyboard",
        "DefaultHeight": False,
        "InputFieldState": "regular",
        "Buttons": buttons,
    }


async def render(replies: list[Reply], media_url: MediaUrl) -> list[dict[str, Any]]:
    """Payloads (without receiver and sender) showing the replies; media first, then the text
    with the reply's keyboard. Media that cannot be given a URL is left out."""
    payloads: list[dict[str, Any]] = []
    for reply in replies:
        for item in reply.media:
            located = await media_url(item)
            if located is None:
                continue
            url, size = located
            message = (
                VideoMessage(media=url, size=size)
                if item.kind is MediaKind.VIDEO
                else PictureMessage(media=url, text="")
            )
            payloads.append(_clean(message.to_dict()))
        board = keyboard(reply)
        message_dict = TextMessage(
            text=fit(reply.text),
            keyboard=board,
            min_api_version=REQUEST_API_VERSION if reply.request is not None else None,
        ).to_dict()
        payloads.append(_clean(message_dict))
    return payloads


def _clean(payload: dict[str, Any]) -> dict[str, Any]:
    # The SDK writes unset optional fields as null; the API wants them absent.
    return {key: value for key, value in payload.items() if value is not None}
